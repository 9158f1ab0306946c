import datetime as dt
import re

import sqlalchemy as sa

from msc.centres.models import Centre
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Consent
from msc.referrals.models import Referral, ReferralEvent
from tests.fixtures.factories import log_in


def setup_case(
    app, make_user, make_migrant, make_directory, consents=("service", "referral", "statistics")
):
    counsellor = make_user(Role.COUNSELLOR)
    centre = db.session.get(Centre, counsellor.centre_id)
    supervisor = make_user(Role.SUPERVISOR, centre=centre)
    migrant = make_migrant(
        counsellor,
        destinations=("DE",),
        occupation_sought="53",
        consents=consents,
        preferred_language="en",
    )
    partner, channel, option = make_directory()
    clients = {}
    for name, user in (("counsellor", counsellor), ("supervisor", supervisor)):
        clients[name] = app.test_client()
        log_in(clients[name], user.username)
    return counsellor, supervisor, migrant, (partner, channel, option), clients


def create_referral(client, migrant, target, category="legal_migration", urgency="normal", **extra):
    data = {
        "category": category,
        "target": target,
        "reason": "Qualified care worker, wants Germany.",
        "urgency": urgency,
        "shared_fields": ["name", "birth", "language"],
    }
    data.update(extra)
    response = client.post_form(f"/cases/{migrant.id}/referrals/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def act(client, referral_id, action, **data):
    version = db.session.scalar(sa.select(Referral.version_id).where(Referral.id == referral_id))
    data.setdefault("version_id", str(version))
    return client.post_form(
        f"/referrals/{referral_id}/do/{action}", data, page=f"/referrals/{referral_id}"
    )


def status(referral_id):
    db.session.expire_all()
    return db.session.get(Referral, referral_id).status


def test_the_whole_life_of_a_referral(app, make_user, make_migrant, make_directory):
    counsellor, supervisor, migrant, (_p, channel, _o), c = setup_case(
        app, make_user, make_migrant, make_directory
    )
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    assert status(rid) == "draft"
    assert act(c["counsellor"], rid, "submit").status_code == 302 and status(rid) == "submitted"
    assert act(c["supervisor"], rid, "return", comment="Add the language level.").status_code == 302
    assert status(rid) == "returned"
    page = c["counsellor"].get(f"/referrals/{rid}/edit").get_data(as_text=True)
    assert "Add the language level." in page
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    edited = c["counsellor"].post_form(
        f"/referrals/{rid}/edit",
        {
            "category": "legal_migration",
            "target": f"channel:{channel.id}",
            "reason": "German B1 certificate.",
            "urgency": "normal",
            "shared_fields": ["name", "birth", "language", "education"],
            "version_id": version,
        },
    )
    assert edited.status_code == 302 and status(rid) == "draft"
    act(c["counsellor"], rid, "submit")
    assert act(c["supervisor"], rid, "approve").status_code == 302 and status(rid) == "approved"
    act(c["counsellor"], rid, "send")
    act(c["counsellor"], rid, "accept")
    assert act(c["counsellor"], rid, "complete", outcome="migrated_legally").status_code == 302
    referral = db.session.get(Referral, rid)
    assert (referral.status, referral.outcome) == ("completed", "migrated_legally")
    assert referral.closed_at is not None and referral.consent_id is not None
    events = db.session.scalars(
        sa.select(ReferralEvent.action)
        .where(ReferralEvent.referral_id == rid)
        .order_by(ReferralEvent.id)
    ).all()
    assert events == [
        "create",
        "submit",
        "return",
        "revise",
        "submit",
        "approve",
        "send",
        "accept",
        "complete",
    ]
    audited = set(
        db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "referral"))
    )
    assert {"referral.submit", "referral.approve", "referral.complete"} <= audited
    slip = c["counsellor"].get(f"/referrals/{rid}/slip").get_data(as_text=True)
    assert migrant.display_name in slip and "Education" in slip and "Phone" not in slip
    migrant.preferred_language = "sq"  # the slip follows the person's language, not the screen's
    db.session.commit()
    assert '<html lang="sq"' in c["counsellor"].get(f"/referrals/{rid}/slip").get_data(as_text=True)


def test_no_submission_without_a_basis_for_referral(app, make_user, make_migrant, make_directory):
    _c, _s, migrant, (_p, channel, _o), c = setup_case(
        app, make_user, make_migrant, make_directory, consents=("service",)
    )
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    response = act(c["counsellor"], rid, "submit")
    assert response.status_code == 409
    assert "no recorded legal basis for referral" in response.get_data(as_text=True)
    assert status(rid) == "draft"


