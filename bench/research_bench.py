"""Research tables with disclosure control, next to the raw SQL GROUP BY of the same counts.

    python bench/research_bench.py --profiles 100000 [--database-url postgresql+psycopg://...]

Uses (or seeds) the same database as bench/cases_bench.py. For every catalogue table it times the
whole release path for one table, uncached (counting in SQL with every total and distinct
persons, primary and complementary suppression with the interval audit, rounding: `build_table`)
and a plain GROUP BY that counts the finest cells, and prints both with their ratio (the two run
in turn, after a run of each that is not counted: `timed_side_by_side`), and how the build
splits into counting and protection. Both read through the same connection
(`research_connection`, so with its settings: no JIT on PostgreSQL). Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.cases_bench import RESULTS, database_for, seed_if_needed  # noqa: E402


def raw_queries(dialect: str):
    """One plain GROUP BY per table: its finest cells, with the table's own filters (statistics
    consent, merged profiles, the period's expression), counting its unit. No distinct
    persons, no totals, no protection: what a naive export would run for the same counts."""
    from msc.centres.models import Centre
    from msc.migrants.models import Migrant, MigrantCode
    from msc.referrals.models import Referral
    from msc.research.catalogue import (
        _consents,
        _period_sql,
        _profiles_where,
        _year_sql,
        statistics_consent,
    )
    from msc.visits.models import (
        Visit,
        WalkIn,
        group_session_attendee,
        group_session_topic,
        visit_topic,
    )

    def grouped(*columns, where=(), joins=()):
        query = sa.select(*columns, sa.func.count())
        for target, on in joins:
            query = query.join(target, on)
        return query.where(*where).group_by(*columns)

    profiles = _profiles_where(None, None)
    year = _year_sql(Migrant.created_at, dialect)
    visit_year = _period_sql(Visit.occurred_at, "year", dialect)
    attendee = group_session_attendee.c
    return {
        "persons_registered": grouped(
            year,
            Centre.country_code,
            Migrant.sex,
            Migrant.birth_year,
            joins=[(Centre, Centre.id == Migrant.centre_id)],
            where=profiles,
        ),
        "persons_education": grouped(
            Migrant.education, Migrant.sex, Migrant.intention, where=profiles
        ),
        "persons_destination": grouped(
            MigrantCode.code,
            year,
            Migrant.sex,
            Migrant.birth_year,
            joins=[(Migrant, Migrant.id == MigrantCode.migrant_id)],
            where=[MigrantCode.kind == "destination", Migrant.intention != "none", *profiles],
        ),
        "persons_category": grouped(
            Migrant.category, Migrant.labour_status, Migrant.sex, where=profiles
        ),
        "occupation_sought": grouped(Migrant.occupation_sought, Migrant.sex, where=profiles),
        "visits_by_topic": sa.select(
            visit_topic.c.topic, visit_year, Centre.country_code, sa.func.count()
        )
        .select_from(Visit)
        .outerjoin(visit_topic, visit_topic.c.visit_id == Visit.id)
        .join(Centre, Centre.id == Visit.centre_id)
        .where(Visit.migrant_id.in_(statistics_consent()))
        .group_by(visit_topic.c.topic, visit_year, Centre.country_code),
        "group_participants": sa.select(group_session_topic.c.topic, Migrant.sex, sa.func.count())
        .select_from(group_session_attendee)
        .join(
            group_session_topic,
            group_session_topic.c.group_session_id == attendee.group_session_id,
        )
        .join(Migrant, Migrant.id == attendee.migrant_id)
        .where(_consents(attendee.migrant_id))
        .group_by(group_session_topic.c.topic, Migrant.sex),
        "referrals_by_outcome": grouped(
            Referral.category,
            Referral.status,
            Referral.outcome,
            _period_sql(Referral.created_at, "year", dialect),
            where=[Referral.migrant_id.in_(statistics_consent()), Referral.status != "draft"],
        ),
        "walk_ins": grouped(
            WalkIn.sex, WalkIn.age_band, _period_sql(WalkIn.occurred_at, "year", dialect)
        ),
    }


def raw_over_topic_bits(dialect: str):
    """The raw count of visits by topic read from the topics' bits on the visit row
    (`visit.topic_set`) instead of the join with visit_topic: one pass over the visits, a sum
    per topic. Printed beside the table, so that the ratio can be read against either."""
    from msc.centres.models import Centre
    from msc.core.db import db
    from msc.research.catalogue import _has_topic, _period_sql, statistics_consent
    from msc.visits.models import Visit, topic_bits

    year = _period_sql(Visit.occurred_at, "year", dialect)
    topics = [
        sa.func.sum(_has_topic(Visit.topic_set, bit, topic == "other"))
        for topic, bit in topic_bits(db.session).items()
    ]
    return (
        sa.select(year, Centre.country_code, sa.func.count(), *topics)
        .join(Centre, Centre.id == Visit.centre_id)
        .where(Visit.migrant_id.in_(statistics_consent()))
        .group_by(year, Centre.country_code)
    )


def _blank(value) -> str:
    return "" if value is None else str(value)


def timed(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def timed_side_by_side(first, second, repeat: int) -> tuple[float, float]:
    """Medians (ms) of two functions run in turn, after one run of each that is not counted:
    a slow spell of the machine, or the first statement's warm-up, then weighs on both alike
    and not on the ratio alone."""
    first(), second()
    times: tuple[list, list] = ([], [])
    for _ in range(repeat):
        for function, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            function()
            into.append(time.perf_counter() - started)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("MSC_BENCH_DATABASE_URL"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tables", help="comma-separated table ids (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("MSC_INSTANCE_PATH", str(RESULTS / "instance"))
    from msc import create_app
    from msc.core.db import db
    from msc.research.catalogue import CATALOGUE, research_connection
    from msc.research.disclosure import protect
    from msc.research.package import Request, build_table

    url = database_for(args.profiles, args.database_url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    seed_if_needed(app, args.profiles)
    results = {}
    with app.test_request_context():
        queries = raw_queries(db.engine.dialect.name)
        request = Request(tuple(t.id for t in CATALOGUE), None, None, "year", "en")
        chosen = args.tables.split(",") if args.tables else [t.id for t in CATALOGUE]

        def read(query):
            """Through the connection the tables read through, with its settings (no JIT)."""
            with research_connection() as connection:
                return connection.execute(query).all()

        for spec in [t for t in CATALOGUE if t.id in chosen]:
            raw, protected = timed_side_by_side(
                lambda q=queries[spec.id]: read(q),
                lambda s=spec: build_table(s, request),
                args.repeat,
            )
            counted = {}

            def count(s=spec, into=counted):
                with research_connection() as connection:
                    into["counts"] = s.counts(connection, None, None, "year", 10)

            counting = timed(count, args.repeat)
            protecting = timed(
                lambda s=spec, c=counted: protect(s, c["counts"], 10, 5), args.repeat
            )
            results[spec.id] = {
                "raw_ms": round(raw, 1),
                "protected_ms": round(protected, 1),
                "ratio": round(protected / raw, 1) if raw else None,
                "counting_ms": round(counting, 1),
                "protection_ms": round(protecting, 1),
            }
            if spec.id == "visits_by_topic":
                query = raw_over_topic_bits(db.engine.dialect.name)
                bits, protected = timed_side_by_side(
                    lambda q=query: read(q), lambda s=spec: build_table(s, request), args.repeat
                )
                results["visits_by_topic (raw over the topic bits)"] = {
                    "raw_ms": round(bits, 1),
                    "protected_ms": round(protected, 1),
                    "ratio": round(protected / bits, 1) if bits else None,
                    "counting_ms": None,
                    "protection_ms": None,
                }
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\n### Research tables, {args.profiles:,} profiles, {database}\n")
    print(
        "| table | raw GROUP BY ms | with disclosure control ms | ratio | counting | protection |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for table_id, f in results.items():
        print(
            f"| {table_id} | {f['raw_ms']} | {f['protected_ms']} | {f['ratio']} "
            f"| {_blank(f['counting_ms'])} | {_blank(f['protection_ms'])} |"
        )
    suffix = "-" + "-".join(chosen) if args.tables else ""
    out = RESULTS / f"research-{database.lower()}-{args.profiles}{suffix}.json"
    out.write_text(
        json.dumps({"database": database, "profiles": args.profiles, "results": results}, indent=2)
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
