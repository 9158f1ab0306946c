"""Faults: the database fails in the middle of a request.

Whatever breaks, the person gets the 503 page with an incident reference that is also in the log
(and no personal data in the log), nothing of the request is kept (no partial write), and the
next request works again. On PostgreSQL the request's own connection is really killed with
pg_terminate_backend; everywhere an OperationalError is also raised from inside the engine.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Migrant
from tests.integration.test_migrants import post_registration

INCIDENT = re.compile(r"(?:Incident reference: |503 · )([0-9a-f]{12})")


def app_engine(app) -> sa.Engine:
    """The engine the requests use (the app instance, not the test's data_app)."""
    with app.app_context():
        return db.engine


def row_counts() -> dict[str, int]:
    """Rows per table, read through the test's own engine: the proof of no partial write."""
    db.session.remove()
    with db.engine.connect() as connection:
        return {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def starts_with(prefix: str):
    return lambda statement, _parameters: statement.lstrip().upper().startswith(prefix.upper())


@contextmanager
def failing_statement(engine: sa.Engine, when, fail):
    """Calls `fail(connection)` just before the first statement for which
    `when(statement, parameters)` holds, i.e. between two statements of one transaction."""
    fired = []

    def before(connection, _cursor, statement, parameters, *_args):
        if not fired and when(statement, parameters):
            fired.append(statement)
            fail(connection)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield fired
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def raise_operational_error(connection):
    # The driver's own exception, so SQLAlchemy wraps it as it would a real failure
    # (sqlite3: "disk I/O error"; psycopg: a lost server).
    raise connection.dialect.loaded_dbapi.OperationalError("simulated: the database went away")


def assert_503_with_logged_incident(response, caplog):
    html = response.get_data(as_text=True)
    assert response.status_code == 503, html
    assert "Traceback" not in html and "INSERT" not in html
    assert response.headers["Retry-After"] == "5"
    incident = INCIDENT.search(html).group(1)
    assert f"incident {incident}: database unavailable" in caplog.text


@pytest.mark.parametrize("kind", ["OperationalError", "InterfaceError"])
def test_a_database_error_between_two_writes_answers_503_and_keeps_nothing(
    app, client, login_as, caplog, kind
):
    """OperationalError: the server went away or refused; InterfaceError: the driver's own
    connection broke (PEP 249 names both)."""
    login_as(Role.COUNSELLOR)
    before = row_counts()

    def fail(connection):
        raise getattr(connection.dialect.loaded_dbapi, kind)("simulated: connection lost")

    with (
        caplog.at_level(logging.ERROR, logger="msc.errors"),
        failing_statement(app_engine(app), starts_with("INSERT INTO consent"), fail) as fired,
    ):
        response = post_registration(client, given_name="Fault", family_name="Injected")
    assert fired, "the registration never reached its consent rows"
    assert_503_with_logged_incident(response, caplog)
    # The profile row was written before the failure; the rollback took it away again.
    assert row_counts() == before
    # The next request works: the same form, sent again, is saved once.
    again = post_registration(client, given_name="Fault", family_name="Injected")
    assert again.status_code == 302, again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 1


def test_the_error_page_is_shown_even_when_every_statement_fails(app, client, login_as, caplog):
    """The layout reads the user's name (a query); with the database down the page falls back
    to plain HTML instead of failing with a 500."""
    login_as(Role.COUNSELLOR)
    engine = app_engine(app)

    def down(*_args):
        raise_operational_error(_args[0])

    sa.event.listen(engine, "before_cursor_execute", down)
    try:
        with caplog.at_level(logging.ERROR, logger="msc.errors"):
            response = client.get("/cases/")
    finally:
        sa.event.remove(engine, "before_cursor_execute", down)
    assert_503_with_logged_incident(response, caplog)
    assert client.get("/cases/").status_code == 200


def test_logged_database_errors_never_quote_the_values(app, client, make_user, caplog):
    """A database error is logged with its statement but without the values, neither the
    parameters nor the driver's message that may quote them (they may be personal data);
    here the login's username stands for them."""
    secret = "private-person-name-4711"

    def integrity_error(connection):
        # PostgreSQL's own message for a unique violation quotes the value.
        raise connection.dialect.loaded_dbapi.IntegrityError(
            f"duplicate key value violates unique constraint\nDETAIL: Key (username)=({secret})"
        )

    token = client.csrf_token("/login")
    with (
        caplog.at_level(logging.INFO),
        failing_statement(
            app_engine(app), lambda _s, parameters: secret in str(parameters), integrity_error
        ),
    ):
        response = client.post(
            "/login", data={"username": secret, "password": "x" * 12, "csrf_token": token}
        )
    assert response.status_code == 500
    assert "incident" in caplog.text and "IntegrityError" in caplog.text
    assert "FROM user" in caplog.text.replace('"', "")  # the statement, for the developer
    assert secret not in caplog.text


@pytest.mark.postgresql
def test_connection_killed_in_the_middle_of_a_post_answers_503_and_keeps_nothing(
    app, database_url, client, login_as, caplog
):
    """pg_terminate_backend of the request's own connection, sent from a second connection
    after the profile row was written and before its consents are."""
    login_as(Role.COUNSELLOR)
    admin = sa.create_engine(sa.make_url(database_url), isolation_level="AUTOCOMMIT")
    killed = []

    def terminate_own_backend(connection):
        pid = connection.connection.dbapi_connection.info.backend_pid
        with admin.connect() as other:
            # The second argument waits (up to 5 s) until the backend is gone (PostgreSQL 14+).
            killed.append(
                other.scalar(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            )

    before = row_counts()
    try:
        with (
            caplog.at_level(logging.ERROR, logger="msc.errors"),
            failing_statement(
                app_engine(app), starts_with("INSERT INTO consent"), terminate_own_backend
            ),
        ):
            response = post_registration(client, given_name="Killed", family_name="Midway")
    finally:
        admin.dispose()
    assert killed == [True]
    assert_503_with_logged_incident(response, caplog)
    assert "AdminShutdown, sqlstate 57P01" in caplog.text  # admin_shutdown (PostgreSQL, Appendix A)
    assert row_counts() == before
    again = post_registration(client, given_name="Killed", family_name="Midway")
    assert again.status_code == 302, again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 1


@pytest.mark.postgresql
def test_after_a_database_restart_the_first_request_succeeds(app, database_url, client, login_as):
    """Every pooled connection is killed (what a restart or failover does to them); the pool
    checks a connection before lending it (pool_pre_ping), so no request fails."""
    login_as(Role.COUNSELLOR)
    assert client.get("/cases/").status_code == 200  # the pool now holds a used connection
    db.session.remove()  # the test's own session lets go of its connection too
    name = sa.make_url(database_url).database
    admin = sa.create_engine(
        sa.make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            terminated = connection.scalars(
                sa.text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).all()
    finally:
        admin.dispose()
    assert terminated and all(terminated)
    assert client.get("/cases/").status_code == 200
    assert post_registration(client, confirm_new_person="y").status_code == 302
