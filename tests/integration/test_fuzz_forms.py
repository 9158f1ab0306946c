"""Hypothesis fuzzes the forms: whatever is typed, no 500 and nothing unescaped."""

import io
import re

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Migrant
from tests.fixtures.factories import log_in
from tests.integration import test_extra_fields
from tests.integration.test_migrants import registration

world = test_extra_fields.world  # the fixture: the records every form works on

NASTY = [
    "\x00",
    "a\x00b",
    "\u202eevil\u202c",
    "مرحبا Ђорђе mixed",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '=HYPERLINK("http://x")',
    "\U0001f600" * 20,
    " ",
    "Đ" * 101,
    "x" * 20_000,
]
text = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
)
odd_date = st.one_of(
    st.sampled_from(
        [
            "",
            "0000-00-00",
            "1899-12-31",
            "2026-02-30",
            "9999-12-31",
            "12/03/1994",
            "1994-03-12T00:00",
            "-1",
            "1e9",
        ]
    ),
    st.dates().map(str),
    text,
)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    given_name=text,
    family_name=text,
    birth_date=odd_date,
    birth_year=text,
    phone=text,
    email=text,
    notes=text,
    experience=text,
    stay_years=text,
    consent_date=odd_date,
)
def test_profile_form_never_fails(
    client,
    login_as,
    given_name,
    family_name,
    birth_date,
    birth_year,
    phone,
    email,
    notes,
    experience,
    stay_years,
    consent_date,
):
    if not getattr(client, "_logged_in", False):
        login_as(Role.COUNSELLOR)
        client._logged_in = True
    data = registration(
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        birth_year=birth_year,
        phone=phone,
        email=email,
        notes=notes,
        experience_years=experience,
        consent_date=consent_date,
        confirm_new_person="y",
    )
    data["stays-0-years"] = stay_years
    response = client.post_form("/cases/new", data, page="/cases/new")
    if any("\x00" in str(value) for value in data.values()):
        assert response.status_code == 400
        return
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html


@FUZZ
@given(
    occurred_at=odd_date,
    duration=text,
    material=text,
    notes=text,
    follow_up=odd_date,
    mode=st.sampled_from(["in_person", "phone", "x", ""]),
)
def test_visit_form_never_fails(
    client, login_as, make_migrant, occurred_at, duration, material, notes, follow_up, mode
):
    if not getattr(client, "_migrant", None):
        counsellor = login_as(Role.COUNSELLOR)
        client._migrant = make_migrant(counsellor).id
    url = f"/cases/{client._migrant}/visits/new"
    response = client.post_form(
        url,
        {
            "occurred_at": occurred_at,
            "duration_minutes": duration,
            "material": material,
            "notes": notes,
            "follow_up_on": follow_up,
            "mode": mode,
            "topics": ["other"],
        },
    )
    sent = occurred_at + duration + material + notes + follow_up
    assert response.status_code in ((400,) if "\x00" in sent else (200, 302)), response.status_code
    case = client.get(f"/cases/{client._migrant}")
    assert case.status_code == 200
    assert "<script>alert(1)</script>" not in case.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", case.get_data(as_text=True))


@FUZZ
@given(q=text, birth=text, phone=text, sort=text, page=text)
def test_case_search_never_fails(client, login_as, q, birth, phone, sort, page):
    if not getattr(client, "_logged_in", False):
        login_as(Role.COUNSELLOR)
        client._logged_in = True
    response = client.get(
        "/cases/", query_string={"q": q, "birth": birth, "phone": phone, "sort": sort, "page": page}
    )
    assert response.status_code == (400 if "\x00" in q + birth + phone + sort + page else 200)


@FUZZ
@given(username=text, password=text)
def test_login_form_never_fails(client, username, password):
    response = client.post_form("/login", {"username": username, "password": password})
    assert response.status_code == (400 if "\x00" in username + password else 200)


