"""name search: nearest matches first, per centre (PostgreSQL)

The GIN trigram index (41e687dc7463) returned every profile of the country whose name was like
a typed word, and the search then read each of them: a common family name alone matched some
100,000 profiles at a million, 100-250 ms a search. This GiST index on (centre_id, name_key)
answers `centre_id = ? AND name_key %> ? ORDER BY name_key <->> ? LIMIT n` as a nearest-
neighbour scan of one centre's live profiles: 3-20 ms whatever the name. btree_gist lets GiST
index the centre's integer beside the trigrams; like pg_trgm it is a trusted extension
(PostgreSQL 13+). SQLite keeps its FTS5 table.

Revision ID: 5c1f0e9a7b21
Revises: 371aae763e40
Create Date: 2026-11-26 17:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5c1f0e9a7b21'
down_revision = '371aae763e40'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "CREATE INDEX ix_migrant_centre_name_trgm ON migrant "
        "USING gist (centre_id, name_key gist_trgm_ops) "
        "WHERE merged_into_id IS NULL AND anonymised_at IS NULL"
    )
    op.execute("DROP INDEX IF EXISTS ix_migrant_name_key_trgm")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_migrant_name_key_trgm ON migrant USING gin (name_key gin_trgm_ops)"
    )
    # The extension stays: other objects may use it, and it holds no data.
    op.execute("DROP INDEX IF EXISTS ix_migrant_centre_name_trgm")
