"""The researcher's pages: the catalogue, previews after disclosure control, and downloads."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import undefer

from msc.core.access import roles_required
from msc.core.db import db
from msc.core.roles import Role
from msc.research import jobs
from msc.research.cache import rows_in_time
from msc.research.catalogue import CATALOGUE, MONTHS_IN_PERIOD, TABLES
from msc.research.disclosure import TooLong, deadline
from msc.research.merge import MergeRefused, configured_trusted_keys, merge_packages
from msc.research.models import ResearchJob, record_release
from msc.research.package import (
    Request,
    all_tables,
    area_note,
    code_label,
    request_geography,
)
from msc.research.signing import instance_key

bp = Blueprint("research", __name__, url_prefix="/research")
GRANULARITIES = tuple(MONTHS_IN_PERIOD)


def parse_request(tables: tuple[str, ...]) -> Request:
    def month(name: str) -> date | None:
        value = request.values.get(name, "")
        try:
            year, month_number = value.split("-")
            first = date(int(year), int(month_number), 1)
        except (ValueError, OverflowError):
            return None
        return first if first.year < date.max.year else None  # the month after it is a date too

    granularity = request.values.get("period", "year")
    geography = request.values.get("geography", "country")
    start, end = month("from"), month("to")
    if end:  # "to" is inclusive: up to the start of the next month
        end = date(end.year + end.month // 12, end.month % 12 + 1, 1)
    return Request(
        tables,
        start,
        end,
        granularity if granularity in GRANULARITIES else "year",
        str(get_locale()),
        request_geography(tables, geography),
    )


@bp.get("/tables/<table_id>")
@roles_required(Role.RESEARCHER)
def preview(table_id: str):
    spec = TABLES.get(table_id)
    if spec is None:
        abort(404)
    parsed = parse_request((table_id,))
    try:
        rows, computed_at = rows_in_time(spec, parsed)
    except TooLong:  # the package is prepared in the background, with no such limit
        return render_template("research/preview.html", spec=spec, parsed=parsed, too_long=True)
    codes = {(d.id, d.codelist, row[d.id]) for d in spec.dimensions for row in rows}
    labels = {
        (dimension, code): code_label(dimension, names, code) for dimension, names, code in codes
    }
    first = spec.dimensions[0].id
    chart = [
        (labels[(first, r[first])], r["OBS_VALUE"] or 0)
        for r in rows
        if r[first] != "_T"
        and r["OBS_VALUE"] is not None  # suppressed cells are not drawn
        and all(r[d.id] == "_T" for d in spec.dimensions[1:])
    ]
    return render_template(
        "research/preview.html",
        spec=spec,
        rows=rows[:500],
        total_rows=len(rows),
        labels=labels,
        chart=chart,
        parsed=parsed,
        computed_at=computed_at,
        area_note=area_note(spec, parsed),
    )


@bp.post("/packages")
@roles_required(Role.RESEARCHER)
def ask_package():
    """Queue the package (CSRF is checked for every POST); it is prepared in the background."""
    asked = request.form.getlist("table")
    if any(t not in TABLES for t in asked):  # not "every table", the costliest package there is
        flash(_("There is no such table in the catalogue."), "danger")
        return redirect(url_for("home.researcher"))
    kind = request.form.get("format", "download")
    try:
        job = jobs.ask(
            current_user.id,
            parse_request(tuple(asked) or all_tables()),
            kind if kind in jobs.NATIONAL else "download",
        )
    except jobs.Busy:
        flash(_busy(), "warning")
        return redirect(url_for("research.packages"))
    if job is None:
        flash(_("The same package is already being prepared for you."), "info")
    return redirect(url_for("research.packages"))


def _busy() -> str:
    return _(
        "You have %(count)d packages waiting or being prepared; ask for more once one is ready.",
        count=jobs.WAITING_PER_RESEARCHER,
    )


@bp.get("/packages")
@roles_required(Role.RESEARCHER)
def packages():
    """The researcher's own packages, newest first (those kept; reading writes nothing)."""
    rows = db.session.execute(
        sa.select(ResearchJob, jobs.stale().label("interrupted"))
        .where(
            ResearchJob.user_id == current_user.id, ResearchJob.requested_at >= jobs.kept_since()
        )
        .order_by(ResearchJob.requested_at.desc(), ResearchJob.id.desc())
        .limit(PACKAGES_SHOWN)
    ).all()
    mine = [job for job, _stale in rows]
    interrupted = {job.id for job, stale in rows if stale}
    return render_template(
        "research/packages.html",
        packages=mine,
        interrupted=interrupted,
        pending=any(j.status in jobs.PENDING and j.id not in interrupted for j in mine),
        titles={spec.id: spec.title for spec in CATALOGUE},
        every_table=set(all_tables()),
        months={job.id: _months(job.parameters) for job in mine},
    )


