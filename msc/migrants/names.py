"""Names across scripts: Latin transliteration, and a search key that matches spellings.

Transliteration uses our own tables for the region's Cyrillic alphabets, because the general
libraries do not follow the national standards: Serbian Cyrillic to Serbian Latin (Ђ→Đ, Ћ→Ć,
Џ→Dž, Љ→Lj, Њ→Nj, Ј→J), the Macedonian letters as North Macedonia's passports write them
(Ѓ→Gj, Ќ→Kj, Ѕ→Dz) and Russian after ICAO Doc 9303 (the passport standard: Ж→Zh, Х→Kh,
Ц→Ts, Ш→Sh, Щ→Shch, Ю→Iu, Я→Ia). Other scripts (Persian, Arabic, Greek, ...) go through
unidecode. The search key folds diacritics and the digraphs people type in their place (dj/đ,
ch/č, sh/š, zh/ž, xh/dž, kh/h, ts/c), so Ђорђевић, Đorđević, Djordjevic and Dordevic all have
the key "dordevic".
"""

from __future__ import annotations

import re
import unicodedata

from unidecode import unidecode

SERBIAN = {
    "А": "A",
    "Б": "B",
    "В": "V",
    "Г": "G",
    "Д": "D",
    "Ђ": "Đ",
    "Е": "E",
    "Ж": "Ž",
    "З": "Z",
    "И": "I",
    "Ј": "J",
    "К": "K",
    "Л": "L",
    "Љ": "Lj",
    "М": "M",
    "Н": "N",
    "Њ": "Nj",
    "О": "O",
    "П": "P",
    "Р": "R",
    "С": "S",
    "Т": "T",
    "Ћ": "Ć",
    "У": "U",
    "Ф": "F",
    "Х": "H",
    "Ц": "C",
    "Ч": "Č",
    "Џ": "Dž",
    "Ш": "Š",
    # Macedonian letters that Serbian lacks, as North Macedonia's passports romanise them
    "Ѓ": "Gj",
    "Ќ": "Kj",
    "Ѕ": "Dz",
}
RUSSIAN = {
    "А": "A",
    "Б": "B",
    "В": "V",
    "Г": "G",
    "Д": "D",
    "Е": "E",
    "Ё": "E",
    "Ж": "Zh",
    "З": "Z",
    "И": "I",
    "Й": "I",
    "К": "K",
    "Л": "L",
    "М": "M",
    "Н": "N",
    "О": "O",
    "П": "P",
    "Р": "R",
    "С": "S",
    "Т": "T",
    "У": "U",
    "Ф": "F",
    "Х": "Kh",
    "Ц": "Ts",
    "Ч": "Ch",
    "Ш": "Sh",
    "Щ": "Shch",
    "Ъ": "Ie",
    "Ы": "Y",
    "Ь": "",
    "Э": "E",
    "Ю": "Iu",
    "Я": "Ia",
}
RUSSIAN_ONLY = set("ЁЙЩЪЫЬЭЮЯ")
SERBIAN_ONLY = set("ЂЈЉЊЋЏЃЌЅ")


def _with_lower(table: dict[str, str]) -> dict[str, str]:
    full = dict(table)
    full.update({upper.lower(): latin.lower() for upper, latin in table.items()})
    return full


SERBIAN_TABLE = str.maketrans(_with_lower(SERBIAN))
RUSSIAN_TABLE = str.maketrans(_with_lower(RUSSIAN))


def _is_russian(text: str) -> bool:
    letters = set(text.upper())
    return bool(letters & RUSSIAN_ONLY) and not letters & SERBIAN_ONLY


def to_latin(text: str) -> str:
    """The Latin form of a name as written; Latin text is returned unchanged."""
    if not text:
        return ""
    table = RUSSIAN_TABLE if _is_russian(text) else SERBIAN_TABLE
    # An all-capital word keeps its digraphs capital too: ЉУБА is LJUBA, not LjUBA.
    latin = " ".join(
        word.translate(table).upper() if len(word) > 1 and word.isupper() else word.translate(table)
        for word in text.split(" ")
    )
    if any(ord(ch) > 0x024F and unicodedata.category(ch).startswith("L") for ch in latin):
        latin = unidecode(latin)  # other scripts: Persian, Arabic, Greek, ...
    return latin


DIGRAPHS = [
    ("dzh", "dz"),
    ("xh", "dz"),
    ("dj", "d"),
    ("gj", "d"),
    ("dž", "dz"),
    ("shch", "sc"),
    ("ch", "c"),
    ("sh", "s"),
    ("zh", "z"),
    ("kh", "h"),
    ("ts", "c"),
    ("tz", "c"),
    ("ll", "l"),
    ("rr", "r"),
    ("ie", "e"),
    ("ia", "ja"),
    ("iu", "ju"),
    ("y", "j"),
    ("w", "v"),
    ("q", "c"),
    ("x", "ks"),
    ("ph", "f"),
]
SPECIAL_FOLDS = str.maketrans(
    {"đ": "d", "ð": "d", "ł": "l", "ø": "o", "æ": "ae", "ß": "ss", "ı": "i"}
)
NON_LETTERS = re.compile(r"[^a-z ]+")


def search_key(text: str) -> str:
    """A spelling-tolerant key: lowercase ASCII letters, words separated by one space."""
    latin = to_latin(text or "").lower().translate(SPECIAL_FOLDS)
    # Keep ž/š/č as letters long enough to fold "dž" before diacritics go.
    latin = latin.replace("dž", "dz")
    ascii_text = unicodedata.normalize("NFKD", latin).encode("ascii", "ignore").decode()
    ascii_text = NON_LETTERS.sub(" ", ascii_text.replace("-", " "))
    for digraph, single in DIGRAPHS:
        ascii_text = ascii_text.replace(digraph, single)
    return " ".join(ascii_text.split())


def name_key(given: str, family: str) -> str:
    return search_key(f"{family} {given}")
