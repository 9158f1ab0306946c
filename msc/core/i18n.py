"""Locale selection and localised labels for codes (countries, languages)."""

from __future__ import annotations

import functools
import gettext

import pycountry
from babel import Locale
from flask import current_app, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

babel = Babel()

# Kosovo has no ISO 3166 code; the EU and UN agencies use the user-assigned code XK.
KOSOVO = "XK"
KOSOVO_NAMES = {
    "en": "Kosovo",
    "sq": "Kosova",
    "sr_Latn": "Kosovo",
    "sr_Cyrl": "Косово",
    "mk": "Косово",
    "bs": "Kosovo",
    "ru": "Косово",
    "az": "Kosovo",
    "fa": "کوزوو",
}

# pycountry's catalogs are named by language (and script for Serbian Latin).
PYCOUNTRY_LOCALE = {"sr_Latn": "sr@latin", "sr_Cyrl": "sr"}


def select_locale() -> str:
    """The user's saved preference, then the switcher's choice, then the browser, then default."""
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():  # command line: the configured default
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in supported:
        return current_user.locale
    if session.get("locale") in supported:
        return session["locale"]
    return best_browser_locale(supported) or current_app.config["BABEL_DEFAULT_LOCALE"]


def best_browser_locale(supported: list[str]) -> str | None:
    # Browsers send sr-Latn, sr-RS or plain sr; plain Serbian is Cyrillic by the constitution.
    aliases = {
        "sr": "sr_Cyrl",
        "sr_rs": "sr_Cyrl",
        "sr_latn_rs": "sr_Latn",
        "sr_cyrl_rs": "sr_Cyrl",
    }
    by_key = {code.lower(): code for code in supported}
    for value, _quality in request.accept_languages:
        key = value.replace("-", "_").lower()
        if key in by_key:
            return by_key[key]
        if key in aliases:
            return aliases[key]
        base = key.split("_")[0]
        if base in by_key:
            return by_key[base]
    return None


def locale_choices() -> list[tuple[str, str]]:
    """Each supported locale named in its own language, for the switcher."""
    return [(code, locale_self_name(code)) for code in current_app.config["LANGUAGES"]]


@functools.cache
def locale_self_name(code: str) -> str:
    name = Locale.parse(code).display_name or code
    return name[:1].upper() + name[1:]


def is_rtl() -> bool:
    return get_locale().character_order == "right-to-left"


def html_lang() -> str:
    locale = get_locale()
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


@functools.cache
def _pycountry_translations(domain: str, locale: str):
    language = PYCOUNTRY_LOCALE.get(locale, locale)
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language], fallback=True)


def country_name(code: str | None, locale: str | None = None) -> str:
    if not code:
        return ""
    locale = locale or str(get_locale())
    if code == KOSOVO:
        return KOSOVO_NAMES.get(locale, KOSOVO_NAMES["en"])
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    english = getattr(country, "common_name", None) or country.name
    translated = _pycountry_translations("iso3166-1", locale).gettext(english)
    if translated == english and english != country.name:
        translated = _pycountry_translations("iso3166-1", locale).gettext(country.name)
    return translated


def country_choices(codes: list[str], locale: str | None = None) -> list[tuple[str, str]]:
    return sorted(((code, country_name(code, locale)) for code in codes), key=lambda c: c[1])
