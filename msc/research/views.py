"""The researcher's pages: the catalogue, previews after disclosure control, and downloads."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from datetime import date

from flask import Blueprint, Response, abort, flash, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf import FlaskForm

from msc.core.access import roles_required
from msc.core.db import db
from msc.core.roles import Role
from msc.research.audit import audit_package
from msc.research.cache import protected_rows
from msc.research.catalogue import CATALOGUE, TABLES
from msc.research.models import record_release
from msc.research.package import (
    Request,
    area_note,
    build_package,
    code_label,
    request_geography,
)

log = logging.getLogger(__name__)

bp = Blueprint("research", __name__, url_prefix="/research")
GRANULARITIES = ("year", "quarter", "month")


def parse_request(tables: tuple[str, ...]) -> Request:
    def month(name: str) -> date | None:
        value = request.args.get(name, "")
        try:
            year, month_number = value.split("-")
            return date(int(year), int(month_number), 1)
        except ValueError:
            return None

    granularity = request.args.get("period", "year")
    geography = request.args.get("geography", "country")
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


def _parameters(parsed: Request) -> dict:
    return {
        "from": parsed.start.isoformat() if parsed.start else None,
        "to": parsed.end.isoformat() if parsed.end else None,
        "period": parsed.granularity,
        "locale": parsed.locale,
        "geography": parsed.geography,
    }


@bp.get("/tables/<table_id>")
@roles_required(Role.RESEARCHER)
def preview(table_id: str):
    spec = TABLES.get(table_id)
    if spec is None:
        abort(404)
    parsed = parse_request((table_id,))
    rows, computed_at = protected_rows(spec, parsed)
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


@bp.get("/package.zip")
@roles_required(Role.RESEARCHER)
def download():
    data, _wanted = _released_package("download", lambda package: package)
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": "attachment; filename=msc-research-tables.zip"},
    )


@bp.get("/tables.xlsx")
@roles_required(Role.RESEARCHER)
def download_xlsx():
    workbook, _wanted = _released_package("xlsx", _workbook_of)
    return Response(
        workbook,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=msc-research-tables.xlsx"},
    )


def _workbook_of(package: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return archive.read("tables.xlsx")


def _released_package(kind: str, served) -> tuple[bytes, tuple[str, ...]]:
    """Build the requested package and audit it (a failing audit blocks it); record in the ledger
    the file that is served (`served` picks it out of the package)."""
    wanted = tuple(t for t in request.args.getlist("table") if t in TABLES) or tuple(
        t.id for t in CATALOGUE
    )
    parsed = parse_request(wanted)
    data, _descriptor = build_package(parsed)
    problems = audit_package(data)
    if problems:  # a release that fails its own audit is never served
        log.error("research package blocked by its audit: %s", "; ".join(problems[:5]))
        abort(500)
    data = served(data)
    record_release(kind, data, wanted, _parameters(parsed), current_user.id)
    db.session.commit()
    return data, wanted


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
    sections = []
    computed = []
    for table_id in REPORT_TABLES:
        spec = TABLES[table_id]
        rows, computed_at = protected_rows(spec, parsed)
        computed.append(computed_at)
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
    return render_template(
        "research/report.html", sections=sections, parsed=parsed, computed_at=min(computed)
    )


@bp.route("/merge", methods=["GET", "POST"])
@roles_required(Role.RESEARCHER)
def merge():
    """The regional hub merges signed national packages, with no access to any national database."""
    from flask import current_app
    from flask_babel import gettext as _

    from msc.research.merge import MergeRefused, merge_packages
    from msc.research.signing import instance_key

    problems = []
    if request.method == "POST":
        form = MergeUploadForm()
        if not form.validate_on_submit():
            abort(400)
        uploads = [f.read() for f in request.files.getlist("packages") if f.filename]
        trusted = dict(json.loads(current_app.config["RESEARCH_TRUSTED_KEYS"] or "{}"))
        try:
            data = merge_packages(
                uploads, trusted, instance_key(), current_app.config["RESEARCH_INSTANCE_ID"]
            )
            problems = audit_package(data)
        except MergeRefused as refused:
            problems = [str(refused)]
        if not problems:
            record_release("merge", data, [], {"components": len(uploads)}, current_user.id)
            db.session.commit()
            return Response(
                data,
                mimetype="application/zip",
                headers={"Content-Disposition": "attachment; filename=msc-regional-tables.zip"},
            )
        flash(_("The packages were not merged."), "danger")
    return render_template(
        "research/merge.html", form=MergeUploadForm(), problems=problems
    ), 400 if problems else 200


class MergeUploadForm(FlaskForm):
    pass
