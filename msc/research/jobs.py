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
RESEARCH_PACKAGE_DAYS days; one that a dying process left unfinished shows as interrupted after
RESEARCH_PACKAGE_MINUTES.
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


def _queue(job: ResearchJob) -> ResearchJob | None:
    tidy()
    if any(
        (other.kind, other.tables, other.parameters) == (job.kind, job.tables, job.parameters)
        for other in db.session.scalars(
            sa.select(ResearchJob).where(
                ResearchJob.user_id == job.user_id, ResearchJob.status.in_(PENDING)
            )
        )
    ):
        return None
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


def prepare(job_id: int) -> None:
    """Build (unless it is a merge) and audit the job's package and keep the file to serve; a
    package that fails its audit is never kept."""
    table = ResearchJob.__table__
    claimed = db.session.execute(
        table.update()
        .where(table.c.id == job_id, table.c.status == ResearchJob.QUEUED)
        .values(status=ResearchJob.RUNNING, started_at=utcnow())
    )
    db.session.commit()
    if claimed.rowcount != 1:
        return  # another worker has it, or it was tidied away
    began = time.monotonic()
    try:
        job = db.session.get(ResearchJob, job_id)
        kind, data = job.kind, job.data  # a merge arrives built; a national package is counted
        request = None if kind == "merge" else Request.from_parameters(job.tables, job.parameters)
        left = (job.requested_at - interrupted_before()).total_seconds()
        db.session.commit()  # no transaction left open while it counts (minutes, at scale)
        with deadline(max(left, 0)):  # past it, the page calls the package interrupted anyway
            if request is not None:
                data, _descriptor = build_package(request)
            problems = audit_package(data)
        if problems:  # a release that fails its own audit is never served
            log.error(
                "research package %s blocked by its audit: %s", job_id, "; ".join(problems[:5])
            )
            _finish(job_id, ResearchJob.FAILED, failure="audit")
            return
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


def _finish(job_id: int, status: str, **values) -> None:
    job = db.session.get(ResearchJob, job_id)
    if job is None:  # tidied away while it ran
        return
    job.status, job.finished_at = status, utcnow()
    if status == ResearchJob.FAILED:
        job.data = None  # a merge that failed its audit is not kept either
    for name, value in values.items():
        setattr(job, name, value)
    db.session.commit()


class Stopped(BaseException):
    """The worker was told to stop (SIGTERM from systemd or a deploy, or Ctrl-C)."""


def work(until_idle: bool = False, poll_seconds: float = 2.0) -> int:
    """Prepare queued packages, the oldest first, one at a time, until told to stop (or, with
    until_idle, until none is waiting); how many it prepared. A package being prepared when the
    worker is told to stop goes back to the queue for the next worker."""

    def stop(_signal_number, _frame):
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    prepared = 0
    try:
        while True:
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
                prepare(job_id)
            except (Stopped, KeyboardInterrupt):
                _queue_again(job_id)
                raise
            prepared += 1
    except (Stopped, KeyboardInterrupt):
        return prepared
    finally:
        signal.signal(signal.SIGTERM, previous)
        db.session.remove()


def _queue_again(job_id: int) -> None:
    db.session.rollback()
    table = ResearchJob.__table__
    db.session.execute(
        table.update()
        .where(table.c.id == job_id, table.c.status == ResearchJob.RUNNING)
        .values(status=ResearchJob.QUEUED, started_at=None)
    )
    db.session.commit()
    log.info("research package %s put back in the queue: the worker was told to stop", job_id)


def workbook_of(package: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return archive.read("tables.xlsx")


def kept_since():
    """Packages asked for before this are forgotten."""
    return utcnow() - timedelta(days=current_app.config["RESEARCH_PACKAGE_DAYS"])


def interrupted_before():
    """Packages asked for before this and still pending will not be finished: their process
    ended before they did (a worker recycled, a restart)."""
    return utcnow() - timedelta(minutes=current_app.config["RESEARCH_PACKAGE_MINUTES"])


def tidy() -> None:
    """Forget packages older than RESEARCH_PACKAGE_DAYS, and mark interrupted the ones still
    pending after RESEARCH_PACKAGE_MINUTES (run whenever a package is asked for)."""
    table = ResearchJob.__table__
    db.session.execute(table.delete().where(table.c.requested_at < kept_since()))
    db.session.execute(
        table.update()
        .where(table.c.status.in_(PENDING), table.c.requested_at < interrupted_before())
        .values(status=ResearchJob.FAILED, failure="interrupted", finished_at=utcnow())
    )
    db.session.commit()
