"""Key rotation: every encrypted value re-encrypted under the current (first) data key."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from msc.core import audit, crypto
from msc.core.db import db

BATCH = 1000


def rotate() -> dict[str, int]:
    """Re-encrypt every value not yet under the current key; returns rows rewritten per table.

    Runs in batches of committed transactions, so it can be interrupted and run again (a value
    already under the current key is skipped). Blind indexes are recomputed with the new key.
    """
    current = crypto.current_key_id()
    columns_by_table = defaultdict(list)
    for column in crypto.encrypted_columns(db.metadata):
        columns_by_table[column.table].append(column)
    rewritten = {}
    for table, columns in columns_by_table.items():
        rewritten[table.name] = _rotate_table(table, columns, current)
    audit.record("keys.rotated", fields=[f"{name}:{n}" for name, n in rewritten.items()])
    db.session.commit()
    return rewritten


def _rotate_table(table: sa.Table, columns: list[sa.Column], current: str) -> int:
    # Raw ciphertext: the columns read as plain text, so nothing is decrypted by the type.
    raw = [sa.type_coerce(column, sa.Text).label(column.name) for column in columns]
    stale = sa.or_(*(sa.and_(c.is_not(None), ~c.like(f"{crypto.PREFIX}:{current}:%")) for c in raw))
    count, last_id = 0, 0
    while True:
        rows = db.session.execute(
            sa.select(table.c.id, *raw)
            .where(stale, table.c.id > last_id)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return count
        for row in rows:
            values = {}
            for column in columns:
                stored = getattr(row, column.name)
                if stored is None:
                    continue
                context = column.type.context
                fresh = crypto.encrypt(crypto.decrypt(stored, context), context)
                # A literal typed as plain text, so the column type does not encrypt it again.
                values[column.name] = sa.literal(fresh, sa.Text)
            if table.name == "migrant" and row.phone is not None:
                from msc.migrants.operations import phone_index

                values["phone_index"] = phone_index(crypto.decrypt(row.phone, "migrant.phone"))
            db.session.execute(sa.update(table).where(table.c.id == row.id).values(**values))
        count += len(rows)
        last_id = rows[-1].id
        db.session.commit()
