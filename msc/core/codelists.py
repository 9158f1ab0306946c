"""Code lists: versioned data files in msc/data/codelists, with labels translated at display time.

Each file names its source standard and version. We store codes, never labels. The English labels
are the gettext message ids; `extract` lets pybabel collect them (config/babel.cfg), so every list
is translated with the rest of the interface. Countries and languages take their names from
pycountry's own catalogs instead.
"""

from __future__ import annotations

import functools
import gettext
import json
from dataclasses import dataclass
from pathlib import Path

import pycountry
from flask_babel import get_locale, pgettext

from msc.core.i18n import PYCOUNTRY_LOCALE, country_name

DATA = Path(__file__).resolve().parent.parent / "data" / "codelists"


@dataclass(frozen=True)
class CodeList:
    name: str
    version: str
    source: str
    codes: tuple[str, ...]
    labels: dict[str, str]

    def __contains__(self, code) -> bool:
        return code in self.labels

    def label(self, code: str | None) -> str:
        if code is None or code == "":
            return ""
        if self.name == "language":
            return language_name(code)
        english = self.labels.get(code)
        return pgettext(f"code list {self.name}", english) if english else code

    def choices(self, blank: str | None = None) -> list[tuple[str, str]]:
        pairs = [(code, self.label(code)) for code in self.codes]
        if self.name == "language":
            pairs.sort(key=lambda pair: pair[1])
        return ([("", blank)] if blank is not None else []) + pairs


@functools.cache
def codelist(name: str) -> CodeList:
    data = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return CodeList(
        name=data["name"],
        version=data["version"],
        source=data["source"],
        codes=tuple(entry["code"] for entry in data["codes"]),
        labels={entry["code"]: entry["label"] for entry in data["codes"]},
    )


def all_codelists() -> list[CodeList]:
    return [codelist(path.stem) for path in sorted(DATA.glob("*.json"))]


def label(list_name: str, code: str | None) -> str:
    return codelist(list_name).label(code)


def isco_major_groups() -> list[str]:
    return [code for code in codelist("isco08").codes if len(code) == 1]


@functools.cache
def _language_translations(locale: str):
    language = PYCOUNTRY_LOCALE.get(locale, locale)
    return gettext.translation(
        "iso639-3", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def language_name(code: str, locale: str | None = None) -> str:
    language = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    language = language or pycountry.languages.get(alpha_3=code)
    if language is None:
        return code
    locale = locale or str(get_locale())
    return _language_translations(locale).gettext(language.name)


def country_choices_all(blank: str | None = None) -> list[tuple[str, str]]:
    codes = [country.alpha_2 for country in pycountry.countries] + ["XK"]
    pairs = sorted(((code, country_name(code)) for code in codes), key=lambda pair: pair[1])
    return ([("", blank)] if blank is not None else []) + pairs


def extract(fileobj, keywords, comment_tags, options):  # noqa: ARG001  (pybabel passes these by name)
    """pybabel extractor for code-list files: each English label, with the list as its context."""
    data = json.load(fileobj)
    for number, entry in enumerate(data["codes"], start=1):
        if entry["label"]:
            context = f"code list {data['name']}"
            yield number, "pgettext", (context, entry["label"]), [f"code: {entry['code']}"]