def test_nul_bytes_are_refused_with_a_clear_page(client):
    response = client.get("/login", query_string={"next": "a\x00b"})
    assert response.status_code == 400
    assert "a NUL byte" in response.get_data(as_text=True)


# --- every form of the application ---------------------------------------------------------------
#
# The routes and their valid input come from test_extra_fields.CASES (one case per form-handling
# POST route, which that module checks against app.url_map). Each text field (text, textarea,
# email, password, hidden, date and number inputs: whatever a person or a script can type into)
# is replaced, some at a time, by a hostile value, and the form is posted as raw bytes, so lone
# surrogates ('\ud800', not encodable as UTF-8) reach the server as the invalid UTF-8 a broken
# client would send.

PAYLOADS = [
    *NASTY,
    "\ud800",
    "a\udfffb",
    "\u202e" + "fdp.exe",
    "y" * 10_000,
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE migrant; --",
    '1 UNION SELECT password_hash FROM "user"',
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)",
    "=cmd|' /C calc'!A0",
]
# Markup that must never reach a page unescaped.
RAW_MARKUP = ["<script>alert(1)</script>", "<svg onload=alert(1)>", "<img src=x onerror=alert(1)>"]
MARKUP = '<script>alert(1)</script>"><svg onload=alert(1)>'
TYPED = {"text", "textarea", "email", "password", "hidden", "search", "tel", "url", "date"}
TYPED |= {"number", "datetime-local"}
NOT_TYPED = {"csrf_token", "submission_token", "version_id"}  # machine fields, tested elsewhere
# Pages that list or show what the forms store, scanned after each route's fuzzing.
SHOWN_ON = [
    "/cases/",
    "/referrals/",
    "/referrals/queue",
    "/partners",
    "/channels",
    "/local-options",
    "/walk-ins",
    "/group-sessions",
    "/admin/users",
    "/admin/centres",
    "/admin/regions",
    "/admin/audit",
    "/counsellor",
    "/supervisor",
]
# POST routes not fuzzed here, and why.
FUZZED_ELSEWHERE = {
    "auth.login": "test_login_form_never_fails above (a success would end the fuzzing's login)",
    "auth.logout": "no field, and it ends the session the fuzzing needs",
}
# Form classes that are bases of others, not forms of a page.
ABSTRACT_FORMS = {"VersionedForm"}
# Each form class and the route that shows it (a new form fails the walk until it is added).
FORM_ROUTES = {
    "LoginForm": "auth.login",
    "ChangePasswordForm": "auth.change_password",
    "LanguageForm": "core.set_language",
    "UserForm": "admin.create_user",
    "RegionForm": "centres.create_region",
    "CentreForm": "centres.create_centre",
    "PartnerForm": "directory.new_partner",
    "ChannelForm": "directory.new_channel",
    "LocalOptionForm": "directory.new_local_option",
    "ImportForm": "directory.import_options",
    "MergeUploadForm": "research.merge",
    "ProfileForm": "migrants.edit",
    "RegistrationForm": "migrants.register",
    "ConsentForm": "migrants.add_consent",
    "MergeForm": "migrants.merge",
    "ReferralForm": "referrals.new",
    "ActionForm": "referrals.act",
    "VisitForm": "visits.new_visit",
    "GroupSessionForm": "visits.new_group_session",
    "WalkInForm": "visits.new_walk_in",
    "TwoFactorForm": "auth.second_factor",
    "LegalHoldForm": "protection.legal_hold",
    "ErasureForm": "protection.erase",
}


