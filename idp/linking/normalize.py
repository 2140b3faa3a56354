"""Pure normalisation of the values linking rules compare: SNILS, names, dates.

Directories write the same fact in many ways (``123-456-789 01`` and ``12345678901``,
``Ёлкина`` and ``ЕЛКИНА``, ``30.09.1994`` and ``19940930000000Z``); two values match only in
their normal form. A malformed value is a typed ``Invalid`` result, never an exception: a
broken directory entry must not break the person's login. An ``Invalid`` reason never
repeats the value, so it may be logged and audited.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Valid:
    value: str


@dataclass(frozen=True)
class Invalid:
    reason: str  # says what is wrong, without the value


Normalized = Valid | Invalid

_DIGITS = frozenset("0123456789")
# What people and HR systems put between the digit groups of a SNILS.
_SNILS_SEPARATORS = frozenset(" \u00a0\u2009\u202f-\u2010\u2011\u2012\u2013\u2014")
SNILS_UNCHECKED_MAX = 1_001_998  # numbers up to 001-001-998 were issued without a check number


def snils(raw: str) -> Normalized:
    """Eleven digits, the last two the check number of the first nine.

    The check number (Pension Fund of Russia rules): the digits weighted 9..1 from the left
    and summed; below 100 the sum itself, 100 or 101 give 00, above 101 the sum modulo 101
    (where 100 again gives 00). It is checked only above 001-001-998. Zero is a placeholder,
    not a number, and never matches anyone.
    """
    digits = []
    for ch in raw.strip():
        if ch in _DIGITS:
            digits.append(ch)
        elif ch not in _SNILS_SEPARATORS:
            return Invalid("snils: characters other than digits and separators")
    if len(digits) != 11:
        return Invalid(f"snils: {len(digits)} digits, not 11")
    value = "".join(digits)
    number = int(value[:9])
    if number == 0:
        return Invalid("snils: a placeholder of zeros")
    if number > SNILS_UNCHECKED_MAX and value[9:] != snils_check_number(value[:9]):
        return Invalid("snils: the check number does not match")
    return Valid(value)


def snils_check_number(first_nine: str) -> str:
    """The two check digits of a SNILS whose first nine digits are given."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(9, 0, -1), strict=True))
    if total < 100:
        return f"{total:02d}"
    if total in (100, 101):
        return "00"
    return f"{total % 101 % 100:02d}"


_SPACES = re.compile(r"\s+")


def name(raw: str) -> Normalized:
    """Unicode NFC, case-folded, ё read as е, spaces around dropped and inside collapsed."""
    text = unicodedata.normalize("NFC", raw).casefold()
    text = unicodedata.normalize("NFC", text).replace("ё", "е")
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return Invalid("name: empty")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        return Invalid("name: control or unassigned characters")
    return Valid(text)


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
# RFC 4517 section 3.3.13: YYYYMMDD, then optional hours, minutes, seconds, fraction, zone.
_GENERALIZED_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{2}(?:\d{2}(?:\d{2})?)?(?:[.,]\d+)?)?"
                               r"(?:Z|[+-]\d{2}(?:\d{2})?)?")


def birthdate(raw: str) -> Normalized:
    """ISO ``YYYY-MM-DD`` from what directories write: ISO (a time after it ignored),
    ``DD.MM.YYYY``, or LDAP GeneralizedTime (``19940930`` or ``19940930000000Z``).

    A GeneralizedTime keeps the calendar date as written: a birth date is a date, not an
    instant, so no time zone conversion moves it to another day.
    """
    text = raw.strip()
    if m := _ISO.fullmatch(text):
        year, month, day = m.group(1), m.group(2), m.group(3)
    elif m := _DOTTED.fullmatch(text):
        day, month, year = m.group(1), m.group(2), m.group(3)
    elif m := _GENERALIZED_TIME.fullmatch(text):
        year, month, day = m.group(1), m.group(2), m.group(3)
    else:
        return Invalid("birthdate: not YYYY-MM-DD, DD.MM.YYYY or GeneralizedTime")
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        return Invalid("birthdate: no such calendar date")
    return Valid(parsed.isoformat())


Normalizer = Callable[[str], Normalized]