def test_withdrawn_consent_blocks_submission(app, make_user, make_migrant, make_directory):
    _c, _s, migrant, (_p, channel, _o), c = setup_case(app, make_user, make_migrant, make_directory)
    consent = db.session.scalars(
        sa.select(Consent).where(Consent.migrant_id == migrant.id, Consent.purpose == "referral")
    ).one()
    consent.withdrawn_on = dt.date.today()
    db.session.commit()
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    assert act(c["counsellor"], rid, "submit").status_code == 409


def test_urgent_protection_referral_goes_at_once_on_vital_interest(
    app, make_user, make_migrant, make_directory
):
    _c, _s, migrant, (partner, _ch, _o), c = setup_case(
        app, make_user, make_migrant, make_directory, consents=("service",)
    )
    rid = create_referral(
        c["counsellor"], migrant, f"partner:{partner.id}", category="protection", urgency="urgent"
    )
    refused = act(c["counsellor"], rid, "send_urgent")
    assert refused.status_code == 409 and "vital interest" in refused.get_data(as_text=True)
    assert act(c["counsellor"], rid, "send_urgent", vital_interest="y").status_code == 302
    referral = db.session.get(Referral, rid)
    assert referral.status == "sent" and referral.needs_review
    basis = db.session.get(Consent, referral.consent_id)
    assert (basis.purpose, basis.basis) == ("referral", "vital_interest")
    queue = c["supervisor"].get("/referrals/queue").get_data(as_text=True)
    assert "review after sending" in queue  # the supervisor is told
    assert (
        c["supervisor"]
        .post_form(f"/referrals/{rid}/review", {"comment": "Correct."}, page=f"/referrals/{rid}")
        .status_code
        == 302
    )
    db.session.expire_all()
    assert not db.session.get(Referral, rid).needs_review


def test_normal_referral_cannot_skip_review(app, make_user, make_migrant, make_directory):
    _c, _s, migrant, (_p, channel, _o), c = setup_case(app, make_user, make_migrant, make_directory)
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    for action in ("send_urgent", "send", "approve", "complete", "accept"):
        response = act(c["counsellor"], rid, action)
        assert response.status_code == 409, action
    assert status(rid) == "draft"
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ReferralEvent.id)).where(ReferralEvent.referral_id == rid)
        )
        == 1
    )


def test_only_a_supervisor_of_the_centre_reviews_and_never_their_own(
    app, make_user, make_migrant, make_directory
):
    counsellor, supervisor, migrant, (_p, channel, _o), c = setup_case(
        app, make_user, make_migrant, make_directory
    )
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    act(c["counsellor"], rid, "submit")
    assert act(c["counsellor"], rid, "approve").status_code == 409  # a counsellor cannot approve
    other = app.test_client()
    log_in(other, make_user(Role.SUPERVISOR).username)  # a supervisor of another centre
    assert other.get(f"/referrals/{rid}").status_code == 404
    assert (
        other.post_form(
            f"/referrals/{rid}/do/approve", {"version_id": "2"}, page="/supervisor"
        ).status_code
        == 404
    )
    # A supervisor's own referral: created directly, since the form is for counsellors.
    referral = db.session.get(Referral, rid)
    referral.created_by_id = supervisor.id
    db.session.commit()
    response = act(c["supervisor"], rid, "approve")
    assert response.status_code == 409 and "Nobody reviews their own referral" in response.get_data(
        as_text=True
    )
    assert status(rid) == "submitted"


def test_two_supervisors_at_once_one_wins_the_other_sees_what_happened(
    app, make_user, make_migrant, make_directory
):
    counsellor, supervisor, migrant, (_p, channel, _o), c = setup_case(
        app, make_user, make_migrant, make_directory
    )
    second = app.test_client()
    log_in(
        second,
        make_user(Role.SUPERVISOR, centre=db.session.get(Centre, counsellor.centre_id)).username,
    )
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    act(c["counsellor"], rid, "submit")
    version = str(db.session.get(Referral, rid).version_id)
    first = c["supervisor"].post_form(
        f"/referrals/{rid}/do/approve", {"version_id": version}, page=f"/referrals/{rid}"
    )
    late = second.post_form(
        f"/referrals/{rid}/do/reject",
        {"version_id": version, "comment": "No."},
        page=f"/referrals/{rid}",
    )
    assert first.status_code == 302
    assert late.status_code == 409
    html = late.get_data(as_text=True)
    assert "Someone else changed this referral" in html and "Approved" in html
    assert status(rid) == "approved"


def test_decline_and_cancel_need_a_reason(app, make_user, make_migrant, make_directory):
    _c, _s, migrant, (_p, channel, _o), c = setup_case(app, make_user, make_migrant, make_directory)
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    assert act(c["counsellor"], rid, "cancel").status_code == 409
    assert act(c["counsellor"], rid, "cancel", comment="Changed plans.").status_code == 302
    assert status(rid) == "cancelled"
    assert act(c["counsellor"], rid, "submit").status_code == 409  # nothing after a final state


