"""Hypothesis fuzzes the forms: whatever is typed, no 500 and nothing unescaped."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc.core.roles import Role
from tests.integration.test_migrants import registration

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
