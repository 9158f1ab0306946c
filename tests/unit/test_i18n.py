from msc.core.i18n import KOSOVO_NAMES, country_name, locale_self_name


def test_kosovo_has_a_name_in_every_locale(app):
    assert set(KOSOVO_NAMES) == set(app.config["LANGUAGES"])
    assert country_name("XK", "sr_Cyrl") == "Косово"
    assert country_name("XK", "sq") == "Kosova"


def test_country_names_come_translated_from_pycountry():
    assert country_name("DE", "en") == "Germany"
    assert country_name("DE", "ru") == "Германия"
    assert country_name("AL", "sq") == "Shqipëri"
    assert country_name("RS", "sr_Latn") != country_name("RS", "sr_Cyrl")
    assert country_name("", "en") == ""


def test_locales_are_named_in_their_own_language():
    assert locale_self_name("sr_Cyrl").startswith("Српски")
    assert locale_self_name("fa") == "فارسی"


def test_locale_order_saved_preference_then_switcher_then_browser(app, client, make_user):
    from tests.fixtures.factories import log_in

    def lang(response):
        html = response.get_data(as_text=True)
        return html[html.find("<html lang=") + 11 :].split('"')[1]

    assert lang(client.get("/login", headers={"Accept-Language": "ru,en;q=0.5"})) == "ru"
    assert lang(client.get("/login", headers={"Accept-Language": "sr-Latn-RS"})) == "sr-Latn"
    assert lang(client.get("/login", headers={"Accept-Language": "sr"})) == "sr-Cyrl"
    # The switcher works for anonymous users and beats the browser.
    client.post_form("/language", {"locale": "mk", "next": "/login"}, page="/login")
    assert lang(client.get("/login", headers={"Accept-Language": "ru"})) == "mk"
    # A saved preference beats both.
    user = make_user(locale="fa")
    log_in(client, user.username)
    response = client.get("/counsellor", headers={"Accept-Language": "ru"})
    assert lang(response) == "fa"
    assert 'dir="rtl"' in response.get_data(as_text=True)
    assert "bootstrap.rtl.min.css" in response.get_data(as_text=True)
    # Using the switcher while logged in saves the preference.
    client.post_form("/language", {"locale": "sq", "next": "/counsellor"}, page="/counsellor")
    from msc.auth.models import User
    from msc.core.db import db

    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "sq"


def test_language_switch_ignores_unknown_locales_and_foreign_next(client):
    response = client.post_form(
        "/language", {"locale": "xx", "next": "https://evil.example"}, page="/login"
    )
    assert response.headers["Location"] == "/"