def test_overdue_follow_up_shows_for_counsellor_and_supervisor(
    app, make_user, make_migrant, make_directory
):
    _c, _s, migrant, (_p, channel, _o), c = setup_case(app, make_user, make_migrant, make_directory)
    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    act(c["counsellor"], rid, "submit")
    act(c["supervisor"], rid, "approve")
    act(c["counsellor"], rid, "send")
    referral = db.session.get(Referral, rid)
    referral.due_on = dt.date.today() - dt.timedelta(days=3)
    db.session.commit()
    assert "Follow-up overdue" in c["counsellor"].get("/referrals/").get_data(as_text=True)
    home = c["supervisor"].get("/supervisor").get_data(as_text=True)
    assert "Overdue follow-ups" in home and migrant.case_number in home


def test_suggestions_say_why_they_match(app, make_user, make_migrant, make_directory):
    _c, _s, migrant, (_p, channel, option), c = setup_case(
        app, make_user, make_migrant, make_directory
    )
    html = c["counsellor"].get(f"/cases/{migrant.id}").get_data(as_text=True)
    assert channel.name in html and "Destination: Germany" in html
    assert (
        option.title in html
        and "Occupation: Personal care workers" in html
        and "Nationwide" in html
    )


def test_queue_filters_and_fixed_queries(
    app, make_user, make_migrant, make_directory, count_queries, monkeypatch
):
    counsellor, _s, migrant, (partner, channel, _o), c = setup_case(
        app, make_user, make_migrant, make_directory
    )

    def submit_one(category="legal_migration", target=f"channel:{channel.id}"):
        rid = create_referral(c["counsellor"], migrant, target, category=category)
        act(c["counsellor"], rid, "submit")

    submit_one()
    with count_queries() as few:
        c["supervisor"].get("/referrals/queue")
    for _ in range(8):
        submit_one("protection", f"partner:{partner.id}")
    with count_queries() as many:
        html = c["supervisor"].get("/referrals/queue").get_data(as_text=True)
    assert many() == few()
    assert html.count(migrant.case_number) == 9
    assert "9 referrals waiting" in html
    # Pages of the queue, oldest first: the same queries for every page.
    monkeypatch.setitem(app.config, "PAGE_SIZE", 5)
    with count_queries() as first_page:
        html = c["supervisor"].get("/referrals/queue").get_data(as_text=True)
    assert html.count(migrant.case_number) == 5 and "Page 1 of 2" in html
    with count_queries() as second_page:
        html = c["supervisor"].get("/referrals/queue?page=2").get_data(as_text=True)
    assert html.count(migrant.case_number) == 4 and "Page 2 of 2" in html
    assert first_page() == second_page() == few()
    filtered = (
        c["supervisor"].get("/referrals/queue?category=legal_migration").get_data(as_text=True)
    )
    assert filtered.count(migrant.case_number) == 1
    assert "9" in c["supervisor"].get("/supervisor").get_data(as_text=True)
    with count_queries() as list_few:
        c["counsellor"].get("/referrals/")
    submit_one()
    with count_queries() as list_many:
        html = c["counsellor"].get("/referrals/").get_data(as_text=True)
    assert list_many() == list_few()
    assert "10 referrals" in html and html.count(migrant.case_number) == 5  # PAGE_SIZE is 5 here
    with count_queries() as list_last:
        html = c["counsellor"].get("/referrals/?page=2").get_data(as_text=True)
    assert list_last() == list_few() and "Page 2 of 2" in html
    assert html.count(migrant.case_number) == 5