def form_classes(app) -> set[str]:
    """Every FlaskForm subclass the application defines (its views are imported by now)."""
    from flask_wtf import FlaskForm

    found, todo = set(), [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("msc."):
                found.add(sub.__name__)
    return found


def test_every_form_and_every_post_route_is_fuzzed(app):
    from tests.integration.test_extra_fields import CASES, EXEMPT, post_routes

    assert form_classes(app) - ABSTRACT_FORMS == set(FORM_ROUTES), "add the form to FORM_ROUTES"
    fuzzed = set(CASES) - set(FUZZED_ELSEWHERE)
    assert set(FORM_ROUTES.values()) <= fuzzed | set(FUZZED_ELSEWHERE) | set(EXEMPT)
    assert post_routes(app) <= fuzzed | set(FUZZED_ELSEWHERE) | set(EXEMPT)


def raw_body(data: dict[str, list[str]]) -> bytes:
    """application/x-www-form-urlencoded as bytes; a lone surrogate becomes the invalid UTF-8
    sequence a careless client sends (surrogatepass)."""
    from urllib.parse import quote_plus

    return "&".join(
        f"{quote_plus(name)}={quote_plus(value.encode('utf-8', 'surrogatepass'))}"
        for name, values in data.items()
        for value in values
    ).encode("ascii")


def assert_escaped(html: str, where: str) -> None:
    for markup in RAW_MARKUP:
        assert markup not in html, (where, markup)


def _fuzzed_routes():
    from tests.integration.test_extra_fields import CASES

    return sorted(set(CASES) - set(FUZZED_ELSEWHERE))


@pytest.mark.parametrize("endpoint", _fuzzed_routes())
def test_every_text_field_of_every_form_survives_hostile_input(app, client, world, endpoint):
    from tests.integration.test_extra_fields import CASES, fill, page_form

    case = CASES[endpoint]
    user = world.user(case.role)
    if user is not None:
        assert log_in(client, user.username).status_code == 302
    if case.prepare:
        case.prepare(world, client)
    url, page = case.url(world), (case.page or case.url)(world)
    html = client.get(page).get_data(as_text=True)
    typed = sorted(
        {
            c["name"]
            for c in page_form(html, page, url)
            if c["tag"] == "textarea"
            or (c["tag"] == "input" and c["type"] in TYPED and c["name"] not in NOT_TYPED)
        }
    )
    numbers = iter(range(10**6))

    def scan_pages():
        for shown in SHOWN_ON + [f"/cases/{world.migrant.id}", f"/referrals/{world.referral.id}"]:
            response = client.get(shown, follow_redirects=True)
            assert response.status_code < 500, (shown, response.status_code)
            assert_escaped(response.get_data(as_text=True), shown)

    first = fill(client, page, url, case.data(world, next(numbers)))
    payload = st.sampled_from(PAYLOADS)

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def post_hostile(draw):
        try:
            data = fill(client, page, url, case.data(world, next(numbers)))
        except AssertionError:  # a one-time form (review, submit) is gone once it was used
            data = {name: list(values) for name, values in first.items()}
        hostile = {}
        if case.files:
            # The upload's text cells are the typed fields of an import.
            cell = draw.draw(payload, label="csv cell").replace(",", " ").replace("\n", " ")
            upload = case.files(world, next(numbers))["file"][0].getvalue()
            upload = upload.replace(b"Imported option", cell.encode("utf-8", "surrogatepass"))
            data["file"] = (io.BytesIO(upload), "options.csv")
            response = client.post(url, data=data, content_type="multipart/form-data")
        else:
            fields = st.sets(st.sampled_from(typed), min_size=1, max_size=3)
            for name in draw.draw(fields, label="fields"):
                hostile[name] = draw.draw(payload, label=name)
                data[name] = [hostile[name]]
            response = client.post(
                url, data=raw_body(data), content_type="application/x-www-form-urlencoded"
            )
        status = response.status_code
        if any("\x00" in value for value in hostile.values()):
            assert status == 400, status
            # The error page with its incident reference (in whatever language was chosen).
            assert re.search(r"\b[0-9a-f]{12}\b", response.get_data(as_text=True))
            return
        assert status in (200, 302, 400, 409), status
        assert_escaped(response.get_data(as_text=True), url)
        if status == 302:
            shown = client.get(response.headers["Location"])
            assert shown.status_code < 500, shown.status_code
            assert_escaped(shown.get_data(as_text=True), response.headers["Location"])

    if typed or case.files:
        # First each field on its own with markup (the others valid), so that every field
        # whose validators let markup through stores it and the pages below must escape it.
        for name in typed:
            data = fill(client, page, url, case.data(world, next(numbers)))
            data[name] = [MARKUP]
            response = client.post(url, data=data)
            assert response.status_code in (200, 302, 400, 409), (name, response.status_code)
            assert_escaped(response.get_data(as_text=True), url)
            if response.status_code == 302:  # the record's own page
                shown = client.get(response.headers["Location"], follow_redirects=True)
                assert shown.status_code < 500, shown.status_code
                assert_escaped(shown.get_data(as_text=True), response.headers["Location"])
        # An edit keeps the markup of every field that took it (each post starts from the
        # saved record): look at the pages now, before the random values below overwrite it.
        scan_pages()
        post_hostile()
    else:
        # No field to type into: hostile values in fields the form does not have.
        data = fill(client, page, url, case.data(world, 0))
        data.update({"comment": [PAYLOADS[4]], "next": ["\ud800"]})
        response = client.post(
            url, data=raw_body(data), content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code in (200, 302, 400, 409), response.status_code
    scan_pages()


def test_invalid_utf8_is_replaced_never_a_500(client, login_as):
    """Bytes that are not UTF-8 (and UTF-8-encoded surrogates) in a form or a query: the
    profile is saved with a harmless replacement, and no surrogate ever reaches the database
    (PostgreSQL would refuse it)."""

    login_as(Role.COUNSELLOR)
    page = client.get("/cases/new").get_data(as_text=True)
    data = registration(confirm_new_person="y", given_name="PLACEHOLDER")
    data["submission_token"] = re.search(r'name="submission_token"[^>]* value="([^"]+)"', page)[1]
    data["csrf_token"] = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    body = raw_body({k: v if isinstance(v, list) else [v] for k, v in data.items()})
    body = body.replace(b"PLACEHOLDER", b"Ana%FF%FE%ED%A0%80")
    response = client.post(
        "/cases/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 302, response.status_code
    name = db.session.scalars(sa.select(Migrant.given_name)).one()
    # Werkzeug keeps bytes it cannot decode as their %-escapes (older versions: U+FFFD).
    assert name in ("Ana%FF%FE%ED%A0%80", "Ana\ufffd\ufffd\ufffd\ufffd\ufffd")
    name.encode("utf-8")  # valid text: no surrogate reaches the database
    for query in ("q=%FF%ED%A0%80", "q=%C0%AF", "birth=%ED%B0%80", "phone=%ED%A0%80"):
        assert client.get(f"/cases/?{query}").status_code == 200
    assert client.get("/cases/%ED%A0%80").status_code == 404


@pytest.mark.parametrize("role", list(Role))
def test_hostile_text_in_url_path_arguments_never_fails(app, client, make_user, role):
    """Routes with a text argument (an action name, a table id, a file name) get NUL, invalid
    UTF-8, a lone surrogate's bytes, markup and a long string in it: never a 500, and what
    is shown comes back escaped."""
    assert log_in(client, make_user(role).username).status_code == 302
    hostile = ["%00", "%FF%FE", "%ED%A0%80", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "z" * 5000]
    checked = 0
    for rule in app.url_map.iter_rules():
        texts = [
            name
            for name in rule.arguments
            if type(rule._converters[name]).__name__ != "IntegerConverter"
        ]
        if not texts:
            continue
        for value in hostile:
            url = rule.rule
            for name in rule.arguments:
                url = re.sub(rf"<(?:[a-z]+:)?{name}>", value if name in texts else "1", url)
            for method in sorted(rule.methods & {"GET", "POST"}):
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.post(url, data={"csrf_token": client.csrf_token()})
                assert response.status_code < 500, (url, method, response.status_code)
                if value == "%00":  # the NUL guard reads the path's text parts too
                    assert response.status_code == 400, (url, method, response.status_code)
                assert_escaped(response.get_data(as_text=True), url)
                checked += 1
    assert checked >= 3 * len(hostile)
