"""The researcher's pages: the catalogue, previews after disclosure control, and downloads."""

from __future__ import annotations

import logging
from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale

from msc.core import audit
from msc.core.access import roles_required
from msc.core.db import db
from msc.core.roles import Role
from msc.research.audit import audit_package
from msc.research.catalogue import CATALOGUE, TABLES
from msc.research.disclosure import table_rows
from msc.research.package import Request, build_package, build_table, code_label

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
    start, end = month("from"), month("to")
    if end:  # "to" is inclusive: up to the start of the next month
        end = date(end.year + end.month // 12, end.month % 12 + 1, 1)
    return Request(
        tables,
        start,
        end,
        granularity if granularity in GRANULARITIES else "year",
        str(get_locale()),
    )


@bp.get("/tables/<table_id>")
@roles_required(Role.RESEARCHER)
def preview(table_id: str):
    spec = TABLES.get(table_id)
    if spec is None:
        abort(404)
    parsed = parse_request((table_id,))
    table = build_table(spec, parsed)
    rows = table_rows(table)
    labels = {
        (d.id, code): code_label(d.id, d.codelist, code)
        for j, d in enumerate(spec.dimensions)
        for code in [*table.categories[j], "_T"]
    }
    first = spec.dimensions[0].id
    chart = [
        (labels[(first, r[first])], r["OBS_VALUE"] or 0)
        for r in rows
        if r[first] != "_T" and all(r[d.id] == "_T" for d in spec.dimensions[1:])
    ]
    return render_template(
        "research/preview.html",
        spec=spec,
        rows=rows[:500],
        total_rows=len(rows),
        labels=labels,
        chart=chart,
        parsed=parsed,
        table=table,
    )


@bp.get("/package.zip")
@roles_required(Role.RESEARCHER)
def download():
    wanted = tuple(t for t in request.args.getlist("table") if t in TABLES) or tuple(
        t.id for t in CATALOGUE
    )
    parsed = parse_request(wanted)
    data, _descriptor = build_package(parsed)
    problems = audit_package(data)
    if problems:  # a release that fails its own audit is never served
        log.error("research package blocked by its audit: %s", "; ".join(problems[:5]))
        abort(500)
    audit.record("research.package_downloaded")
    db.session.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": "attachment; filename=msc-research-tables.zip"},
    )
