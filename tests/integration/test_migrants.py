import datetime
import re
import threading

import sqlalchemy as sa

from msc.core.audit import AuditEvent
from msc.core.db import db, utcnow
from msc.core.roles import Role
from msc.migrants.models import Consent, Migrant, MigrantCode
from msc.migrants.operations import phone_index
from tests.fixtures.factories import log_in

MARKER = "MARKER-restricted-7c1f"


def registration(**overrides):
    data = {
        "given_name": "Јелена",
        "family_name": "Ђорђевић",
        "sex": "F",
        "birth_date": "1994-03-12",
        "citizenships": ["RS"],
        "preferred_language": "sr",
        "languages_spoken": ["sr", "en"],
        "education": "3",
        "occupation_sought": "53",
        "labour_status": "unemployed",
        "experience_years": "4",
        "category": "intending_emigrant",
        "intention": "planning",
        "destinations": ["DE", "AT"],
        "intention_purpose": "work",
        "job_offer": "no",
        "heard_from": "nes_office",
        "protection_indicators": ["recruitment_fee"],
        "notes": MARKER,
        "service_basis": "consent",
        "statistics_basis": "consent",
        "consent_date": "2026-01-05",
        "informed_language": "sr",
        "stays-0-country_code": "DE",
        "stays-0-years": "2",
        "stays-0-purpose": "seasonal_work",
        "stays-0-regular_status": "yes",
    }
    data.update(overrides)
    return data


