"""Requests at the same moment, on SQLite (WAL, busy timeout, BEGIN IMMEDIATE for writes) and
PostgreSQL: no lost update, no double record, no "database is locked".

test_migrants and test_referrals already prove the version check with requests one after the
other; here the requests really overlap (threads, a barrier, a hook that holds a request at
the point where the race would do harm).
"""

from __future__ import annotations

import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Migrant
from msc.referrals.models import Referral
from msc.visits.models import GroupSession, Visit, WalkIn
from tests.fixtures.factories import log_in
from tests.integration import test_extra_fields
from tests.integration.test_extra_fields import CASES, fill

world = test_extra_fields.world  # the fixture: the records every form works on
TOKEN = re.compile(r'name="submission_token" type="hidden" value="([0-9a-f]+)"')


def app_engine(app) -> sa.Engine:
    with app.app_context():
        return db.engine


def logged_in(app, user):
    client = app.test_client()
    assert log_in(client, user.username).status_code == 302
    return client


def at_once(*calls):
    """Runs the calls in threads released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(run, call) for call in calls]]


class HoldBefore:
    """Holds every request at its first statement starting with `prefix` until `parties`
    requests got there (or a second passed: on SQLite the other one is still waiting for the
    write lock, which is the point), so both have read before either writes."""

    def __init__(self, engine, prefix: str, parties: int = 2):
        self.engine, self.prefix = engine, prefix.upper()
        self.barrier = threading.Barrier(parties, timeout=1)

    def before(self, _conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(self.prefix):
            with contextlib.suppress(threading.BrokenBarrierError):
                self.barrier.wait()

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self.before)
        return self

    def __exit__(self, *_exc):
        sa.event.remove(self.engine, "before_cursor_execute", self.before)


# --- two people save the same record -----------------------------------------------------------

EDITS = {
    # endpoint: (second user, column, the two values)
    "migrants.edit": ("supervisor", "family_name", ("Ilić", "Marić")),
    "referrals.edit": ("counsellor", "reason", ("First reason.", "Second reason.")),
    "centres.edit_centre": ("admin", "name", ("First name", "Second name")),
    "directory.edit_partner": ("admin", "name", ("First partner", "Second partner")),
}


@pytest.mark.parametrize("endpoint", sorted(EDITS))
def test_two_people_saving_the_same_record_at_once_lose_no_update(app, world, make_user, endpoint):
    case = CASES[endpoint]
    second_role, column, values = EDITS[endpoint]
    first_user = world.user(case.role)
    second_user = (
        make_user(first_user.role, centre=world.centre)
        if second_role == case.role.value
        else getattr(world, second_role)
    )
    clients = [logged_in(app, first_user), logged_in(app, second_user)]
    url, page = case.url(world), (case.page or case.url)(world)
    # Both opened the form on the same version before either saved.
    forms = [
        fill(c, page, url, case.data(world, 0) | {column: v})
        for c, v in zip(clients, values, strict=True)
    ]
    # Both pass the version check before either writes (on PostgreSQL; SQLite lets the second
    # in only after the first committed): the row's version then refuses the late UPDATE.
    with HoldBefore(app_engine(app), f"UPDATE {case.model.__tablename__} "):
        responses = at_once(
            *[lambda c=c, f=f: c.post(url, data=f) for c, f in zip(clients, forms, strict=True)]
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [302, 409], statuses
    winner = values[[r.status_code for r in responses].index(302)]
    db.session.expire_all()
    assert getattr(db.session.get(case.model, case.row(world)), column) == winner
    loser = responses[[r.status_code for r in responses].index(409)]
    assert "someone else" in loser.get_data(as_text=True).lower()


# --- one form sent twice at the same moment (a double click) -----------------------------------

DOUBLE_POSTS = {
    "migrants.register": (Migrant, "INSERT INTO migrant "),
    "referrals.new": (Referral, "INSERT INTO referral "),
    "visits.new_visit": (Visit, "INSERT INTO visit "),
    "visits.new_group_session": (GroupSession, "INSERT INTO group_session "),
    "visits.new_walk_in": (WalkIn, "INSERT INTO walk_in "),
}


@pytest.mark.parametrize("endpoint", sorted(DOUBLE_POSTS))
def test_the_same_form_sent_twice_at_once_saves_one_record(app, world, endpoint):
    case = CASES[endpoint]
    model, insert = DOUBLE_POSTS[endpoint]
    user = world.user(case.role)
    client = logged_in(app, user)  # one browser, the button clicked twice
    url = case.url(world)
    form = fill(client, url, url, case.data(world, 0))
    assert form["submission_token"][0]
    before = db.session.scalar(sa.select(sa.func.count(model.id)))
    with HoldBefore(app_engine(app), insert):
        responses = at_once(*[lambda: client.post(url, data=form)] * 2)
    statuses = sorted(r.status_code for r in responses)
    # The first is saved; the second finds it (302 to it) or, when both got past that check
    # at once (PostgreSQL), the unique token refuses it (409 "already saved"). Never a 500.
    assert statuses in ([302, 302], [302, 409]), statuses
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(model.id))) == before + 1


# --- many writers: SQLite's lock is waited for, not failed -------------------------------------


def test_eight_counsellors_log_400_walk_ins_at_once_and_all_are_saved(app, make_user, centre):
    threads, per_thread = 8, 50
    users = [make_user(Role.COUNSELLOR, centre=centre) for _ in range(threads)]
    clients = [logged_in(app, user) for user in users]

    def write_walk_ins(client):
        statuses = []
        for _ in range(per_thread):
            page = client.get("/walk-ins/new").get_data(as_text=True)
            data = {
                "csrf_token": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1),
                "submission_token": TOKEN.search(page).group(1),
                "occurred_at": re.search(r'name="occurred_at"[^>]* value="([^"]+)"', page).group(1),
                "sex": "F",
                "age_band": "25-34",
                "topics": ["other"],
            }
            statuses.append(client.post("/walk-ins/new", data=data).status_code)
        return statuses

    results = at_once(*[lambda c=c: write_walk_ins(c) for c in clients])
    answers = [status for statuses in results for status in statuses]
    assert answers.count(302) == threads * per_thread, sorted(set(answers))
    counts = db.session.execute(
        sa.select(WalkIn.counsellor_id, sa.func.count(WalkIn.id)).group_by(WalkIn.counsellor_id)
    ).all()
    assert sorted(n for _user, n in counts) == [per_thread] * threads
    assert {c for c, _n in counts} == {u.id for u in users}


def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path):
    """What the 400 writers above rely on when the database is SQLite (checked on a file of
    its own, so that the PostgreSQL pass checks it too)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pragmas.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
