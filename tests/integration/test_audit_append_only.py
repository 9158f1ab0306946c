"""The audit log is append-only: PostgreSQL refuses changes; the application never tries any."""

import pytest
import sqlalchemy as sa

from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from tests.fixtures.factories import log_in


@pytest.mark.postgresql
def test_postgresql_refuses_update_and_delete_of_audit_rows(make_user):
    make_user(Role.ADMIN)  # writes user.created
    for statement in (sa.update(AuditEvent).values(action="forged"), sa.delete(AuditEvent)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) >= 1


def test_the_application_never_updates_or_deletes_audit_rows(
    app, client, make_user, make_migrant, count_queries
):
    """A day of work through the pages, watching every SQL statement sent."""
    counsellor = make_user(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    statements = []

    def watch(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", watch)
    try:
        log_in(client, counsellor.username)
        client.get(f"/cases/{migrant.id}")
        client.get(f"/cases/{migrant.id}/information-sheet")
        client.post_form(
            f"/cases/{migrant.id}/consents",
            {
                "purpose": "follow_up",
                "basis": "consent",
                "given_on": "2026-02-01",
                "informed_language": "sr",
            },
            page=f"/cases/{migrant.id}",
        )
        client.post_form("/logout")
        admin = app.test_client()
        log_in(admin, make_user(Role.ADMIN).username)
        admin.get("/admin/audit")
        admin.post_form(f"/admin/users/{counsellor.id}/reset-password")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", watch)
    touching = [
        s
        for s in statements
        if "audit_event" in s and s.lstrip().upper().startswith(("UPDATE", "DELETE"))
    ]
    assert touching == []
    assert any(s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT") for s in statements)
