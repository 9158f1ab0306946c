"""The release ledger: every package that left the system, who took it, and its fingerprint."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from msc.core.db import UTCDateTime, db, utcnow


class ResearchRelease(db.Model):
    __tablename__ = "research_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))  # None: command line
    kind: Mapped[str] = mapped_column(sa.String(16))  # download, export, merge
    tables: Mapped[list] = mapped_column(sa.JSON, default=list)
    parameters: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.Integer)

    user = relationship("User", lazy="raise")


def record_release(
    kind: str, data: bytes, tables, parameters: dict, user_id: int | None
) -> ResearchRelease:
    import hashlib

    from msc.core import audit

    release = ResearchRelease(
        kind=kind,
        tables=list(tables),
        parameters=parameters,
        user_id=user_id,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    db.session.add(release)
    audit.record(f"research.{kind}", release, user_id=user_id)
    return release


class ResearchTableCache(db.Model):
    """Protected tables computed lately for the previews and the report (research/cache.py).

    Only what disclosure control lets out: codes, published values and statuses.
    """

    __tablename__ = "research_table_cache"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[list] = mapped_column(sa.JSON)


class ResearchJob(db.Model):
    """A package a researcher asked for, prepared in the background (research/jobs.py): a whole
    release over a national population by month takes minutes, longer than a web request may.

    It holds only the released file (disclosure-controlled aggregates), kept for a few days, and
    a hub's merged package while it waits for its audit (erased if it does not pass)."""

    __tablename__ = "research_job"

    QUEUED, RUNNING, READY, FAILED = "queued", "running", "ready", "failed"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # download (the zip) or xlsx, asked for by a researcher; merge, a regional hub's package
    kind: Mapped[str] = mapped_column(sa.String(16))
    tables: Mapped[list] = mapped_column(sa.JSON, default=list)
    parameters: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default=QUEUED)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # audit, error, interrupted, too_long
    failure: Mapped[str | None] = mapped_column(sa.String(16))
    data: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int | None] = mapped_column(sa.Integer)