def _months(parameters: dict) -> str | None:
    """The months a package covers ("to" is kept as the first day after its last month)."""
    start, end = parameters.get("from"), parameters.get("to")
    if not start and not end:
        return None
    last = (date.fromisoformat(end) - timedelta(days=1)).isoformat()[:7] if end else "…"
    return f"{start[:7] if start else '…'} – {last}"


@bp.get("/packages/<int:job_id>/file")
@roles_required(Role.RESEARCHER)
def package_file(job_id: int):
    """The prepared file, to the researcher who asked for it (anyone else: 404); every download
    is recorded in the release ledger."""
    job = db.session.scalar(
        sa.select(ResearchJob)
        .options(undefer(ResearchJob.data))
        .where(
            ResearchJob.id == job_id,
            ResearchJob.user_id == current_user.id,
            ResearchJob.status == ResearchJob.READY,
            ResearchJob.requested_at >= jobs.kept_since(),  # kept 7 days, even if not yet tidied
        )
    )
    if job is None:
        abort(404)
    if request.method == "GET":  # a HEAD (a link checker, a client's probe) fetches nothing
        record_release(job.kind, job.data, job.tables, job.parameters, current_user.id)
        db.session.commit()
    name, mimetype = jobs.FILES[job.kind]
    return Response(
        job.data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"}
    )


PACKAGES_SHOWN = 20


# The report: the main tables with charts and the method, printable from the browser.
REPORT_TABLES = [
    "persons_registered",
    "persons_category",
    "persons_education",
    "persons_destination",
    "occupation_sought",
    "referrals_by_outcome",
    "walk_ins",
]


@bp.get("/report")
@roles_required(Role.RESEARCHER)
def report():
    parsed = parse_request(tuple(REPORT_TABLES))
    try:
        # The report's tables share one page's time, as a preview has it for one table.
        with deadline(current_app.config["RESEARCH_PREVIEW_SECONDS"]):
            tables = [(TABLES[t], *rows_in_time(TABLES[t], parsed)) for t in REPORT_TABLES]
    except TooLong:
        return render_template("research/report.html", too_long=True, parsed=parsed)
    sections = []
    for spec, rows, _computed_at in tables:
        first = spec.dimensions[0]
        chart = [
            (code_label(first.id, first.codelist, r[first.id]), r["OBS_VALUE"] or 0)
            for r in rows
            if r[first.id] != "_T"
            and r["OBS_VALUE"] is not None  # suppressed cells are not drawn
            and all(r[d.id] == "_T" for d in spec.dimensions[1:])
        ]
        total = next(r for r in rows if all(r[d.id] == "_T" for d in spec.dimensions))
        sections.append(
            {
                "spec": spec,
                "chart": chart,
                "total": total["OBS_VALUE"],
                "suppressed": sum(1 for r in rows if r["CONF_STATUS"] != "F"),
            }
        )
    computed_at = min(computed for _spec, _rows, computed in tables)
    return render_template(
        "research/report.html", sections=sections, parsed=parsed, computed_at=computed_at
    )


@bp.route("/merge", methods=["GET", "POST"])
@roles_required(Role.RESEARCHER)
def merge():
    """The regional hub merges signed national packages, with no access to any national database."""
    problems = []
    trusted = configured_trusted_keys()
    if request.method == "POST":
        form = MergeUploadForm()
        if not form.validate_on_submit():
            abort(400)
        uploads = [f.read() for f in request.files.getlist("packages") if f.filename]
        try:
            data = merge_packages(
                uploads, trusted, instance_key(), current_app.config["RESEARCH_INSTANCE_ID"]
            )
        except MergeRefused as refused:
            problems = [str(refused)]
        else:  # its audit takes as long as a national one: it is done in the background
            try:
                job = jobs.ask_audit(current_user.id, data)
            except jobs.Busy:
                flash(_busy(), "warning")
                return redirect(url_for("research.packages"))
            if job is None:
                flash(_("The same merge is already being audited for you."), "info")
            else:
                flash(
                    _(
                        "The packages were merged; the regional package is offered here once it "
                        "has passed its audit."
                    ),
                    "success",
                )
            return redirect(url_for("research.packages"))
        flash(_("The packages were not merged."), "danger")
    return render_template(
        "research/merge.html", form=MergeUploadForm(), problems=problems, trusted=sorted(trusted)
    ), 400 if problems else 200


class MergeUploadForm(FlaskForm):
    pass
