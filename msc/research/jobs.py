"""Research packages prepared in the background.

Counting, protecting and auditing a release can take minutes: every table by month at 100,000
profiles took 32 s to build and 77 s to audit on PostgreSQL, far beyond a web request's timeout
(gunicorn's MSC_TIMEOUT, a proxy's). So a researcher asks for a package, it is queued in the
table research_job, and the researcher's page of packages offers it once it has passed its
audit. RESEARCH_PACKAGES_PREPARED_BY says who prepares it: a thread of the web process that took
the request ("thread"; one package at a time per process, and every worker process may prepare
one), or `flask msc research work` ("worker"), a service of its own that a recycled or
restarted web worker cannot take down, and that puts its package back in the queue when it is
told to stop. A regional hub's merge arrives built (merging is quick)
and is queued for its audit, which costs what a national audit costs. The file is recorded
in the release ledger each time it is downloaded, as a direct download was. Packages are kept
RESEARCH_PACKAGE_DAYS days. A preparer gives a package RESEARCH_PACKAGE_MINUTES (then it is "too
long": the researcher is told to ask for less); one still waiting that long, or still running
well past its time, was left by a process that ended and shows as interrupted.
"""

from __future__ import annotations

import io
import logging
import signal
import threading
import time
import zipfile
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from msc.core.db import db, utcnow
from msc.research.audit import audit_package
from msc.research.disclosure import TooLong, deadline
from msc.research.merge import release_record
from msc.research.models import ResearchJob
from msc.research.package import Request, build_package

log = logging.getLogger(__name__)

