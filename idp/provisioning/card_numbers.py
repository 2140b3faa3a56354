"""Campus card numbers: 12 digits, the last a Damm check digit (pure; no storage).

Why 12 digits: 11 digits carry the number and one checks it. The first digit is never 0, so a
number survives a spreadsheet or a library system that stores it as an integer, and it cannot
be mistaken for the nine-digit campus id (which has a Luhn check digit). That leaves
9 * 10**10 numbers: at a consortium's scale (millions of cards over decades) a random draw
collides with an issued number about once in ten thousand draws, and a collision only means
drawing again. Twelve digits are six symbols of Code 128's set C, a short barcode, and fit
Koha's ``cardnumber`` and SCIM's ``employeeNumber`` as they are.

Why Damm: its table is a totally anti-symmetric quasigroup of order 10, so the check digit
catches every single wrong digit and every swap of two neighbouring digits (Luhn misses
09 <-> 90). H. Michael Damm, "Total anti-symmetrische Quasigruppen", 2004.
"""

from __future__ import annotations

import secrets

LENGTH = 12
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_SEPARATORS = " -\u00a0"


def damm_digit(digits: str) -> str:
    """The check digit of a string of ASCII digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def damm_valid(digits: str) -> bool:
    """Whether the last digit is the Damm check digit of the others."""
    return len(digits) > 1 and damm_digit(digits) == "0"


def new_number() -> str:
    """A random number: a first digit 1-9, ten random digits, the check digit."""
    body = str(1 + secrets.randbelow(9)) + "".join(str(secrets.randbelow(10)) for _ in range(10))
    return body + damm_digit(body)


def check_card_number(text: str) -> tuple[str | None, str | None]:
    """``(number, None)`` for a valid card number as typed (spaces and dashes allowed, e.g.
    ``1234 5678 9012``), else ``(None, what is wrong)``."""
    cleaned = "".join(ch for ch in text.strip() if ch not in _SEPARATORS)
    if not cleaned:
        return None, "No card number was given."
    if not (cleaned.isascii() and cleaned.isdigit()):
        return None, "A card number has digits only (spaces and dashes may separate them)."
    if len(cleaned) != LENGTH:
        return None, f"A card number has {LENGTH} digits; this has {len(cleaned)}."
    if cleaned[0] == "0":
        return None, "A card number never starts with 0."
    if not damm_valid(cleaned):
        return None, ("The check digit does not match: a digit was mistyped or two "
                      "neighbouring digits were swapped.")
    return cleaned, None


def grouped(number: str) -> str:
    """As printed on the card: ``1234 5678 9012``."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
