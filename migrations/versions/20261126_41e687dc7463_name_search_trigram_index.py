"""name search: trigram index on migrant.name_key

PostgreSQL: the pg_trgm extension and a GIN index on name_key with gin_trgm_ops, which answers
the word-similarity operator (%>) the search uses, so a typo anywhere in a name, even in its first
letters, is found through the index. SQLite: an FTS5 table with the trigram tokenizer over
name_key (external content: it stores only the index, not a copy of the names), kept in step by
triggers. Neither object is a model: msc.migrants.queries.include_name hides them from
autogenerate.

A later revision that alters the migrant table in batch mode on SQLite recreates the table and
so drops these triggers: it must create them again (SQLITE_TRIGGERS below).

Revision ID: 41e687dc7463
Revises: 061d88250951
Create Date: 2026-11-26 14:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '41e687dc7463'
down_revision = '061d88250951'
branch_labels = None
depends_on = None

# The FTS5 documentation's pattern for an external-content table: delete the old row's tokens,
# insert the new row's (https://sqlite.org/fts5.html#external_content_tables).
SQLITE_TRIGGERS = {
    "migrant_name_fts_insert": """
        CREATE TRIGGER migrant_name_fts_insert AFTER INSERT ON migrant BEGIN
            INSERT INTO migrant_name_fts (rowid, name_key) VALUES (new.id, new.name_key);
        END
    """,
    "migrant_name_fts_delete": """
        CREATE TRIGGER migrant_name_fts_delete AFTER DELETE ON migrant BEGIN
            INSERT INTO migrant_name_fts (migrant_name_fts, rowid, name_key)
            VALUES ('delete', old.id, old.name_key);
        END
    """,
    "migrant_name_fts_update": """
        CREATE TRIGGER migrant_name_fts_update AFTER UPDATE OF name_key ON migrant BEGIN
            INSERT INTO migrant_name_fts (migrant_name_fts, rowid, name_key)
            VALUES ('delete', old.id, old.name_key);
            INSERT INTO migrant_name_fts (rowid, name_key) VALUES (new.id, new.name_key);
        END
    """,
}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_migrant_name_key_trgm ON migrant USING gin (name_key gin_trgm_ops)"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE migrant_name_fts USING fts5("
        "name_key, content='migrant', content_rowid='id', tokenize='trigram', columnsize=0)"
    )
    for statement in SQLITE_TRIGGERS.values():
        op.execute(statement)
    # Index the profiles already there.
    op.execute("INSERT INTO migrant_name_fts (migrant_name_fts) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: other objects may use it, and it holds no data.
        op.execute("DROP INDEX IF EXISTS ix_migrant_name_key_trgm")
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS migrant_name_fts")