# The files a researcher can ask for: the zip, or the workbook inside it.
FILES = {
    "download": ("msc-research-tables.zip", "application/zip"),
    "xlsx": (
        "msc-research-tables.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "merge": ("msc-regional-tables.zip", "application/zip"),
}
PENDING = (ResearchJob.QUEUED, ResearchJob.RUNNING)
NATIONAL = ("download", "xlsx")  # what a researcher may ask for; a "merge" comes from the hub
# A preparer checks its deadline between linear programs, the longest of which takes seconds.
GRACE = timedelta(minutes=5)
_one_at_a_time = threading.Semaphore(1)


def ask(user_id: int, request: Request, kind: str) -> ResearchJob | None:
    """Queue a package for the researcher and start preparing it; None when the same package
    of theirs is still being prepared (a second click, or a reload of the form's answer)."""
    return _queue(
        ResearchJob(
            user_id=user_id, kind=kind, tables=list(request.tables), parameters=request.parameters()
        )
    )


def ask_audit(user_id: int, merged: bytes) -> ResearchJob | None:
    """Queue the audit of a regional package the hub has merged; it is offered once it passes
    (None when the same merge of theirs is still being audited)."""
    tables, parameters = release_record(merged)
    return _queue(
        ResearchJob(
            user_id=user_id, kind="merge", tables=tables, parameters=parameters, data=merged
        )
    )


# Packages are prepared one at a time: one researcher's dozen requests would make everyone
# else's wait past RESEARCH_PACKAGE_MINUTES, and be called interrupted.
WAITING_PER_RESEARCHER = 3


class Busy(Exception):
    """The researcher already has WAITING_PER_RESEARCHER packages waiting or being prepared."""


def _queue(job: ResearchJob) -> ResearchJob | None:
    tidy()
    waiting = db.session.scalars(
        sa.select(ResearchJob).where(
            ResearchJob.user_id == job.user_id, ResearchJob.status.in_(PENDING)
        )
    ).all()
    if any(
        (other.kind, other.tables, other.parameters) == (job.kind, job.tables, job.parameters)
        for other in waiting
    ):
        return None
    if len(waiting) >= WAITING_PER_RESEARCHER:
        raise Busy
    db.session.add(job)
    db.session.commit()
    prepared_by = current_app.config["RESEARCH_PACKAGES_PREPARED_BY"]
    if prepared_by == "thread":
        app = current_app._get_current_object()
        threading.Thread(target=_prepare_in_background, args=(app, job.id), daemon=True).start()
    elif prepared_by == "request":  # tests, and instances that want each request to wait
        prepare(job.id)
    return job  # "worker": `flask msc research work` takes it from the queue


def _prepare_in_background(app: Flask, job_id: int) -> None:
    with app.app_context(), _one_at_a_time:
        try:
            prepare(job_id)
        except Exception:  # not even its failure could be saved: `tidy` calls it interrupted
            log.exception("research package %s: the background preparation failed", job_id)
        finally:
            db.session.remove()


def prepare(job_id: int) -> bool:
    """Build (unless it is a merge) and audit the job's package and keep the file to serve; a
    package that fails its audit is never kept. False when it was not this preparer's to do."""
    table = ResearchJob.__table__
    claimed = db.session.execute(
        table.update()
        .where(table.c.id == job_id, table.c.status == ResearchJob.QUEUED, sa.not_(stale()))
        .values(status=ResearchJob.RUNNING, started_at=utcnow())
    )
    db.session.commit()
    if claimed.rowcount != 1:
        return False  # another preparer has it, or it waited too long (interrupted)
    began = time.monotonic()
    try:
        job = db.session.get(ResearchJob, job_id)
        kind, data = job.kind, job.data  # a merge arrives built; a national package is counted
        request = None if kind == "merge" else Request.from_parameters(job.tables, job.parameters)
        db.session.commit()  # no transaction left open while it counts (minutes, at scale)
        with deadline(current_app.config["RESEARCH_PACKAGE_MINUTES"] * 60):
            if request is not None:
                data, _descriptor = build_package(request)
            problems = audit_package(data)
        if problems:  # a release that fails its own audit is never served
            log.error(
                "research package %s blocked by its audit: %s", job_id, "; ".join(problems[:5])
            )
            _finish(job_id, ResearchJob.FAILED, failure="audit")
            return True
        if kind == "xlsx":
            data = workbook_of(data)
        _finish(job_id, ResearchJob.READY, data=data, size=len(data))
        log.info("research package %s ready in %.1f s", job_id, time.monotonic() - began)
    except TooLong:  # the researcher is told to ask for less; the preparer is free again
        log.warning("research package %s not protected within its time", job_id)
        db.session.rollback()
        _finish(job_id, ResearchJob.FAILED, failure="too_long")
    except Exception:  # the researcher is told; the trace goes to the log
        log.exception("research package %s could not be prepared", job_id)
        db.session.rollback()
        _finish(job_id, ResearchJob.FAILED, failure="error")
    return True


def _finish(job_id: int, status: str, **values) -> None:
    """Only a package still running is finished: one that `tidy` called interrupted meanwhile
    (or erased) stays so, since its researcher was told to ask again."""
    if status == ResearchJob.FAILED:
        values["data"] = None  # a merge that failed its audit is not kept either
    table = ResearchJob.__table__
    db.session.execute(
        table.update()
        .where(table.c.id == job_id, table.c.status == ResearchJob.RUNNING)
        .values(status=status, finished_at=utcnow(), **values)
    )
    db.session.commit()


class Stopped(BaseException):
    """The worker was told to stop (SIGTERM from systemd or a deploy, or Ctrl-C)."""


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def work(until_idle: bool = False, poll_seconds: float = 2.0) -> int:
    """Prepare queued packages, the oldest first, one at a time, until told to stop (or, with
    until_idle, until none is waiting); how many it prepared. A package being prepared when the
    worker is told to stop goes back to the queue for the next worker."""

    def stop(_signal_number, _frame):
        for number in STOP_SIGNALS:  # a second signal must not cut short putting it back
            signal.signal(number, signal.SIG_IGN)
        raise Stopped

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    prepared = 0
    try:
        while True:
            tidy()  # what waited too long is called interrupted, not prepared late
            job_id = db.session.scalar(
                sa.select(ResearchJob.id)
                .where(ResearchJob.status == ResearchJob.QUEUED)
                .order_by(ResearchJob.requested_at, ResearchJob.id)
                .limit(1)
            )
            db.session.commit()
            if job_id is None:
                if until_idle:
                    return prepared
                time.sleep(poll_seconds)
                continue
            try:
                prepared += prepare(job_id)
            except Stopped:
                _queue_again(job_id)
                raise
    except Stopped:
        return prepared
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        db.session.remove()


def _queue_again(job_id: int) -> None:
    try:
        db.session.rollback()
        table = ResearchJob.__table__
        db.session.execute(
            table.update()
            .where(table.c.id == job_id, table.c.status == ResearchJob.RUNNING)
            .values(status=ResearchJob.QUEUED, started_at=None)
        )
        db.session.commit()
        log.info("research package %s put back in the queue: the worker was told to stop", job_id)
    except Exception:  # it stays running, and is called interrupted after its time
        log.exception("research package %s could not be put back in the queue", job_id)


def workbook_of(package: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return archive.read("tables.xlsx")


def kept_since():
    """Packages asked for before this are forgotten."""
    return utcnow() - timedelta(days=current_app.config["RESEARCH_PACKAGE_DAYS"])


def stale():
    """Pending packages no preparer is at any more (SQL): waiting longer than
    RESEARCH_PACKAGE_MINUTES (the process that was to prepare them ended, or no worker runs),
    or running past their deadline and a grace (a preparer stops at its deadline)."""
    now, minutes = utcnow(), timedelta(minutes=current_app.config["RESEARCH_PACKAGE_MINUTES"])
    return sa.or_(
        sa.and_(ResearchJob.status == ResearchJob.QUEUED, ResearchJob.requested_at < now - minutes),
        sa.and_(
            ResearchJob.status == ResearchJob.RUNNING,
            ResearchJob.started_at < now - minutes - GRACE,
        ),
    )


def tidy() -> None:
    """Forget packages older than RESEARCH_PACKAGE_DAYS, and mark interrupted the ones no
    preparer is at any more (`stale`); run whenever a package is asked for, and by the worker."""
    table = ResearchJob.__table__
    db.session.execute(table.delete().where(table.c.requested_at < kept_since()))
    db.session.execute(
        table.update()
        .where(stale())
        .values(status=ResearchJob.FAILED, failure="interrupted", finished_at=utcnow(), data=None)
    )
    db.session.commit()
