"""Research packages: disclosure-controlled tables as a Frictionless Data Package in a zip.

The same request over the same data gives byte-identical files: rows are sorted, the zip entries
carry a fixed time stamp, and nothing varies but the data (the generated time is the period's
end, not the wall clock).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import partial

from flask import current_app, g
from flask_babel import force_locale
from flask_babel import gettext as _

from msc.core.codelists import codelist, label
from msc.core.db import db
from msc.core.i18n import country_name
from msc.research.catalogue import (
    CATALOGUE,
    MONTHS_IN_PERIOD,
    OTHER,
    TABLES,
    TOTAL,
    Counts,
    TableSpec,
    region_names,
    research_connection,
)
from msc.research.disclosure import (
    MIN_THRESHOLD,
    ProtectedTable,
    protect,
    protection_level,
    table_rows,
)
from msc.research.formats import escape_formula, hxl_csv, xlsx
from msc.research.signing import instance_key, public_key_entry, signature_document

# 2: REF_AREA may hold countries with their ISO 3166-2 regions, each country the sum of its
# regions (an audit of version 1 would read the regions as parts of the total); the descriptor
# states its geography.
# 3: protection allows for what the statuses tell (A: 1 to k-1 persons, D: at least k); a
# version 2 package could let a primary cell be narrowed through them, and is not merged.
SPEC_VERSION = "msc-research-3"
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Request:
    tables: tuple[str, ...]
    start: date | None
    end: date | None
    granularity: str = "year"
    locale: str = "en"
    geography: str = "country"  # REF_AREA of the tables that allow more (catalogue.GEOGRAPHIES)

    def __post_init__(self):
        # Whole periods only: a year asked for from February would differ from the whole year
        # by January alone, and the two releases side by side would give counts of one month
        # that neither protects (the differencing a free filter allows).
        size, start, end = MONTHS_IN_PERIOD[self.granularity], self.start, self.end
        if start and end and start >= end:
            return  # nothing asked for: it stays so
        if start:
            object.__setattr__(self, "start", _month_at(_month_index(start) // size * size))
        if end:  # the first day after the last month (a later day: after its month)
            after = _month_index(end) + (end.day > 1)
            object.__setattr__(self, "end", _month_at(-(-after // size) * size))

    def parameters(self) -> dict:
        """Everything but the tables, as the ledger and a queued package keep it ("to" is the
        first day after the request's last month)."""
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "period": self.granularity,
            "locale": self.locale,
            "geography": self.geography,
        }

    @classmethod
    def from_parameters(cls, tables, parameters: dict) -> Request:
        def day(name: str) -> date | None:
            value = parameters.get(name)
            return date.fromisoformat(value) if value else None

        return cls(
            tuple(tables),
            day("from"),
            day("to"),
            parameters["period"],
            parameters["locale"],
            parameters.get("geography", "country"),
        )


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_at(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def build_table(spec: TableSpec, request: Request) -> ProtectedTable:
    """Count the table in the database (the research replica when configured), then protect it."""
    config = current_app.config
    threshold = max(config["RESEARCH_THRESHOLD"], MIN_THRESHOLD)
    base = config["RESEARCH_ROUNDING_BASE"]
    geography = spec.geography_for(request.geography)
    count = partial(
        spec.counts,
        start=request.start,
        end=request.end,
        granularity=request.granularity,
        threshold=threshold,
    )
    with research_connection() as connection:
        if geography == spec.geographies[0]:
            return protect(spec, count(connection), threshold, base)
        # One snapshot (research_connection): the two counts see the same records.
        national, by_area = count(connection), count(connection, geography=geography)
    if not nested_consistently(spec, national, by_area):  # equations with no solution prove nothing
        raise RuntimeError(f"{spec.id}: the countries are not the sums of their regions")
    return protect_by_area(spec, national, by_area, threshold, base)


def nested_consistently(spec: TableSpec, national: Counts, by_area: Counts) -> bool:
    """Each country's units are the sum of its regions', and both count every area alike."""
    j = spec.area_position()
    summed: dict[tuple, int] = defaultdict(int)
    for key, (units, _persons) in by_area.cells.items():
        if key[j] != TOTAL:
            summed[_in_country(key, j)] += units
    countries = {k: units for k, (units, _p) in national.cells.items() if k[j] != TOTAL and units}
    every_area = [{k: c for k, c in t.cells.items() if k[j] == TOTAL} for t in (national, by_area)]
    return countries == {k: n for k, n in summed.items() if n} and every_area[0] == every_area[1]


def protect_by_area(
    spec: TableSpec, national: Counts, by_area: Counts, threshold: int, base: int
) -> ProtectedTable:
    """The table by region, as a release linked to the same table by country: the countries'
    cells are published or suppressed as they are in the national release, the regions' cells
    sit beside them (each country the sum of its regions), and the regions get whatever more
    suppression it takes to leave every suppressed cell of both releases protected. Protected
    apart, a region's hidden cell could be narrowed with its country's published one. A region
    cell that holds all of its country's cell (a country of one region, or the other regions
    at zero) is that cell: it takes the country's status, as suppressing it alone protects
    nothing and publishing it alone would give the country away."""
    released = protect(spec, national, threshold, base)
    j = spec.area_position()
    pairs = zip(national.categories, by_area.categories, strict=True)
    categories = [sorted({*a, *b}) for a, b in pairs]
    both = Counts(categories, {**by_area.cells, **national.cells})
    pinned = {key: cell.status for key, cell in released.cells.items()}
    for key, counted in by_area.cells.items():
        if key[j] != TOTAL:
            country = _in_country(key, j)
            if national.cells.get(country) == counted:
                pinned[key] = released.cells[country].status
    return protect(spec, both, threshold, base, pinned=pinned)


def _in_country(key: tuple, j: int) -> tuple:
    """The key of the country cell a region cell (REF_AREA at position j) is a part of."""
    return key[:j] + (key[j].split("-", 1)[0],) + key[j + 1 :]


def request_geography(tables: tuple[str, ...], geography: str) -> str:
    """The geography a request records: the one asked for only if one of its tables has it
    (an unknown one never is)."""
    offered = any(TABLES[t].geography_for(geography) == geography for t in tables)
    return geography if offered else "country"


def code_label(dimension_id: str, codelist_name: str | None, code: str) -> str:
    if code == TOTAL:
        return _("Total")
    if code == OTHER:
        return _("Other countries")
    if code == "_U":
        return _("Not known")
    if dimension_id == "REF_AREA" and "-" in code:  # a region (ISO 3166-2)
        return _region_label(code)
    if dimension_id in {"REF_AREA", "DESTINATION"}:
        return country_name(code)
    if dimension_id == "OUTCOME":
        if code in codelist("referral_outcome"):
            return label("referral_outcome", code)
        return label("referral_status", code) if code in codelist("referral_status") else _("Open")
    if codelist_name:
        return label(codelist_name, code)
    return code


def area_note(spec: TableSpec, request: Request) -> str | None:
    """What REF_AREA holds, for a table that offers more than one level of it."""
    if len(spec.geographies) < 2:
        return None
    if request.geography == "region":
        return _("the regions of the centres (ISO 3166-2)")
    return _("the countries of the centres")


def _description(spec: TableSpec, request: Request) -> str:
    parts = [str(spec.unit), str(spec.date_rule)]
    areas = area_note(spec, request)
    if areas:
        parts.append(_("areas: %(areas)s", areas=areas))
    return "; ".join(parts)


def _region_label(code: str) -> str:
    if "msc_region_names" not in g:  # read once per request or command
        g.msc_region_names = region_names(db.session)
    name, country = g.msc_region_names.get(code, (code, None))
    if country is None:
        return code
    return _("%(region)s (%(country)s)", region=name, country=country_name(country))


def csv_bytes(rows: list[dict], fields: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in fields})
    return out.getvalue().encode("utf-8")


