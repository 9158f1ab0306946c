"""Anonymisation: retention after a period without activity, and erasure on request.

What is cleared comes from the data inventory: identifying and restricted columns of the person's
rows are cleared, statistical ones kept or coarsened, so research tables stay countable (GDPR
art. 5(1)(e) and 17; IOM Data Protection Principle 9). A legal hold exempts a case.

Every anonymisation is also appended to a journal file outside the database (ids and times only),
so `flask msc restore` can re-apply the anonymisations made after the backup it restores.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from msc.core import audit
from msc.core.crypto import EncryptedJSON
from msc.core.db import db, utcnow
from msc.migrants.models import Migrant
from msc.protection.inventory import COARSEN, anonymisation_plan
from msc.referrals.models import Referral, ReferralEvent
from msc.visits.models import Visit, group_session_attendee

BATCH = 500


def _cleared(column: sa.Column, action: str, row_id_expr):
    """The value a cleared or coarsened column takes."""
    if column.name == "case_number":
        # Unique and required: a number that no longer links to paper files.
        return sa.literal("ANON-") + sa.cast(row_id_expr, sa.String)
    if action == COARSEN or column.nullable:
        return None  # residence region coarsened to the country, which is kept
    if isinstance(column.type, sa.JSON | EncryptedJSON):
        return []
    return ""


def _clear(table: sa.Table, where) -> None:
    plan = anonymisation_plan(table)
    if not plan:
        return
    values = {name: _cleared(table.c[name], action, table.c.id) for name, action in plan.items()}
    db.session.execute(sa.update(table).where(where).values(**values))


def anonymise(migrant: Migrant, *, reason: str, force: bool = False) -> bool:
    """Clear the person's identifying and restricted data; False when held or already done.

    `force` ignores the legal hold: only for re-applying an erasure made before a restore.
    """
    if migrant.anonymised_at is not None or (migrant.legal_hold and not force):
        return False
    journal_append([migrant.id])
    _anonymise_rows([migrant.id])
    audit.record("migrant.anonymised", migrant, fields=[reason])
    db.session.expire(migrant)
    return True


def _anonymise_rows(migrant_ids: list[int]) -> None:
    migrant, visit = Migrant.__table__, Visit.__table__
    referral, event = Referral.__table__, ReferralEvent.__table__
    _clear(visit, visit.c.migrant_id.in_(migrant_ids))
    _clear(referral, referral.c.migrant_id.in_(migrant_ids))
    referral_ids = sa.select(referral.c.id).where(referral.c.migrant_id.in_(migrant_ids))
    _clear(event, event.c.referral_id.in_(referral_ids))
    _clear(migrant, migrant.c.id.in_(migrant_ids))
    db.session.execute(
        sa.update(migrant)
        .where(migrant.c.id.in_(migrant_ids))
        .values(anonymised_at=utcnow(), version_id=migrant.c.version_id + 1)
    )


def inactive_since(cutoff: datetime):
    """Profiles without any activity since the cutoff, not held, not yet anonymised."""
    recent_visit = sa.exists().where(Visit.migrant_id == Migrant.id, Visit.occurred_at >= cutoff)
    recent_referral = sa.exists().where(
        Referral.migrant_id == Migrant.id, Referral.updated_at >= cutoff
    )
    from msc.visits.models import GroupSession

    recent_session = sa.exists().where(
        group_session_attendee.c.migrant_id == Migrant.id,
        group_session_attendee.c.group_session_id == GroupSession.id,
        GroupSession.occurred_on >= cutoff.date(),
    )
    return sa.select(Migrant.id, Migrant.centre_id).where(
        Migrant.anonymised_at.is_(None),
        Migrant.legal_hold.is_(False),
        Migrant.updated_at < cutoff,
        ~recent_visit,
        ~recent_referral,
        ~recent_session,
    )


def run_retention(years: int | None = None, *, now: datetime | None = None, echo=None) -> int:
    """Anonymise every profile inactive for `years`; idempotent; commits per batch."""
    years = years or current_app.config["RETENTION_YEARS"]
    cutoff = (now or utcnow()) - timedelta(days=round(365.25 * years))
    done = 0
    while True:
        rows = db.session.execute(inactive_since(cutoff).order_by(Migrant.id).limit(BATCH)).all()
        if not rows:
            break
        ids = [row.id for row in rows]
        _anonymise_rows(ids)
        for row in rows:
            audit.record("migrant.anonymised", _Ref(row.id, row.centre_id), fields=["retention"])
        journal_append(ids)
        db.session.commit()
        done += len(ids)
        if echo:
            echo(f"{done} profiles anonymised")
    return done


class _Ref:
    """Enough of a profile for an audit row, without loading it."""

    __tablename__ = "migrant"

    def __init__(self, migrant_id: int, centre_id: int):
        self.id = migrant_id
        self.centre_id = centre_id


# --- the journal of anonymisations, kept outside the database -----------------------------------


def journal_path() -> Path:
    configured = current_app.config.get("ERASURE_JOURNAL")
    return Path(configured) if configured else Path(current_app.instance_path) / "erasure-journal"


def journal_append(migrant_ids: list[int]) -> None:
    """Journal the profiles once the transaction that anonymises them commits (not on rollback).

    A line is `<time> <id> <created_at>`: the creation time makes sure that an id given again
    after a restore to an older backup never matches.
    """
    created = db.session.execute(
        sa.select(Migrant.id, Migrant.created_at).where(Migrant.id.in_(migrant_ids))
    ).all()
    entries = [f"{row.id} {row.created_at.isoformat()}" for row in created]
    session = db.session()
    session.info.setdefault(JOURNAL_KEY, (journal_path(), []))[1].extend(entries)


JOURNAL_KEY = "msc_erasure_journal"


@sa.event.listens_for(Session, "after_commit")
def _write_journal(session) -> None:
    pending = session.info.pop(JOURNAL_KEY, None)
    if pending:
        path, ids = pending
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with path.open("a", encoding="ascii") as journal:
            journal.writelines(f"{stamp} {entry}\n" for entry in ids)


@sa.event.listens_for(Session, "after_rollback")
def _drop_journal(session) -> None:
    session.info.pop(JOURNAL_KEY, None)


def reapply_journal() -> int:
    """Anonymise again every journalled profile a restored database still holds in clear."""
    path = journal_path()
    if not path.exists():
        return 0
    journalled = {
        (int(parts[1]), parts[2])
        for parts in (line.split() for line in path.read_text().splitlines())
        if len(parts) == 3
    }
    candidates = db.session.execute(
        sa.select(Migrant.id, Migrant.centre_id, Migrant.created_at).where(
            Migrant.id.in_({migrant_id for migrant_id, _created in journalled}),
            Migrant.anonymised_at.is_(None),
        )
    ).all()
    pending = [row for row in candidates if (row.id, row.created_at.isoformat()) in journalled]
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        _anonymise_rows([row.id for row in batch])
        for row in batch:
            audit.record("migrant.anonymised", _Ref(row.id, row.centre_id), fields=["restore"])
    db.session.commit()
    return len(pending)
