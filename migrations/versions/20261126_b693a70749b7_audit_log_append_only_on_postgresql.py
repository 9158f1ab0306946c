"""audit log append-only on PostgreSQL

A trigger refuses UPDATE and DELETE on audit_event (OWASP ASVS 7.3.3: logs protected from
modification). SQLite has no roles to stop a determined writer; there the application never
issues either statement, which a test proves.

Revision ID: b693a70749b7
Revises: 96567aab72fd
Create Date: 2026-11-26 13:22:38.419602

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b693a70749b7'
down_revision = '96567aab72fd'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_event_append_only
        BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