def build_package(request: Request) -> tuple[bytes, dict]:
    """The zip and its descriptor. Every table is disclosure-controlled before it is written."""
    config = current_app.config
    files: dict[str, bytes] = {}
    resources, codebook = [], []
    with force_locale(request.locale):
        for table_id in request.tables:
            spec = TABLES[table_id]
            table = build_table(spec, request)
            ids = [d.id for d in spec.dimensions]
            fields = ids + ["OBS_VALUE", "CONF_STATUS", "FLAG"]
            path = f"data/{spec.id}.csv"
            files[path] = csv_bytes(table_rows(table), fields)
            schema_fields = [
                {
                    "name": d.id,
                    "type": "string",
                    "constraints": {"required": True, "enum": [*table.categories[j], TOTAL]},
                }
                for j, d in enumerate(spec.dimensions)
            ] + [
                {"name": "OBS_VALUE", "type": "integer", "constraints": {"minimum": 0}},
                {
                    "name": "CONF_STATUS",
                    "type": "string",
                    "constraints": {"required": True, "enum": ["F", "A", "D"]},
                },
                {"name": "FLAG", "type": "string", "constraints": {"enum": ["", "G"]}},
            ]
            resources.append(
                {
                    "name": spec.id,
                    "path": path,
                    "profile": "tabular-data-resource",
                    "format": "csv",
                    "mediatype": "text/csv",
                    "encoding": "utf-8",
                    "title": str(spec.title),
                    "description": _description(spec, request),
                    "schema": {"fields": schema_fields, "missingValues": [""]},
                    "hash": "sha256:" + hashlib.sha256(files[path]).hexdigest(),
                }
            )
            for j, dimension in enumerate(spec.dimensions):
                for code in [*table.categories[j], TOTAL]:
                    codebook.append(  # labels escaped: a spreadsheet must not read them as formulas
                        {
                            "table": spec.id,
                            "dimension": dimension.id,
                            "code": code,
                            "label": escape_formula(
                                code_label(dimension.id, dimension.codelist, code)
                            ),
                        }
                    )
        files["codebook.csv"] = csv_bytes(codebook, ["table", "dimension", "code", "label"])
    resources.append(
        {
            "name": "codebook",
            "path": "codebook.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {
                "fields": [
                    {"name": n, "type": "string"} for n in ["table", "dimension", "code", "label"]
                ]
            },
            "hash": "sha256:" + hashlib.sha256(files["codebook.csv"]).hexdigest(),
        }
    )
    descriptor = {
        "profile": "tabular-data-package",
        "name": "msc-research-tables",
        "title": "MSC research tables",
        "licenses": [{"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0"}],
        "resources": resources,
        "msc": {
            "specification": SPEC_VERSION,
            "software_version": "msc " + _software_version(),
            "instance": config["RESEARCH_INSTANCE_ID"],
            "period": {
                "from": request.start.isoformat() if request.start else None,
                "to": request.end.isoformat() if request.end else None,
                "granularity": request.granularity,
            },
            "geography": request.geography,
            "generated": (request.end or date(2100, 1, 1)).isoformat(),
            "locale": request.locale,
            "method": {
                "threshold_k": max(config["RESEARCH_THRESHOLD"], 5),
                "threshold_counts": "distinct persons",
                "rounding_base": config["RESEARCH_ROUNDING_BASE"],
                "suppression": "primary threshold rule; complementary suppression until no "
                "equation holds a single suppressed cell and a linear-programming interval "
                "audit (HiGHS), allowing for what the statuses tell (A: 1 to k-1 persons, D: "
                "at least k), zeros and rounding, leaves every primary cell an interval at "
                "least protection_level wide (or as wide as the statuses and zeros alone leave "
                "it) and no complementary cell determined by the published cells",
                "protection_level": protection_level(max(config["RESEARCH_THRESHOLD"], 5)),
                "conf_status": {
                    "F": "free",
                    "A": "primary suppression",
                    "D": "secondary suppression",
                },
                "flag": {"G": "all persons of the row but fewer than k in one category"},
                "rounding_slack": config["RESEARCH_ROUNDING_BASE"] // 2,
            },
            "code_lists": {c.name: c.version for c in _used_codelists(request)},
        },
    }
    add_other_formats(files, descriptor, request.tables)
    key = instance_key()
    descriptor["msc"]["signing_key_id"] = public_key_entry(key)[0]
    return finish_package(files, descriptor, key), descriptor