def test_the_review_queue_and_its_count_read_the_queue_index(
    app, make_user, make_migrant, make_directory
):
    _c, _s, migrant, (_p, channel, _o), c = setup_case(app, make_user, make_migrant, make_directory)
    act(
        c["counsellor"],
        create_referral(c["counsellor"], migrant, f"channel:{channel.id}"),
        "submit",
    )
    sent = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if "FROM referral" in statement and "needs_review" in statement:
            sent.append((statement, parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
    try:
        assert c["supervisor"].get("/referrals/queue").status_code == 200
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)
    assert len(sent) >= 2  # the page and its count
    with db.engine.connect() as connection:
        for statement, parameters in sent:
            if connection.dialect.name == "postgresql":
                # A handful of rows would be read without an index; the point is that the query
                # matches the partial index's predicate, so the planner may use it.
                connection.exec_driver_sql("SET enable_seqscan = off")
                plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars()
            else:
                # SQLite without statistics may pick any index on a few rows; INDEXED BY makes it
                # use this one, and fails ("no query solution") if the WHERE does not imply the
                # partial index's predicate.
                forced = re.sub(
                    r"FROM referral\b",
                    "FROM referral INDEXED BY ix_referral_review_queue",
                    statement,
                    count=1,
                )
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {forced}", parameters)
                plan = (row[-1] for row in rows)
            assert "ix_referral_review_queue" in "\n".join(plan), statement


def test_csv_import_reports_rejected_rows_and_updates_on_reimport(
    app, make_user, client, make_region
):
    supervisor = make_user(Role.SUPERVISOR)
    region = make_region("RS", code="RS-00", name="Beograd")
    log_in(client, supervisor.username)
    csv_text = (
        "external_id,kind,title,provider,occupation,region_code,closing_on,description\n"
        "V-100,vacancy,Welder,Metal works,72,RS-00,2027-01-31,Day shifts\n"
        "V-101,training,German A2,Language school,,,2027-02-01,\n"
        ",vacancy,No id,,,,,\n"
        "V-102,job,Bad kind,,99,XX-1,31.01.2027,\n"
    )
    import io

    response = client.post_form(
        "/local-options/import",
        {"country_code": "RS", "file": (io.BytesIO(csv_text.encode()), "options.csv")},
        page="/local-options/import",
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert "Added: 2. Updated: 0. Rejected: 2." in html
    assert (
        "external_id is required" in html and "kind must be one of: vacancy, training, almp" in html
    )
    assert "occupation must be an ISCO-08" in html and "closing_on must be a date" in html
    from msc.referrals.models import LocalOption

    welder = db.session.scalars(
        sa.select(LocalOption).where(LocalOption.external_id == "V-100")
    ).one()
    assert welder.region_id == region.id and welder.occupation == "72"
    again = csv_text.replace("Welder,Metal works", "Welder (MIG/MAG),Metal works")
    response = client.post_form(
        "/local-options/import",
        {"country_code": "RS", "file": (io.BytesIO(again.encode()), "options.csv")},
        page="/local-options/import",
        content_type="multipart/form-data",
    )
    assert "Added: 0. Updated: 2. Rejected: 2." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(LocalOption.id))) == 2
    db.session.expire_all()
    assert db.session.get(LocalOption, welder.id).title == "Welder (MIG/MAG)"
    bad = client.post_form(
        "/local-options/import",
        {"country_code": "RS", "file": (io.BytesIO("\xff\xfe".encode("latin-1")), "x.csv")},
        page="/local-options/import",
        content_type="multipart/form-data",
    )
    assert "not UTF-8" in bad.get_data(as_text=True)


def test_directory_maintenance_by_role(app, make_user, client):
    counsellor = make_user(Role.COUNSELLOR)
    log_in(client, counsellor.username)
    assert client.get("/partners").status_code == 200
    assert client.get("/partners/new").status_code == 403
    supervisor_client = app.test_client()
    log_in(supervisor_client, make_user(Role.SUPERVISOR).username)
    response = supervisor_client.post_form(
        "/partners/new",
        {
            "name": "Red Cross",
            "kind": "psychosocial",
            "country_code": "RS",
            "services": ["counselling"],
            "countries_served": ["RS"],
            "active": "y",
        },
    )
    assert response.status_code == 302
    foreign = supervisor_client.post_form(
        "/partners/new",
        {
            "name": "Other",
            "kind": "legal_aid",
            "country_code": "AL",
            "services": ["legal_advice"],
            "active": "y",
        },
    )
    assert "only the partners of your country" in foreign.get_data(as_text=True)
    channel = supervisor_client.post_form(
        "/channels/new",
        {
            "destination": "DE",
            "name": "Seasonal work",
            "kind": "seasonal_scheme",
            "occupations": ["6", "92"],
            "valid_from": "2026-01-01",
            "valid_to": "2025-01-01",
            "active": "y",
        },
    )
    assert "The end cannot be before the start." in channel.get_data(as_text=True)


def test_directory_lists_and_supervisor_home_use_a_fixed_number_of_queries(
    app, make_user, make_migrant, make_directory, count_queries
):
    _c, _s, migrant, (partner, channel, option), c = setup_case(
        app, make_user, make_migrant, make_directory
    )
    urls = ["/partners", "/channels", "/local-options", "/referrals/"]

    def measure(client, pages):
        counts = {}
        for url in pages:
            with count_queries() as n:
                assert client.get(url).status_code == 200, url
            counts[url] = n()
        return counts

    rid = create_referral(c["counsellor"], migrant, f"channel:{channel.id}")
    act(c["counsellor"], rid, "submit")
    few = measure(c["counsellor"], urls)
    few_home = measure(c["supervisor"], ["/supervisor"])
    for n in range(6):
        make_directory()
        other = create_referral(
            c["counsellor"], migrant, f"option:{option.id}", category="local_employment"
        )
        act(c["counsellor"], other, "submit")
        make_migrant(_c, given_name=f"Extra{n}")
    assert measure(c["counsellor"], urls) == few
    assert measure(c["supervisor"], ["/supervisor"]) == few_home
