"""Import of local work options (NES vacancies, training, programmes) from a CSV file.

Columns (a header row; UTF-8, comma-separated; see docs in the import page):
    external_id   required, the NES reference; a row with a known id updates that option
    kind          required: vacancy, training or almp
    title         required, up to 200 characters
    provider      employer or training provider
    occupation    ISCO-08 major or sub-major group code (1 or 2 digits)
    region_code   a region code of the country (e.g. RS-00); empty: nationwide
    closing_on    YYYY-MM-DD
    description   free text
    active        yes/no (default yes)
Every row is checked on its own; rejected rows are reported with their line and reasons, the
others are saved.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from msc.centres.models import Region
from msc.core import audit
from msc.core.codelists import codelist
from msc.core.db import db
from msc.referrals.models import LocalOption

COLUMNS = [
    "external_id",
    "kind",
    "title",
    "provider",
    "occupation",
    "region_code",
    "closing_on",
    "description",
    "active",
]
REQUIRED = {"external_id", "kind", "title"}
MAX_ROWS = 20_000


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)
    problem: str | None = None


def import_local_options(raw: bytes, country_code: str) -> ImportReport:
    report = ImportReport()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.problem = _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
        return report
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = REQUIRED - set(header)
    if missing:
        report.problem = _(
            "The header row lacks the column(s): %(columns)s", columns=", ".join(sorted(missing))
        )
        return report
    regions = dict(
        db.session.execute(
            sa.select(Region.code, Region.id).where(Region.country_code == country_code)
        ).all()
    )
    existing = {
        o.external_id: o
        for o in db.session.scalars(
            sa.select(LocalOption).where(
                LocalOption.country_code == country_code, LocalOption.external_id.is_not(None)
            )
        )
    }
    seen = set()
    for line, row in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            report.rejected.append(
                (line, [_("More than %(n)d rows; the rest was not read.", n=MAX_ROWS)])
            )
            break
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        values, errors = _check_row(row, regions)
        if values and values["external_id"] in seen:
            errors.append(_("The same %(column)s appears twice in the file.", column="external_id"))
        if errors:
            report.rejected.append((line, errors))
            continue
        seen.add(values["external_id"])
        option = existing.get(values["external_id"])
        if option is None:
            option = LocalOption(country_code=country_code, **values)
            db.session.add(option)
            report.created += 1
        else:
            for name, value in values.items():
                setattr(option, name, value)
            report.updated += 1
    db.session.flush()
    audit.record("local_option.imported")
    return report


def _check_row(row: dict, regions: dict) -> tuple[dict | None, list[str]]:
    errors = []
    external_id = row.get("external_id", "")
    if not external_id or len(external_id) > 64:
        errors.append(
            _("%(column)s is required (at most %(n)d characters).", column="external_id", n=64)
        )
    kind = row.get("kind", "")
    if kind not in codelist("local_option_kind"):
        errors.append(
            _(
                "%(column)s must be one of: %(values)s.",
                column="kind",
                values="vacancy, training, almp",
            )
        )
    title = row.get("title", "")
    if not title or len(title) > 200:
        errors.append(
            _("%(column)s is required (at most %(n)d characters).", column="title", n=200)
        )
    if any(ord(ch) < 32 and ch not in "\t\n\r" for value in row.values() for ch in value):
        errors.append(_("The row contains control characters."))
    occupation = row.get("occupation") or None
    if occupation and occupation not in codelist("isco08"):
        errors.append(
            _("%(column)s must be an ISCO-08 major or sub-major group code.", column="occupation")
        )
    region_code = row.get("region_code") or None
    if region_code and region_code not in regions:
        errors.append(
            _(
                "%(column)s: %(code)s is not a region of this country.",
                column="region_code",
                code=region_code,
            )
        )
    closing_on = None
    if row.get("closing_on"):
        try:
            closing_on = date.fromisoformat(row["closing_on"])
        except ValueError:
            errors.append(
                _(
                    "%(column)s must be a date written %(format)s.",
                    column="closing_on",
                    format="YYYY-MM-DD",
                )
            )
    active = row.get("active", "yes").lower() or "yes"
    if active not in {"yes", "no", "true", "false", "1", "0"}:
        errors.append(
            _("%(column)s must be one of: %(values)s.", column="active", values="yes, no")
        )
    if errors:
        return None, errors
    return {
        "external_id": external_id,
        "kind": kind,
        "title": title,
        "provider": (row.get("provider") or None) and row["provider"][:200],
        "occupation": occupation,
        "region_id": regions.get(region_code) if region_code else None,
        "closing_on": closing_on,
        "description": row.get("description") or None,
        "active": active in {"yes", "true", "1"},
    }, []
