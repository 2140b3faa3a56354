"""A name's Latin *skeleton*: what a name typed in Latin letters and the Cyrillic name it stands
for have in common, whichever romanization the person writing it learned.

A helpdesk types ``Elkina`` for Ёлкина, ``Khudyakov`` or ``Hudiakov`` for Худяков, ``Yuliya``
or ``Iuliia`` for Юлия (passports since 2010 follow ICAO, older ones and most people other
habits). Rather than guess the Cyrillic spellings of a Latin
query, both sides are reduced to one simplified form: Cyrillic is romanized (ICAO style, ё as
е, ь and ъ dropped), then every Latin spelling is folded: ``shch``/``sch`` as ``sh``, ``kh``
as ``h``, ``ts``/``tc``/``cz`` as ``c``, ``x`` as ``ks``, ``w`` as ``v``, ``y`` and ``j`` as
``i``, ``yo``/``jo`` and ``ye``/``ie`` as ``e``, doubled letters once (``x`` is read as
people write Maxim and Alexander, not as GOST 7.79-B's х). Two spellings of one
name give one skeleton; some different names give one too (Шишкин and Щишкин), which costs a
search a few extra results and never a miss. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    # Ukrainian and Belarusian letters that turn up in Russian directories.
    "і": "i", "ї": "i", "є": "e", "ґ": "g", "ў": "u",
}
_ROMAN = str.maketrans(_CYRILLIC)

# Applied in this order; each folds the spellings of one sound into one.
_FOLDS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"shch|sch|shh", "sh"),
    (r"kh", "h"),
    (r"tsz|ts|tc|cz", "c"),
    (r"x", "ks"),
    (r"w", "v"),
    (r"q", "k"),
    (r"[yj]o", "e"),  # ё written yo/jo; ё is е in every comparison
    (r"[yj]", "i"),
    (r"ie", "e"),  # Анатольевич: anatolevich, anatolyevich, anatolievich
    (r"(.)\1+", r"\1"),
))


def romanize(text: str) -> str:
    """Cyrillic letters as Latin (ICAO Doc 9303 style, ё as е); other characters as they are.
    ``text`` is expected case-folded."""
    return text.translate(_ROMAN)


@lru_cache(maxsize=8192)  # names repeat: the common ones are folded once per process
def skeleton(word: str) -> str:
    """The simplified Latin form of one word, Cyrillic or Latin, in any case; letters and
    digits only. Empty when nothing of it is a letter or digit."""
    text = unicodedata.normalize("NFKD", word.casefold())
    text = romanize(unicodedata.normalize("NFC", text))  # й and ё composed again for the table
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if ch.isascii() and ch.isalnum())
    for pattern, replacement in _FOLDS:
        text = pattern.sub(replacement, text)
    return text
