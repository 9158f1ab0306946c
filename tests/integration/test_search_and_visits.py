import datetime as dt
import re

import sqlalchemy as sa

from msc.centres.models import Centre
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from msc.visits.models import GroupSession, GroupSessionHeadcount, Visit, VisitTopic, WalkIn
from tests.fixtures.factories import log_in


def case_links(html):
    return set(re.findall(r'href="/cases/(\d+)"', html))


def test_search_by_name_across_scripts_spellings_and_typos(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    target = make_migrant(counsellor, given_name="Јелена", family_name="Ђорђевић")
    other = make_migrant(counsellor, given_name="Marko", family_name="Marković")
    for query in (
        "Ђорђевић",
        "Đorđević",
        "Djordjevic",
        "Dordevic",
        "dordevic jelena",
        "Djordjevc",
        "jelena",
    ):
        links = case_links(client.get("/cases/", query_string={"q": query}).get_data(as_text=True))
        assert str(target.id) in links, query
        assert str(other.id) not in links, query


def test_search_by_case_number_birth_and_phone(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    target = make_migrant(counsellor, birth_date=dt.date(1990, 5, 17), phone="+381 (60) 555-1234")
    other = make_migrant(counsellor, given_name="Ana", family_name="Anić", birth_year=1985)
    checks = [
        {"q": target.case_number},
        {"q": target.case_number.lower()},
        {"q": str(int(target.case_number.rsplit("-", 1)[1]))},
        {"birth": "1990-05-17"},
        {"birth": "1990"},
        {"phone": "555 1234"},
        {"phone": "060 555 1234"},
    ]
    for query in checks:
        links = case_links(client.get("/cases/", query_string=query).get_data(as_text=True))
        assert links == {str(target.id)}, query
    assert case_links(
        client.get("/cases/", query_string={"birth": "1985"}).get_data(as_text=True)
    ) == {str(other.id)}
    assert "No cases match." in client.get(
        "/cases/", query_string={"birth": "not a date"}
    ).get_data(as_text=True)


def test_search_is_scoped_to_the_centre_and_sortable(client, login_as, make_user, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    mine = make_migrant(counsellor, family_name="Zorić")
    make_migrant(counsellor, family_name="Antić")
    elsewhere = make_migrant(make_user(Role.COUNSELLOR), family_name="Zorić")
    html = client.get("/cases/", query_string={"q": "zoric"}).get_data(as_text=True)
    assert case_links(html) == {str(mine.id)}
    assert str(elsewhere.id) not in case_links(client.get("/cases/").get_data(as_text=True))
    by_name = client.get("/cases/", query_string={"sort": "name"}).get_data(as_text=True)
    assert by_name.index("Antić") < by_name.index("Zorić")


def test_case_list_search_and_case_page_use_a_fixed_number_of_queries(
    client, login_as, make_migrant, count_queries
):
    counsellor = login_as(Role.COUNSELLOR)
    first = make_migrant(counsellor, family_name="Petrović")
    urls = [
        "/cases/",
        "/cases/?q=petrovic",
        "/cases/?birth=1994",
        f"/cases/{first.id}",
        "/counsellor",
    ]

    def add_visit():
        db.session.add(
            Visit(
                migrant_id=first.id,
                centre_id=first.centre_id,
                counsellor_id=counsellor.id,
                occurred_at=dt.datetime.now(dt.UTC),
                mode="in_person",
                duration_minutes=20,
                follow_up_on=dt.date.today(),
                topic_rows=[VisitTopic(topic="other")],
            )
        )
        db.session.commit()

    add_visit()  # one of everything, so eager loads run in both measurements

    def counts():
        result = {}
        for url in urls:
            with count_queries() as n:
                assert client.get(url).status_code == 200, url
            result[url] = n()
        return result

    few = counts()
    for i in range(12):
        make_migrant(
            counsellor, family_name="Petrović", given_name=f"Ana{i}", phone=f"+381 60 00{i:03d}"
        )
    for _ in range(6):
        add_visit()
    assert counts() == few


def test_log_a_visit_and_see_it_on_the_timeline_and_home(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    page = client.get(f"/cases/{migrant.id}/visits/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    assert re.search(
        r'name="occurred_at" required type="datetime-local" value="\d{4}-\d\d-\d\dT\d\d:\d\d"', page
    )
    three_days_ago = (dt.datetime.now() - dt.timedelta(days=3)).strftime("%Y-%m-%dT10:30")
    data = {
        "occurred_at": three_days_ago,
        "mode": "in_person",
        "duration_minutes": "45",
        "topics": ["legal_migration", "visas_permits"],
        "material": "Leaflet: working in Germany",
        "notes": "Wants seasonal work.",
        "follow_up_on": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
        "submission_token": token,
    }
    response = client.post_form(f"/cases/{migrant.id}/visits/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    again = client.post_form(f"/cases/{migrant.id}/visits/new", data)  # a double post
    assert again.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 1
    case_html = client.get(f"/cases/{migrant.id}").get_data(as_text=True)
    assert (
        "Legal migration opportunities" in case_html and "Leaflet: working in Germany" in case_html
    )
    home = client.get("/counsellor").get_data(as_text=True)
    assert migrant.display_name in home and "overdue" in home
    assert "visit.created" in set(db.session.scalars(sa.select(AuditEvent.action)))


def test_a_new_visit_settles_earlier_follow_ups(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    db.session.add(
        Visit(
            migrant_id=migrant.id,
            centre_id=migrant.centre_id,
            counsellor_id=counsellor.id,
            occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=9),
            mode="phone",
            duration_minutes=5,
            follow_up_on=dt.date.today() - dt.timedelta(days=2),
        )
    )
    db.session.commit()
    page = client.get(f"/cases/{migrant.id}/visits/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    now_local = re.search(
        r'name="occurred_at" required type="datetime-local" value="([^"]+)"', page
    ).group(1)
    client.post_form(
        f"/cases/{migrant.id}/visits/new",
        {
            "occurred_at": now_local,
            "mode": "phone",
            "duration_minutes": "10",
            "topics": ["other"],
            "submission_token": token,
        },
    )
    assert "No follow-ups are due." in client.get("/counsellor").get_data(as_text=True)


def test_visit_validation(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    response = client.post_form(
        f"/cases/{migrant.id}/visits/new",
        {
            "occurred_at": "2026-13-45T99:00",
            "mode": "telepathy",
            "duration_minutes": "0",
            "topics": [],
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for message in (
        "Not a valid datetime value.",
        "Not a valid choice",
        "Number must be between 1 and 600.",
        "Choose at least one topic.",
    ):
        assert message in html, message
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 0


def test_group_session_with_roster_and_head_count(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    first, second = make_migrant(counsellor), make_migrant(counsellor, given_name="Ana")
    page = client.get("/group-sessions/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    data = {
        "occurred_on": dt.date.today().isoformat(),
        "title": "Working legally in Germany",
        "venue": "NES hall",
        "topics": ["legal_migration", "irregular_risks"],
        "facilitators": [str(counsellor.id)],
        "attendees": f"{first.case_number}, {second.case_number.lower()}",
        "count_F_18-24": "4",
        "count_M_25-34": "3",
        "submission_token": token,
    }
    response = client.post_form("/group-sessions/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    session = db.session.scalars(sa.select(GroupSession)).one()
    counts = {
        (h.sex, h.age_band): h.count for h in db.session.scalars(sa.select(GroupSessionHeadcount))
    }
    assert counts == {("F", "18-24"): 4, ("M", "25-34"): 3}
    assert "Working legally in Germany" in client.get(f"/cases/{first.id}").get_data(as_text=True)
    assert "7" in client.get("/group-sessions").get_data(as_text=True)
    assert client.get(f"/group-sessions/{session.id}").status_code == 200
    bad = dict(
        data, attendees="RS-XX-2026-999999", submission_token="other", **{"count_F_18-24": "-2"}
    )
    html = client.post_form("/group-sessions/new", bad).get_data(as_text=True)
    assert "RS-XX-2026-999999" in html and "whole numbers" in html


def test_walk_in_is_counted_without_identity(client, login_as):
    counsellor = login_as(Role.COUNSELLOR)
    page = client.get("/walk-ins/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    now_local = re.search(
        r'name="occurred_at" required type="datetime-local" value="([^"]+)"', page
    ).group(1)
    response = client.post_form(
        "/walk-ins/new",
        {
            "occurred_at": now_local,
            "sex": "M",
            "age_band": "18-24",
            "citizenship": "AF",
            "topics": ["irregular_risks"],
            "submission_token": token,
        },
    )
    assert response.status_code == 302
    walk_in = db.session.scalars(sa.select(WalkIn)).one()
    assert (walk_in.sex, walk_in.age_band, walk_in.citizenship, walk_in.counsellor_id) == (
        "M",
        "18-24",
        "AF",
        counsellor.id,
    )
    assert "Afghanistan" in client.get("/walk-ins").get_data(as_text=True)


def test_group_session_of_another_centre_is_404(app, make_user, client):
    owner = make_user(Role.COUNSELLOR)
    session = GroupSession(
        centre_id=owner.centre_id,
        occurred_on=dt.date.today(),
        title="T",
        venue="V",
        created_by_id=owner.id,
    )
    db.session.add(session)
    db.session.commit()
    log_in(client, make_user(Role.COUNSELLOR).username)
    assert client.get(f"/group-sessions/{session.id}").status_code == 404
    colleague = make_user(Role.SUPERVISOR, centre=db.session.get(Centre, owner.centre_id))
    other = app.test_client()
    log_in(other, colleague.username)
    assert other.get(f"/group-sessions/{session.id}").status_code == 200
