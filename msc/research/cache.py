"""Previews and the report show a table computed in the last few minutes.

Counting a table over a national population and auditing its suppression takes seconds of both
cores; researchers open the same tables again and again while counsellors work. Statistics are
released from a snapshot anyway, so a preview shows the protected table computed less than
RESEARCH_CACHE_SECONDS ago, with the time it was computed. `flask msc research refresh`, run
every few minutes by the research server's scheduler, keeps every table's preview computed, off the
counsellors' request path. Releases (the zip, the XLSX, the command-line export) are always
computed afresh, audited and recorded in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from msc.core.db import db, utcnow
from msc.research.catalogue import TableSpec
from msc.research.disclosure import MIN_THRESHOLD, TooLong, deadline, table_rows
from msc.research.models import ResearchTableCache
from msc.research.package import Request, build_table


def cache_key(spec: TableSpec, request: Request) -> str:
    """Everything that changes a protected table's published rows (not the language: rows hold
    codes, labels are added when shown)."""
    config = current_app.config
    parts = {
        "table": spec.id,
        "from": request.start.isoformat() if request.start else None,
        "to": request.end.isoformat() if request.end else None,
        "period": request.granularity,
        "geography": spec.geography_for(request.geography),
        "threshold": max(config["RESEARCH_THRESHOLD"], MIN_THRESHOLD),
        "rounding": config["RESEARCH_ROUNDING_BASE"],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# Tables a page could not protect in time, until when this process does not try again: a reload
# would hold a web worker for another RESEARCH_PREVIEW_SECONDS to the same end.
_too_long_until: dict[str, datetime] = {}


def rows_in_time(spec: TableSpec, request: Request) -> tuple[list[dict], datetime]:
    """`protected_rows` for a page, given up (TooLong) before the web server's timeout would cut
    the request off: by month and region a national table takes minutes."""
    key, now = cache_key(spec, request), utcnow()
    if _too_long_until.get(key, now) > now:
        raise TooLong
    limit, started = current_app.config["RESEARCH_PREVIEW_SECONDS"], time.monotonic()
    try:
        with deadline(limit):
            return protected_rows(spec, request)
    except TooLong:
        if time.monotonic() - started >= limit:  # it took all the time alone, not a remainder
            seconds = max(current_app.config["RESEARCH_CACHE_SECONDS"], 60)
            _too_long_until[key] = now + timedelta(seconds=seconds)
        raise


def protected_rows(spec: TableSpec, request: Request) -> tuple[list[dict], datetime]:
    """The table's published rows (disclosure control applied) and when they were computed."""
    seconds = current_app.config["RESEARCH_CACHE_SECONDS"]
    now = utcnow()
    if seconds <= 0:
        return table_rows(build_table(spec, request)), now
    cached = db.session.get(ResearchTableCache, cache_key(spec, request))
    if cached is not None and now - cached.computed_at < timedelta(seconds=seconds):
        return cached.rows, cached.computed_at
    return refresh(spec, request, now)


def refresh(
    spec: TableSpec, request: Request, now: datetime | None = None
) -> tuple[list[dict], datetime]:
    """Count and protect the table now and keep it for the previews (`flask msc research
    refresh`, run on a schedule, does this for every table so that no researcher waits).
    The page and the snapshot give the same time: when the count began."""
    computed_at = now or utcnow()
    rows = table_rows(build_table(spec, request))
    _store(cache_key(spec, request), computed_at, rows)
    return rows, computed_at


def _store(key: str, computed_at: datetime, rows: list[dict]) -> None:
    """Replace the cached rows in a transaction of its own, so that the view's session keeps no
    write lock while it renders. Two workers computing the same table at once: one wins.
    Snapshots past the cache period go too: each range of months a researcher previews is a
    snapshot of its own, and nothing would ever read an old one again."""
    table = ResearchTableCache.__table__
    expired = computed_at - timedelta(seconds=current_app.config["RESEARCH_CACHE_SECONDS"])
    try:
        with db.engine.begin() as connection:
            connection.execute(
                sa.delete(table).where(sa.or_(table.c.key == key, table.c.computed_at < expired))
            )
            connection.execute(sa.insert(table).values(key=key, computed_at=computed_at, rows=rows))
    except IntegrityError:
        pass
