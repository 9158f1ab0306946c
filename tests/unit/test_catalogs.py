"""Every catalog is complete: no untranslated or fuzzy entry, placeholders kept, plurals right."""

import io
import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from config.settings import LANGUAGES
from msc.core.cyrillic import to_cyrillic

ROOT = Path(__file__).resolve().parents[2] / "translations"
LOCALES = [code for code in LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|%%")


def catalog(locale):
    with open(ROOT / locale / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=locale)


def test_every_locale_has_a_catalog():
    for locale in LOCALES:
        assert (ROOT / locale / "LC_MESSAGES" / "messages.po").exists(), locale


def test_every_catalog_has_every_message_of_the_template():
    with open(ROOT / "messages.pot", "rb") as pot:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    for locale in LOCALES:
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(locale) if m.id}
        assert template <= ids, (locale, sorted(template - ids)[:5])


def placeholders(text: str, plural: bool = False) -> set[str]:
    found = set(PLACEHOLDER.findall(text))
    # A plural form may say "one" in words instead of writing the number.
    return found - {"%d", "%(num)d"} if plural else found


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete_and_keeps_placeholders(locale):
    problems = []
    po = catalog(locale)
    assert po.num_plurals == get_plural(locale).num_plurals
    for message in po:
        if not message.id:
            continue
        plural = isinstance(message.id, tuple | list)
        ids = message.id if plural else (message.id,)
        strings = message.string if plural else (message.string,)
        if message.fuzzy:
            problems.append(("fuzzy", ids[0]))
        if not all(strings):
            problems.append(("untranslated", ids[0]))
            continue
        if plural and len(strings) != po.num_plurals:
            problems.append(("plural forms", ids[0]))
        for string in strings:
            if placeholders(string, plural) != placeholders(ids[-1], plural):
                problems.append(("placeholders", ids[0], string))
    assert not problems, f"{locale}: {len(problems)} problems, first: {problems[:5]}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_compiles(locale):
    write_mo(io.BytesIO(), catalog(locale))


def test_serbian_cyrillic_is_generated_from_serbian_latin():
    latin, cyrillic = catalog("sr_Latn"), catalog("sr_Cyrl")
    for message in latin:
        if message.id and isinstance(message.string, str) and message.string:
            generated = cyrillic.get(message.id, context=message.context)
            assert generated.string == to_cyrillic(message.string), (message.context, message.id)


def test_transliteration_keeps_placeholders_markup_and_acronyms():
    assert to_cyrillic("Savetnik %(name)s, ISCO-08 i MSC") == "Саветник %(name)s, ISCO-08 и MSC"
    assert to_cyrillic("Ljiljana Njegoš Džonić") == "Љиљана Његош Џонић"
    assert (
        to_cyrillic("<strong>Upis</strong> &amp; više: %d")
        == "<strong>Упис</strong> &amp; више: %d"
    )
