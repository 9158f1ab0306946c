"""No string shown to users is left unmarked for translation.

Every page is rendered in a pseudo-locale whose catalog wraps each message in ⟦…⟧. Whatever
visible text is then outside the brackets must be data (names, numbers, codes, country and
language names); any other words are a string someone forgot to mark.
"""

import re
import zoneinfo
from html.parser import HTMLParser

import pycountry
import pytest
from babel.dates import get_month_names, get_period_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from msc import PROJECT_ROOT, create_app
from msc.core.codelists import codelist, language_name
from msc.core.db import db
from msc.core.i18n import country_name, locale_self_name
from msc.core.roles import Role
from tests.fixtures.factories import log_in

CODE = re.compile(r"\b[A-Z0-9]{1,4}(?:-[A-Z0-9]{1,8})*\b")  # country, region and centre codes
PSEUDO = "eo"  # a real Babel locale that MSC does not offer, used as the pseudo-locale
VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}


class TextCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "title", "code"}:  # <code>: identifiers, not prose
            self._skip += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in {"script", "style", "title", "code"}:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


@pytest.fixture(scope="module")
def pseudo_app(app, tmp_path_factory):
    with open(PROJECT_ROOT / "translations" / "messages.pot", "rb") as pot:
        catalog = read_po(pot, locale=PSEUDO)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            message.string = tuple(f"⟦{message.id[min(i, 1)]}⟧" for i in range(catalog.num_plurals))
        else:
            message.string = f"⟦{message.id}⟧"
    directory = tmp_path_factory.mktemp("pseudo")
    (directory / PSEUDO / "LC_MESSAGES").mkdir(parents=True)
    with open(directory / PSEUDO / "LC_MESSAGES" / "messages.mo", "wb") as mo:
        write_mo(mo, catalog)
    pseudo = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "BABEL_TRANSLATION_DIRECTORIES": str(directory),
            "LANGUAGES": [*app.config["LANGUAGES"], PSEUDO],
        },
    )
    pseudo.test_client_class = app.test_client_class
    yield pseudo
    with pseudo.app_context():
        db.engine.dispose()


def data_strings(*values) -> list[str]:
    names = [country_name(c.alpha_2, PSEUDO) for c in pycountry.countries] + [
        country_name("XK", PSEUDO)
    ]
    languages = [language_name(code, PSEUDO) for code in codelist("language").codes]
    zones = list(zoneinfo.available_timezones())
    dates = [
        *get_month_names("abbreviated", locale=PSEUDO).values(),
        *get_month_names("abbreviated", locale="en").values(),
        *get_period_names(locale="en").values(),
        *get_period_names(locale=PSEUDO).values(),
    ]
    locales = [
        locale_self_name(code)
        for code in ["en", "sq", "sr_Latn", "sr_Cyrl", "mk", "bs", "ru", "az", "fa", PSEUDO]
    ]
    strings = [v for v in [*values, *names, *languages, *locales, *zones, *dates] if v]
    return sorted(set(strings), key=len, reverse=True)


def unmarked(html: str, allowed: list[str]) -> list[str]:
    collector = TextCollector()
    collector.feed(html)
    found = []
    for text in collector.texts:
        rest, previous = text, None
        while rest != previous:  # messages nest: remove the innermost first
            previous, rest = rest, re.sub(r"⟦[^⟦⟧]*⟧", " ", rest)
        for value in allowed:
            rest = rest.replace(value, " ")
        rest = CODE.sub(" ", rest)
        if re.search(r"[^\W\d_]{2,}", rest):  # two letters in a row outside any message
            found.append(text)
    return found


def test_every_page_of_every_role_is_fully_marked(
    pseudo_app, make_user, make_migrant, make_directory
):
    counsellor = make_user(Role.COUNSELLOR, locale=PSEUDO, full_name="Ana Test")
    from msc.centres.models import Centre, Region

    centre = db.session.get(Centre, counsellor.centre_id)
    region = db.session.get(Region, centre.region_id)
    supervisor = make_user(
        Role.SUPERVISOR, centre=centre, locale=PSEUDO, full_name="Supervisor Test"
    )
    admin = make_user(Role.ADMIN, locale=PSEUDO, full_name="Admin Test")
    researcher = make_user(Role.RESEARCHER, locale=PSEUDO, full_name="Researcher Test")
    migrant = make_migrant(
        counsellor,
        given_name="Jelena",
        family_name="Petrović",
        destinations=("DE",),
        occupation_sought="53",
    )
    partner, channel, option = make_directory()
    allowed = data_strings(
        counsellor.full_name,
        supervisor.full_name,
        admin.full_name,
        researcher.full_name,
        counsellor.username,
        supervisor.username,
        admin.username,
        researcher.username,
        centre.name,
        centre.code,
        region.name,
        region.code,
        centre.host_office,
        centre.timezone,
        migrant.case_number,
        migrant.display_name,
        migrant.latin_name,
        partner.name,
        channel.name,
        option.title,
        "MSC",
        "ISCO-08",
        "ISCED",
    )
    pages = {
        None: ["/login"],
        counsellor: [
            "/counsellor",
            "/cases/",
            f"/cases/{migrant.id}",
            f"/cases/{migrant.id}/edit",
            "/cases/new",
            f"/cases/{migrant.id}/visits/new",
            f"/cases/{migrant.id}/referrals/new",
            "/referrals/",
            "/group-sessions",
            "/group-sessions/new",
            "/walk-ins",
            "/walk-ins/new",
            "/partners",
            "/channels",
            "/local-options",
            "/account/password",
            "/no-such-page",
        ],
        supervisor: [
            "/supervisor",
            "/referrals/queue",
            f"/cases/{migrant.id}/merge",
            "/partners/new",
            "/channels/new",
            "/local-options/new",
            "/local-options/import",
        ],
        admin: [
            "/admin/",
            "/admin/users",
            "/admin/users/new",
            f"/admin/users/{counsellor.id}/edit",
            f"/admin/users/{counsellor.id}/reset-password",
            "/admin/centres",
            "/admin/centres/new",
            "/admin/regions",
            "/admin/regions/new",
            "/admin/audit",
            "/admin/releases",
        ],
        researcher: [
            "/research",
            "/research/report",
            "/research/merge",
            "/research/tables/persons_category",
            "/research/tables/visits_by_topic",
        ],
    }
    problems = {}
    for user, urls in pages.items():
        client = pseudo_app.test_client()
        if user is None:
            client.post_form("/language", {"locale": PSEUDO, "next": "/login"}, page="/login")
        else:
            log_in(client, user.username)
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 404), (url, response.status_code)
            left = unmarked(response.get_data(as_text=True), allowed)
            if left:
                problems[url] = left[:8]
    assert not problems, f"text not marked for translation: {problems}"
