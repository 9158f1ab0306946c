"""indexes for the case list and research consent checks

The case list counts and orders a centre's live profiles: a partial index answers both. The
research tables check each person's statistics basis: a consent index answers it alone. Plain
CREATE INDEX (no batch mode), so SQLite does not rebuild `migrant` and its name-search triggers.

Revision ID: 612447e9614e
Revises: 41e687dc7463
Create Date: 2026-11-26 15:31:05.620699

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '612447e9614e'
down_revision = '41e687dc7463'
branch_labels = None
depends_on = None

LIVE = sa.text("merged_into_id IS NULL AND anonymised_at IS NULL")


def upgrade():
    op.create_index('ix_consent_migrant_purpose', 'consent',
                    ['migrant_id', 'purpose', 'withdrawn_on'], unique=False)
    op.create_index('ix_migrant_centre_live_updated', 'migrant', ['centre_id', 'updated_at'],
                    unique=False, postgresql_where=LIVE, sqlite_where=LIVE)


def downgrade():
    op.drop_index('ix_migrant_centre_live_updated', table_name='migrant')
    op.drop_index('ix_consent_migrant_purpose', table_name='consent')
