"""Base45 decoding (RFC 9285): the text of a pass uses only the QR code's alphanumeric set."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def b45decode(text: str) -> bytes:
    """The bytes ``text`` encodes; ``ValueError`` for a character outside the alphabet, a
    dangling single character or a group whose value does not fit its bytes (RFC 9285 4.2)."""
    try:
        values = [_VALUE[c] for c in text]
    except KeyError:
        raise ValueError("not Base45") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i:i + 3]
        if len(group) == 1:
            raise ValueError("not Base45: a dangling character")
        n = sum(v * 45 ** k for k, v in enumerate(group))
        if len(group) == 3:
            if n > 0xFFFF:
                raise ValueError("not Base45: a group over 65535")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise ValueError("not Base45: a pair over 255")
            out.append(n)
    return bytes(out)


def b45encode(data: bytes) -> str:
    """Base45 of ``data`` (the provider has its own copy; this one serves tests and tools)."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += [ALPHABET[c], ALPHABET[d], ALPHABET[e]]
    if len(data) % 2:
        out += [ALPHABET[data[-1] % 45], ALPHABET[data[-1] // 45]]
    return "".join(out)
