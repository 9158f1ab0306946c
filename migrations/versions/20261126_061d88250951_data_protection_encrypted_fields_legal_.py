"""data protection: encrypted fields, legal hold, second factor

Restricted fields (contact details, protection indicators, notes) become AES-GCM ciphertext
(msc/core/crypto.py); the plain phone digits give way to a blind index. Existing values are
encrypted in place with the configured key, and decrypted again on downgrade.

Revision ID: 061d88250951
Revises: b693a70749b7
Create Date: 2026-11-26 13:57:24.337125

"""
import json

import sqlalchemy as sa
from alembic import op

from msc.core import crypto

# revision identifiers, used by Alembic.
revision = '061d88250951'
down_revision = 'b693a70749b7'
branch_labels = None
depends_on = None

ENCRYPTED = {
    "migrant": ["phone", "email", "protection_indicators", "notes"],
    "visit": ["notes"],
}


def _rewrite(table: str, columns: list[str], transform, extra=None) -> None:
    """Rewrite the columns of every row through transform(table, column, value), in batches.

    `extra(row)` may add derived columns (the phone blind index). executemany keeps a million
    rows to minutes.
    """
    connection = op.get_bind()
    names = columns + (["phone_index"] if extra else [])
    meta = sa.table(table, sa.column("id"), *(sa.column(name, sa.Text) for name in names))
    statement = (
        sa.update(meta)
        .where(meta.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
    )
    rows = connection.execute(
        sa.select(meta.c.id, *(meta.c[name] for name in columns)).where(
            sa.or_(*(meta.c[name].is_not(None) for name in columns))
        )
    ).all()
    for start in range(0, len(rows), 5000):
        batch = []
        for row in rows[start : start + 5000]:
            values = {
                f"new_{name}": None if value is None else transform(table, name, value)
                for name, value in zip(columns, row[1:], strict=True)
            }
            if extra:
                values["new_phone_index"] = extra(row)
            batch.append({"row_id": row.id, **values})
        connection.execute(statement, batch)


def _encrypt(table, column, value):
    if column == "protection_indicators":
        value = json.dumps(json.loads(value), sort_keys=True)
    return crypto.encrypt(value, f"{table}.{column}")


def _decrypt(table, column, value):
    return crypto.decrypt(value, f"{table}.{column}")


def _phone_index(row):
    digits = "".join(ch for ch in row.phone or "" if ch.isdigit())
    return crypto.blind_index(digits[-7:]) if digits else None


def upgrade():
    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_recovery_code_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code'))
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('migrant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_index', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('legal_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('phone', existing_type=sa.String(length=40), type_=sa.Text(),
                              existing_nullable=True)
        batch_op.alter_column('email', existing_type=sa.String(length=254), type_=sa.Text(),
                              existing_nullable=True)
        batch_op.alter_column('protection_indicators', existing_type=sa.JSON(), type_=sa.Text(),
                              existing_nullable=False,
                              postgresql_using='protection_indicators::text')
        batch_op.drop_index(batch_op.f('ix_migrant_centre_phone_digits'))
        batch_op.create_index('ix_migrant_centre_phone_index', ['centre_id', 'phone_index'], unique=False)
        batch_op.drop_column('phone_digits')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))

    # The blind index is computed from the plain phone read in the same pass.
    _rewrite("migrant", ENCRYPTED["migrant"], _encrypt, extra=_phone_index)
    _rewrite("visit", ENCRYPTED["visit"], _encrypt)


def downgrade():
    for table, columns in ENCRYPTED.items():
        _rewrite(table, columns, _decrypt)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')

    with op.batch_alter_table('migrant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.VARCHAR(length=20), nullable=True))
        batch_op.drop_index('ix_migrant_centre_phone_index')
        batch_op.create_index(batch_op.f('ix_migrant_centre_phone_digits'), ['centre_id', 'phone_digits'], unique=False)
        batch_op.alter_column('protection_indicators', existing_type=sa.Text(), type_=sa.JSON(),
                              existing_nullable=False,
                              postgresql_using='protection_indicators::json')
        batch_op.alter_column('email', existing_type=sa.Text(), type_=sa.String(length=254),
                              existing_nullable=True)
        batch_op.alter_column('phone', existing_type=sa.Text(), type_=sa.String(length=40),
                              existing_nullable=True)
        batch_op.drop_column('anonymised_at')
        batch_op.drop_column('legal_hold')
        batch_op.drop_column('phone_index')
    # The plain digits come back from the decrypted phones.
    connection = op.get_bind()
    migrant = sa.table("migrant", sa.column("id"), sa.column("phone", sa.Text),
                       sa.column("phone_digits", sa.String))
    for row in connection.execute(sa.select(migrant.c.id, migrant.c.phone)
                                  .where(migrant.c.phone.is_not(None))).all():
        digits = "".join(ch for ch in row.phone if ch.isdigit())[-15:] or None
        connection.execute(sa.update(migrant).where(migrant.c.id == row.id)
                           .values(phone_digits=digits))

    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))

    op.drop_table('recovery_code')