def add_other_formats(files: dict[str, bytes], descriptor: dict, table_ids) -> None:
    """tables.xlsx and hxl/*.csv beside the CSVs; their hashes go into the signed descriptor."""
    tables = {t: files[f"data/{t}.csv"] for t in table_ids}
    extra = {}
    for table_id, raw in tables.items():
        extra[f"hxl/{table_id}.csv"] = hxl_csv(raw)
    method = [
        (
            key,
            json.dumps(value, ensure_ascii=False, sort_keys=True)
            if isinstance(value, dict)
            else str(value),
        )
        for key, value in sorted(descriptor["msc"]["method"].items())
    ]
    method += [
        ("specification", SPEC_VERSION),
        ("instance", descriptor["msc"]["instance"]),
        ("period", json.dumps(descriptor["msc"]["period"], sort_keys=True)),
        ("geography", descriptor["msc"].get("geography", "country")),
    ]
    extra["tables.xlsx"] = xlsx(tables, files["codebook.csv"], method)
    files.update(extra)
    descriptor["msc"]["other_files"] = {
        path: "sha256:" + hashlib.sha256(data).hexdigest() for path, data in sorted(extra.items())
    }


# What reading a zip or JSON that is not one of our packages raises: a corrupt or truncated
# zip, an encrypted entry, an unknown compression method (RuntimeError and its subclass
# NotImplementedError), JSON nested too deep (RecursionError), a missing file or field.
UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    KeyError,
    TypeError,
    ValueError,
)


def finish_package(files: dict[str, bytes], descriptor: dict, key) -> bytes:
    """Write the descriptor, sign it, and zip everything deterministically."""
    files["datapackage.json"] = json.dumps(
        descriptor, ensure_ascii=False, indent=2, sort_keys=True
    ).encode()
    files["signature.json"] = signature_document(files["datapackage.json"], key)
    return _zip(files)


def _used_codelists(request: Request):
    names = sorted({d.codelist for t in request.tables for d in TABLES[t].dimensions if d.codelist})
    return [codelist(name) for name in names]


def _software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("msc")
    except PackageNotFoundError:
        return "0"


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


def all_tables() -> tuple[str, ...]:
    return tuple(t.id for t in CATALOGUE)
