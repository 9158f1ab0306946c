"""A visit's topic set (`visit.topic_set`, the bits of its topics) always equals its topic rows.

visit_topic is the record; triggers keep the copy that research counts from (migration
4d2a9c7e1b60). These tests write topics every way there is and compare the two.
"""

import datetime as dt
import os
import re

import flask_migrate
import pytest
import sqlalchemy as sa

from msc import create_app
from msc.core.codelists import codelist
from msc.core.db import db
from msc.core.roles import Role
from msc.visits.models import Visit, topic_bits, visit_topic, visit_topic_bit
from tests.fixtures.app import create_scratch_database

BEFORE_TOPIC_SETS = "2b7d4e1c9a53"


def mismatches(connection) -> list:
    """Visits whose topic set differs from the sum of their topic rows' bits."""
    expected = sa.func.coalesce(
        sa.func.sum(sa.literal(1, sa.BigInteger).op("<<")(visit_topic_bit.c.bit)), 0
    )
    return connection.execute(
        sa.select(Visit.id, Visit.topic_set, expected)
        .outerjoin(visit_topic, visit_topic.c.visit_id == Visit.id)
        .outerjoin(visit_topic_bit, visit_topic_bit.c.topic == visit_topic.c.topic)
        .group_by(Visit.id, Visit.topic_set)
        .having(Visit.topic_set != expected)
    ).all()


def topic_set(visit_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(Visit.topic_set).where(Visit.id == visit_id))


def bits_of(*topics: str) -> int:
    bits = topic_bits(db.session)
    return sum(1 << bits[topic] for topic in topics)


def new_visit(migrant, counsellor) -> Visit:
    visit = Visit(
        migrant_id=migrant.id,
        centre_id=migrant.centre_id,
        counsellor_id=counsellor.id,
        occurred_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
        mode="phone",
        duration_minutes=15,
    )
    db.session.add(visit)
    db.session.flush()
    return visit


def test_every_visit_topic_code_has_a_bit_of_its_own():
    bits = topic_bits(db.session)
    missing = set(codelist("visit_topic").codes) - set(bits)
    assert not missing, f"add these codes to visit_topic_bit in a migration: {sorted(missing)}"
    assert len(set(bits.values())) == len(bits)
    assert all(0 <= bit < 63 for bit in bits.values())  # a BIGINT holds them


def test_a_visit_logged_on_the_page_then_its_topics_changed_in_sql(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    page = client.get(f"/cases/{migrant.id}/visits/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    response = client.post_form(
        f"/cases/{migrant.id}/visits/new",
        {
            "occurred_at": (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT10:30"),
            "mode": "in_person",
            "duration_minutes": "30",
            "topics": ["legal_migration", "trafficking_prevention", "other"],
            "submission_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    visit_id = db.session.scalar(sa.select(Visit.id).where(Visit.migrant_id == migrant.id))
    assert topic_set(visit_id) == bits_of("legal_migration", "trafficking_prevention", "other")

    rows = visit_topic.c
    db.session.execute(sa.delete(visit_topic).where(rows.topic == "other"))
    assert topic_set(visit_id) == bits_of("legal_migration", "trafficking_prevention")
    db.session.execute(
        sa.update(visit_topic).where(rows.topic == "legal_migration").values(topic="recognition")
    )
    assert topic_set(visit_id) == bits_of("recognition", "trafficking_prevention")
    db.session.execute(sa.insert(visit_topic).values(visit_id=visit_id, topic="pre_departure"))
    assert topic_set(visit_id) == bits_of("recognition", "trafficking_prevention", "pre_departure")
    db.session.execute(sa.delete(visit_topic).where(rows.visit_id == visit_id))
    assert topic_set(visit_id) == 0
    db.session.commit()
    assert mismatches(db.session.connection()) == []


def test_a_topic_row_moved_to_another_visit(make_migrant, make_user):
    counsellor = make_user(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    visits = []
    for topics in (["worker_rights", "social_security"], ["worker_rights"]):
        visit = new_visit(migrant, counsellor)
        db.session.execute(
            sa.insert(visit_topic), [{"visit_id": visit.id, "topic": t} for t in topics]
        )
        visits.append(visit.id)
    first, second = visits
    db.session.execute(
        sa.update(visit_topic)
        .where(visit_topic.c.visit_id == first, visit_topic.c.topic == "social_security")
        .values(visit_id=second)
    )
    assert topic_set(first) == bits_of("worker_rights")
    assert topic_set(second) == bits_of("worker_rights", "social_security")
    db.session.commit()
    assert mismatches(db.session.connection()) == []


def test_a_topic_without_a_bit_cannot_be_stored(make_migrant, make_user):
    counsellor = make_user(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    visit = new_visit(migrant, counsellor)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(visit_topic).values(visit_id=visit.id, topic="not_a_topic"))
        db.session.flush()
    db.session.rollback()
    assert topic_set(visit.id) == 0


def test_the_migration_fills_the_topic_sets_of_the_visits_already_there(tmp_path):
    """Demo data at the head, back to the revision before topic sets (the column goes), up again:
    every visit's topic set is filled from its rows, and the triggers are back."""
    from msc.demo.generate import load_demo_data

    url, drop = create_scratch_database(os.environ.get("MSC_TEST_DATABASE_URL"), tmp_path)
    scratch = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    try:
        with scratch.app_context():
            flask_migrate.upgrade()
            load_demo_data(profiles=40)
            db.session.commit()
            db.session.remove()
            flask_migrate.downgrade(revision=BEFORE_TOPIC_SETS)
            assert "topic_set" not in {
                c["name"] for c in sa.inspect(db.engine).get_columns("visit")
            }
            flask_migrate.upgrade()
            with db.engine.begin() as connection:
                filled = connection.scalar(sa.select(sa.func.count()).where(Visit.topic_set != 0))
                assert filled > 40
                assert mismatches(connection) == []
                one = connection.scalar(sa.select(sa.func.min(visit_topic.c.visit_id)))
                connection.execute(sa.delete(visit_topic).where(visit_topic.c.visit_id == one))
                assert connection.scalar(sa.select(Visit.topic_set).where(Visit.id == one)) == 0
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
