"""Error descriptions that repeat what a client sent, made fit to send (RFC 6749 5.2).

An ``error_description`` may hold only the characters %x20-21 / %x23-5B / %x5D-7E, and
Authlib's errors refuse any other with a ``ValueError`` (which became a 500). Whatever else a
client's value holds (a quote, a backslash, a control character, a Cyrillic letter) is shown
percent-encoded instead: still readable, and what was sent can be told.
"""

from __future__ import annotations

from urllib.parse import quote

_ALLOWED = frozenset(chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))


def description(text: str) -> str:
    """``text`` with every character an error_description may not hold percent-encoded."""
    return "".join(c if c in _ALLOWED else quote(c, safe="", errors="surrogatepass") for c in text)
