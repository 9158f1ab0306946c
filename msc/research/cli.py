"""`flask msc research export|refresh|merge|key|audit`."""

from __future__ import annotations

import itertools
import json
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from msc.core.db import db
from msc.research.audit import audit_package
from msc.research.catalogue import GEOGRAPHIES, MONTHS_IN_PERIOD, TABLES
from msc.research.merge import (
    MergeRefused,
    configured_trusted_keys,
    merge_packages,
    release_record,
)
from msc.research.models import record_release
from msc.research.package import UNREADABLE, Request, all_tables, build_package, request_geography
from msc.research.signing import instance_key, public_key_entry

research_cli = AppGroup("research", help="Anonymised research tables.")


def _month(value: str | None, end: bool = False) -> date | None:
    if not value:
        return None
    try:
        year, month = (int(part) for part in value.split("-"))
        first = date(year, month, 1)
        if first.year == date.max.year:  # the month after it would not be a date
            raise ValueError(value)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r} is not YYYY-MM") from None
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) if end else first


@research_cli.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--tables", default="", help="Table ids separated by commas (default: all).")
@click.option("--from", "start", default=None, help="First month, YYYY-MM.")
@click.option("--to", "end", default=None, help="Last month, YYYY-MM.")
@click.option("--period", default="year", type=click.Choice(list(MONTHS_IN_PERIOD)))
@click.option(
    "--geography",
    default="country",
    type=click.Choice(GEOGRAPHIES),
    help="Areas of the tables by country (the others stay as they are).",
)
@click.option("--locale", default="en")
def export(out, tables, start, end, period, geography, locale):
    """Build, audit and write a research package."""
    wanted = tuple(t.strip() for t in tables.split(",") if t.strip()) or all_tables()
    unknown = [t for t in wanted if t not in TABLES]
    if unknown:
        raise click.BadParameter(
            f"unknown table(s): {', '.join(unknown)}; known: {', '.join(TABLES)}"
        )
    geography = request_geography(wanted, geography)
    request = Request(wanted, _month(start), _month(end, True), period, locale, geography)
    data, _descriptor = build_package(request)
    problems = audit_package(data)
    if problems:
        raise click.ClickException(
            "the package failed its audit and was not written:\n" + "\n".join(problems)
        )
    with open(out, "wb") as handle:
        handle.write(data)
    record_release("export", data, wanted, request.parameters(), None)
    db.session.commit()
    click.echo(f"wrote {out}: {len(wanted)} tables, audit passed")


@research_cli.command("refresh")
@click.option(
    "--period",
    "periods",
    default="year",
    help="Periods to compute, separated by commas: year, quarter, month (default: year).",
)
@click.option(
    "--geography",
    "geographies",
    default="country",
    help="Areas to compute, separated by commas: country, region (default: country); region "
    "only for the tables that have regions.",
)
def refresh_previews(periods, geographies):
    """Compute every catalogue table for the previews and the report (run it on a schedule more
    often than MSC_RESEARCH_CACHE_SECONDS, on the server that reads the research replica)."""
    import time

    from msc.research.cache import refresh

    wanted = _listed(periods, tuple(MONTHS_IN_PERIOD), "period")
    areas = _listed(geographies, GEOGRAPHIES, "geography")
    if current_app.config["RESEARCH_CACHE_SECONDS"] <= 0:
        raise click.UsageError(
            "MSC_RESEARCH_CACHE_SECONDS is 0: previews are not kept, nothing to do"
        )
    for period, area in itertools.product(wanted, areas):
        for table_id in all_tables():
            if TABLES[table_id].geography_for(area) != area:
                continue
            started = time.monotonic()
            refresh(TABLES[table_id], Request((table_id,), None, None, period, geography=area))
            click.echo(f"{table_id} by {period}, {area}: {time.monotonic() - started:.1f} s")


def _listed(value: str, known, what: str) -> list[str]:
    """Comma-separated choices, each one of `known`."""
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in known]
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown {what}(s): {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return chosen


def trusted_keys(path: str | None) -> dict[str, str]:
    keys = configured_trusted_keys()
    if path:
        with open(path, encoding="utf-8") as handle:
            keys.update(json.load(handle))
    return keys


@research_cli.command("merge")
@click.argument("packages", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--trusted-keys",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help='JSON file {"key id": "base64 public key"} of the national instances.',
)
def merge(packages, out, trusted_keys):
    """Merge signed national packages into a regional package (no database needed)."""
    datas = []
    for path in packages:
        with open(path, "rb") as handle:
            datas.append(handle.read())
    try:
        data = merge_packages(
            datas,
            globals()["trusted_keys"](trusted_keys),
            instance_key(),
            current_app.config["RESEARCH_INSTANCE_ID"],
        )
    except MergeRefused as refused:
        raise click.ClickException(str(refused)) from None
    problems = audit_package(data)
    if problems:
        raise click.ClickException("the merged package failed its audit:\n" + "\n".join(problems))
    with open(out, "wb") as handle:
        handle.write(data)
    record_release("merge", data, *release_record(data), None)
    db.session.commit()
    click.echo(f"wrote {out}: {len(datas)} national packages merged, audit passed")


@research_cli.command("work")
@click.option(
    "--until-idle",
    is_flag=True,
    help="Stop when no package is waiting, instead of waiting for the next one.",
)
def work(until_idle):
    """Prepare the packages researchers ask for, one at a time, until stopped (SIGTERM puts the
    package in hand back in the queue). Run it as a service of its own with
    MSC_RESEARCH_PACKAGES_PREPARED_BY=worker on the web servers."""
    from msc.research import jobs

    if current_app.config["RESEARCH_PACKAGES_PREPARED_BY"] != "worker":
        click.echo(
            "note: MSC_RESEARCH_PACKAGES_PREPARED_BY is "
            f"{current_app.config['RESEARCH_PACKAGES_PREPARED_BY']!r} here; the web servers "
            "need 'worker' to leave their packages to this command",
            err=True,
        )
    click.echo(f"prepared {jobs.work(until_idle)} research packages")


@research_cli.command("key")
def show_key():
    """Print this instance's signing key id and public key (for the regional hub's trust list)."""
    key_id, public = public_key_entry(instance_key())
    click.echo(json.dumps({key_id: public}))


@research_cli.command("audit")
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
def audit(package):
    """Re-check a package on its own: thresholds, rounding, recoverability of suppressed cells."""
    with open(package, "rb") as handle:
        data = handle.read()
    try:
        problems = audit_package(data)
    except UNREADABLE as error:
        raise click.ClickException(f"not a research package: {error!r}") from None
    for problem in problems:
        click.echo(problem)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s)")
    click.echo("audit passed")
