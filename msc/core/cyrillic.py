"""Serbian Latin to Serbian Cyrillic, for generating the sr_Cyrl catalog from sr_Latn.

Serbian is written in both scripts with a one-to-one correspondence (Lj, Nj, Dž are single
letters), so the Cyrillic catalog is derived, never translated twice. Placeholders (%(name)s, %d),
HTML tags and entities, and Latin acronyms (MSC, ISCED, ISCO-08, NES) are left as they are.

    python -m msc.core.cyrillic translations/sr_Latn/LC_MESSAGES/messages.po \\
        translations/sr_Cyrl/LC_MESSAGES/messages.po
"""

from __future__ import annotations

import re
import sys

from babel.messages.pofile import read_po, write_po

DIGRAPHS = {
    "Lj": "Љ",
    "LJ": "Љ",
    "lj": "љ",
    "Nj": "Њ",
    "NJ": "Њ",
    "nj": "њ",
    "Dž": "Џ",
    "DŽ": "Џ",
    "dž": "џ",
}
LETTERS = dict(
    zip(
        "ABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠabvgdđežzijklmnoprstćufhcčš",
        "АБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШабвгдђежзијклмнопрстћуфхцчш",
        strict=True,
    )
)
# What must stay as written: placeholders, markup, URLs and all-capital Latin acronyms.
PROTECTED = re.compile(
    r"%\([a-z_]+\)[sd%]|%[sd%]|<[^>]+>|&[a-z#0-9]+;|https?://\S+|\b[A-Z][A-Z0-9-]*[A-Z0-9]\b(?![a-zčćđšž])"
    r"|\b[a-z0-9]+(?:_[a-z0-9]+)+\b"  # snake_case identifiers (CSV column names)
    r"|\b[ADFG](?= =)|(?<=\()[ADFG](?=\))|\bzip\b"  # table status codes (A, D, F, G) and "zip"
)


def _convert(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in DIGRAPHS:
            out.append(DIGRAPHS[pair])
            i += 2
            continue
        out.append(LETTERS.get(text[i], text[i]))
        i += 1
    return "".join(out)


def to_cyrillic(text: str) -> str:
    parts, last = [], 0
    for match in PROTECTED.finditer(text):
        parts.append(_convert(text[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_convert(text[last:]))
    return "".join(parts)


def convert_catalog(source_path: str, target_path: str) -> None:
    with open(source_path, "rb") as source:
        catalog = read_po(source, locale="sr_Latn")
    catalog.locale = "sr_Cyrl"
    catalog.language_team = "sr_Cyrl (generated from sr_Latn by msc.core.cyrillic)"
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.string, tuple | list):
            message.string = tuple(to_cyrillic(s) for s in message.string)
        else:
            message.string = to_cyrillic(message.string)
    with open(target_path, "wb") as target:
        write_po(target, catalog, width=100, omit_header=False)


if __name__ == "__main__":
    convert_catalog(sys.argv[1], sys.argv[2])
