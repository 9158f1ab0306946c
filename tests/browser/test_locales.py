"""Every role's main page in every locale: no English left of the key set, right-to-left for fa."""

import os
import re

import pytest
from playwright.sync_api import expect

from msc.core.roles import Role
from tests.browser.test_login_and_homes import log_in
from tests.fixtures.browser import ARTIFACTS

pytestmark = pytest.mark.browser

LOCALES = ["sq", "sr_Latn", "sr_Cyrl", "mk", "bs", "ru", "az", "fa", "en"]
HTML_LANG = {"sr_Latn": "sr-Latn", "sr_Cyrl": "sr-Cyrl"}
# English texts of each role's main page that must all be translated.
KEY_SET = {
    Role.COUNSELLOR: [
        "Today's visits",
        "Follow-ups due",
        "Recent cases",
        "Register a migrant",
        "Log out",
        "Change language",
        "Group sessions",
    ],
    Role.SUPERVISOR: [
        "Referrals waiting for review",
        "Overdue follow-ups",
        "Open work by counsellor",
        "Review queue",
        "Log out",
        "Referrals by status",
    ],
    Role.RESEARCHER: [
        "Research tables",
        "Counting unit",
        "Download all tables (zip)",
        "Log out",
        "Persons registered by period, country, sex and age band",
    ],
    Role.ADMIN: ["Administration", "Active users", "Recent activity", "Audit log", "Log out"],
}


def switch_language(page, locale):
    page.locator("#language-select").select_option(locale)
    page.locator("footer form button[type=submit]").click()


@pytest.mark.parametrize("role", list(Role))
def test_main_page_in_every_locale(page, make_user, check_accessibility, role):
    user = make_user(role)
    log_in(page, user.username)
    home = page.url
    for locale in LOCALES:
        switch_language(page, locale)
        expect(page).to_have_url(home)
        html = page.locator("html")
        expect(html).to_have_attribute("lang", HTML_LANG.get(locale, locale))
        expect(html).to_have_attribute("dir", "rtl" if locale == "fa" else "ltr")
        if locale == "en":
            continue
        text = page.locator("body").inner_text()
        left = [
            english
            for english in KEY_SET[role]
            if re.search(rf"(?<!\w){re.escape(english)}(?!\w)", text)
        ]
        assert not left, f"{locale}: English left on the {role.value} page: {left}"
        if locale in {"fa", "sr_Cyrl"}:
            check_accessibility(page, f"locale-{role.value}-{locale}")
        else:
            os.makedirs(ARTIFACTS, exist_ok=True)
            page.screenshot(
                path=os.path.join(ARTIFACTS, f"locale-{role.value}-{locale}.png"), full_page=True
            )
    if role == Role.COUNSELLOR:
        switch_language(page, "fa")
        stylesheet = page.locator("link[rel=stylesheet]").first.get_attribute("href")
        assert stylesheet.endswith("bootstrap.rtl.min.css")
