"""visit topic sets: a visit's topics also as bits on the visit row, kept by triggers

The research table of visits by topic counts, per topic, period and country, the visits and the
distinct persons. Read from visit_topic that is a COUNT(DISTINCT) over every visit-topic row and
a second pass for the persons found in several cells. With the topics as bits on the visit row
it is one pass over the visits (README, "Research tables").

visit_topic stays the record. visit_topic_bit gives each topic code its bit for good, and
visit_topic.topic refers to it, so no topic can be stored without a bit. Triggers on visit_topic
keep visit.topic_set equal to the sum of its topics' bits, whatever writes the rows (the
application, the demo data, a correction in SQL). A row trigger changes the visit only when its
bit is not already right, so rows written with their topic set already filled (the demo data)
cost no second version of the visit on PostgreSQL.

Revision ID: 4d2a9c7e1b60
Revises: 2b7d4e1c9a53
Create Date: 2026-11-26 23:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '4d2a9c7e1b60'
down_revision = '2b7d4e1c9a53'
branch_labels = None
depends_on = None

# The codes of msc/data/codelists/visit_topic.json 2026.1, in its order: bit 0, 1, ...
TOPICS = [
    'legal_migration', 'visas_permits', 'recognition', 'job_search_home', 'vocational_training',
    'self_employment', 'worker_rights', 'irregular_risks', 'trafficking_prevention',
    'return_reintegration', 'social_security', 'pre_departure', 'other',
]

NEW_BIT = "(SELECT 1 << bit FROM visit_topic_bit WHERE topic = NEW.topic)"
OLD_BIT = "(SELECT 1 << bit FROM visit_topic_bit WHERE topic = OLD.topic)"
SET_BIT = f"""
    UPDATE visit SET topic_set = topic_set | {NEW_BIT}
    WHERE id = NEW.visit_id AND topic_set & {NEW_BIT} = 0;
"""
CLEAR_BIT = f"""
    UPDATE visit SET topic_set = topic_set & ~{OLD_BIT}
    WHERE id = OLD.visit_id AND topic_set & {OLD_BIT} <> 0;
"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER visit_topic_set_insert AFTER INSERT ON visit_topic BEGIN {SET_BIT} END",
    f"CREATE TRIGGER visit_topic_set_delete AFTER DELETE ON visit_topic BEGIN {CLEAR_BIT} END",
    "CREATE TRIGGER visit_topic_set_update AFTER UPDATE ON visit_topic"
    f" BEGIN {CLEAR_BIT} {SET_BIT} END",
]

# (visit_id, topic) is the key and bits are unique: setting or clearing one bit is exact.
POSTGRESQL_FUNCTION = """
    CREATE FUNCTION visit_topic_set_keep() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE visit SET topic_set = topic_set & ~b.mask
            FROM (SELECT CAST(1 AS BIGINT) << bit AS mask
                  FROM visit_topic_bit WHERE topic = OLD.topic) AS b
            WHERE visit.id = OLD.visit_id AND visit.topic_set & b.mask <> 0;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE visit SET topic_set = topic_set | b.mask
            FROM (SELECT CAST(1 AS BIGINT) << bit AS mask
                  FROM visit_topic_bit WHERE topic = NEW.topic) AS b
            WHERE visit.id = NEW.visit_id AND visit.topic_set & b.mask = 0;
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
"""


def upgrade():
    bits = op.create_table(
        'visit_topic_bit',
        sa.Column('topic', sa.String(length=32), nullable=False),
        sa.Column('bit', sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint('topic', name=op.f('pk_visit_topic_bit')),
        sa.UniqueConstraint('bit', name=op.f('uq_visit_topic_bit_bit')),
    )
    op.bulk_insert(bits, [{'topic': code, 'bit': n} for n, code in enumerate(TOPICS)])
    # A code stored that the list no longer holds (none is expected) gets the next bits.
    op.execute(
        f"""
        INSERT INTO visit_topic_bit (topic, bit)
        SELECT topic, {len(TOPICS) - 1} + ROW_NUMBER() OVER (ORDER BY topic)
        FROM (SELECT DISTINCT topic FROM visit_topic
              WHERE topic NOT IN (SELECT topic FROM visit_topic_bit)) AS unknown
        """
    )
    with op.batch_alter_table('visit_topic') as batch_op:
        batch_op.create_foreign_key(
            batch_op.f('fk_visit_topic_topic_visit_topic_bit'), 'visit_topic_bit',
            ['topic'], ['topic'],
        )
    with op.batch_alter_table('visit') as batch_op:
        batch_op.add_column(
            sa.Column('topic_set', sa.BigInteger(), server_default='0', nullable=False)
        )
    op.execute(
        """
        UPDATE visit SET topic_set = (
            SELECT COALESCE(SUM(CAST(1 AS BIGINT) << b.bit), 0)
            FROM visit_topic AS t JOIN visit_topic_bit AS b ON b.topic = t.topic
            WHERE t.visit_id = visit.id
        ) WHERE id IN (SELECT visit_id FROM visit_topic)
        """
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(
            """
            CREATE TRIGGER visit_topic_set AFTER INSERT OR UPDATE OR DELETE ON visit_topic
            FOR EACH ROW EXECUTE FUNCTION visit_topic_set_keep()
            """
        )
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS visit_topic_set ON visit_topic')
        op.execute('DROP FUNCTION IF EXISTS visit_topic_set_keep()')
    else:
        for event in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER IF EXISTS visit_topic_set_{event}')
    with op.batch_alter_table('visit') as batch_op:
        batch_op.drop_column('topic_set')
    with op.batch_alter_table('visit_topic') as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_visit_topic_topic_visit_topic_bit'), type_='foreignkey'
        )
    op.drop_table('visit_topic_bit')