def post_registration(client, **overrides):
    page = client.get("/cases/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    data = registration(**overrides)
    data.setdefault("submission_token", token)
    return client.post_form("/cases/new", data, page="/cases/new")


def test_registration_saves_codes_consents_and_a_case_number(client, login_as):
    counsellor = login_as(Role.COUNSELLOR)
    response = post_registration(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    migrant = db.session.scalars(sa.select(Migrant)).one()
    centre = counsellor.centre_id
    assert re.fullmatch(r"RS-C\d+-\d{4}-000001", migrant.case_number)
    assert (migrant.given_name_latin, migrant.family_name_latin) == ("Jelena", "Đorđević")
    assert migrant.name_key == "dordevic jelena"
    assert migrant.birth_year == 1994 and migrant.centre_id == centre
    codes = {(c.kind, c.code) for c in db.session.scalars(sa.select(MigrantCode))}
    assert codes == {
        ("citizenship", "RS"),
        ("language", "sr"),
        ("language", "en"),
        ("destination", "DE"),
        ("destination", "AT"),
    }
    consents = {(c.purpose, c.basis) for c in db.session.scalars(sa.select(Consent))}
    assert consents == {("service", "consent"), ("statistics", "consent")}
    assert "migrant.created" in set(db.session.scalars(sa.select(AuditEvent.action)))


def test_no_profile_without_a_basis_for_service_provision(client, login_as):
    login_as(Role.COUNSELLOR)
    response = post_registration(client, service_basis="")
    assert response.status_code == 200
    assert "cannot be saved without a legal basis for service provision" in response.get_data(
        as_text=True
    )
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 0


def test_invalid_fields_get_messages_and_keep_the_input(client, login_as):
    login_as(Role.COUNSELLOR)
    response = post_registration(
        client,
        birth_date="2990-01-01",
        email="not-an-email",
        experience_years="-3",
        sex="Z",
        phone="call me",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for message in (
        "This date is in the future.",
        "Invalid email address.",
        "Number must be between 0 and 70.",
        "Not a valid choice",
        "Use digits, spaces",
    ):
        assert message in html, message
    assert "Ђорђевић" in html
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 0


def test_posting_the_same_form_twice_creates_one_profile(client, login_as):
    login_as(Role.COUNSELLOR)
    page = client.get("/cases/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    first = client.post_form("/cases/new", registration(submission_token=token), page="/cases/new")
    second = client.post_form("/cases/new", registration(submission_token=token), page="/cases/new")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 1


def test_duplicate_warning_across_scripts_then_confirm(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    existing = make_migrant(
        counsellor,
        given_name="Jelena",
        family_name="Djordjevic",
        birth_date=datetime.date(1994, 3, 12),
    )
    response = post_registration(client)  # typed in Cyrillic: Јелена Ђорђевић
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This person may be registered already" in html
    assert existing.case_number in html and "Same date of birth" in html
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 1
    confirmed = post_registration(client, confirm_new_person="y")
    assert confirmed.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 2


def test_edit_audits_field_names_not_values(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor, phone="+381 60 1234567")
    page = client.get(f"/cases/{migrant.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    data = registration(
        given_name="Jelena",
        family_name="Petrović",
        birth_date="",
        birth_year="1994",
        phone="+381 60 7654321",
        version_id=version,
    )
    response = client.post_form(f"/cases/{migrant.id}/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "migrant.updated")
    ).one()
    assert "phone" in event.fields.split(",")
    assert "7654321" not in " ".join(str(v) for v in vars(event).values())
    db.session.expire_all()
    assert db.session.get(Migrant, migrant.id).phone_index == phone_index("0607654321")


def test_second_of_two_concurrent_edits_is_refused_and_shown(
    app, client, login_as, make_user, make_migrant
):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    page = client.get(f"/cases/{migrant.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    supervisor_client = app.test_client()
    from msc.centres.models import Centre

    supervisor = make_user(Role.SUPERVISOR, centre=db.session.get(Centre, counsellor.centre_id))
    log_in(supervisor_client, supervisor.username)
    first = supervisor_client.post_form(
        f"/cases/{migrant.id}/edit",
        registration(
            given_name="Jelena",
            family_name="Petrović-Ilić",
            birth_date="",
            birth_year="1994",
            version_id=version,
        ),
    )
    assert first.status_code == 302
    second = client.post_form(
        f"/cases/{migrant.id}/edit",
        registration(
            given_name="Jelena",
            family_name="Petrović-Marić",
            birth_date="",
            birth_year="1994",
            version_id=version,
        ),
    )
    html = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "Petrović-Ilić" in html and "Petrović-Marić" in html
    db.session.expire_all()
    assert db.session.get(Migrant, migrant.id).family_name == "Petrović-Ilić"


def test_restricted_fields_only_for_the_counsellor_of_the_case_and_supervisors(
    app, client, make_user, make_migrant
):
    owner = make_user(Role.COUNSELLOR)
    from msc.centres.models import Centre

    centre = db.session.get(Centre, owner.centre_id)
    migrant = make_migrant(owner, notes=MARKER, protection_indicators=["documents_withheld"])
    colleague = make_user(Role.COUNSELLOR, centre=centre)
    supervisor = make_user(Role.SUPERVISOR, centre=centre)
    for user, sees in ((owner, True), (supervisor, True), (colleague, False)):
        viewer = app.test_client()
        log_in(viewer, user.username)
        html = viewer.get(f"/cases/{migrant.id}").get_data(as_text=True)
        assert (MARKER in html) is sees, user.username
        assert ("Identity or travel documents held by someone else" in html) is sees
        edit = viewer.get(f"/cases/{migrant.id}/edit").get_data(as_text=True)
        assert (MARKER in edit) is sees
        listing = viewer.get("/cases/?q=petrovic").get_data(as_text=True)
        assert MARKER not in listing and migrant.case_number in listing


def test_a_colleague_without_access_to_notes_cannot_erase_them(client, make_user, make_migrant):
    owner = make_user(Role.COUNSELLOR)
    from msc.centres.models import Centre

    migrant = make_migrant(owner, notes=MARKER)
    colleague = make_user(Role.COUNSELLOR, centre=db.session.get(Centre, owner.centre_id))
    log_in(client, colleague.username)
    page = client.get(f"/cases/{migrant.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    data = registration(
        given_name="Jelena",
        family_name="Petrović",
        birth_date="",
        birth_year="1994",
        notes="",
        protection_indicators=[],
        version_id=version,
    )
    assert client.post_form(f"/cases/{migrant.id}/edit", data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Migrant, migrant.id).notes == MARKER


def test_other_centre_and_other_roles_cannot_open_a_case(app, make_user, make_migrant):
    migrant = make_migrant()
    for role in (Role.COUNSELLOR, Role.SUPERVISOR):
        stranger = app.test_client()
        log_in(stranger, make_user(role).username)  # a user of another centre
        for url in (
            f"/cases/{migrant.id}",
            f"/cases/{migrant.id}/edit",
            f"/cases/{migrant.id}/visits/new",
            f"/cases/{migrant.id}/information-sheet",
        ):
            assert stranger.get(url).status_code == 404, (role, url)
        found = stranger.get(f"/cases/?q={migrant.case_number}").get_data(as_text=True)
        assert f'href="/cases/{migrant.id}"' not in found and "No cases match." in found
    for role in (Role.RESEARCHER, Role.ADMIN):
        other = app.test_client()
        log_in(other, make_user(role).username)
        assert other.get(f"/cases/{migrant.id}").status_code == 403


def test_reading_a_case_writes_one_audit_row(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    before = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "migrant.viewed")
    )
    client.get(f"/cases/{migrant.id}")
    after = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "migrant.viewed")
    )
    assert after == before + 1


def test_case_numbers_are_unique_and_gapless_under_concurrent_registration(app, make_user):
    from msc.centres.models import Centre

    first = make_user(Role.COUNSELLOR)
    centre = db.session.get(Centre, first.centre_id)
    counsellors = [first] + [make_user(Role.COUNSELLOR, centre=centre) for _ in range(3)]
    usernames = [user.username for user in counsellors]
    errors = []

    def register(username, n):
        client = app.test_client()
        log_in(client, username)
        for i in range(5):
            response = post_registration(
                client,
                given_name=f"Person{n}x{i}",
                family_name=f"Family{n}",
                birth_date=f"19{70 + n}-01-{10 + i}",
                confirm_new_person="y",
            )
            if response.status_code != 302:
                errors.append(response.status_code)

    threads = [
        threading.Thread(target=register, args=(name, n)) for n, name in enumerate(usernames)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(db.session.scalars(sa.select(Migrant.case_number)))
    assert len(numbers) == 20 == len(set(numbers))
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 21))


def test_consent_recorded_and_withdrawn_later(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor, consents=("service",))
    response = client.post_form(
        f"/cases/{migrant.id}/consents",
        {
            "purpose": "follow_up",
            "basis": "consent",
            "given_on": "2026-02-01",
            "informed_language": "sq",
        },
        page=f"/cases/{migrant.id}",
    )
    assert response.status_code == 302
    consent = db.session.scalars(sa.select(Consent).where(Consent.purpose == "follow_up")).one()
    assert consent.informed_language == "sq" and consent.recorded_by_id == counsellor.id
    client.post_form(
        f"/cases/{migrant.id}/consents/{consent.id}/withdraw", page=f"/cases/{migrant.id}"
    )
    db.session.expire_all()
    assert db.session.get(Consent, consent.id).withdrawn_on is not None
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"consent.recorded", "consent.withdrawn"} <= actions


def test_information_sheet_is_in_the_persons_language(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor, preferred_language="fa")
    html = client.get(f"/cases/{migrant.id}/information-sheet").get_data(as_text=True)
    assert '<html lang="fa" dir="rtl">' in html
    assert migrant.case_number in html
    assert "migrant.information_sheet_printed" in set(
        db.session.scalars(sa.select(AuditEvent.action))
    )


def test_supervisor_merges_a_duplicate(client, make_user, make_migrant):
    from msc.centres.models import Centre
    from msc.visits.models import Visit

    counsellor = make_user(Role.COUNSELLOR)
    survivor = make_migrant(counsellor)
    duplicate = make_migrant(counsellor, given_name="Jelena", family_name="Petrovic")
    db.session.add(
        Visit(
            migrant_id=duplicate.id,
            centre_id=duplicate.centre_id,
            counsellor_id=counsellor.id,
            occurred_at=utcnow(),
            mode="phone",
            duration_minutes=10,
        )
    )
    db.session.commit()
    supervisor = make_user(Role.SUPERVISOR, centre=db.session.get(Centre, counsellor.centre_id))
    log_in(client, supervisor.username)
    preview = client.post_form(
        f"/cases/{survivor.id}/merge", {"other_case_number": duplicate.case_number}
    )
    assert preview.status_code == 200 and duplicate.case_number in preview.get_data(as_text=True)
    done = client.post_form(
        f"/cases/{survivor.id}/merge", {"other_case_number": duplicate.case_number, "confirm": "y"}
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Migrant, duplicate.id).merged_into_id == survivor.id
    assert (
        db.session.scalar(sa.select(sa.func.count(Visit.id)).where(Visit.migrant_id == survivor.id))
        == 1
    )
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Consent.id)).where(Consent.migrant_id == survivor.id)
        )
        == 6
    )
    assert client.get(f"/cases/{duplicate.id}").headers["Location"] == f"/cases/{survivor.id}"
    found = client.get("/cases/", query_string={"q": duplicate.case_number}).get_data(as_text=True)
    assert (
        f'href="/cases/{duplicate.id}"' in found and "merged" in found
    )  # the old number still finds it
    assert f'href="/cases/{duplicate.id}"' not in client.get("/cases/?q=petrovic").get_data(
        as_text=True
    )
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"migrant.merged", "migrant.merge_survivor"} <= actions


def test_counsellor_cannot_merge(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    assert client.get(f"/cases/{migrant.id}/merge").status_code == 403
