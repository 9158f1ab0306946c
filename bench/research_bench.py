"""Research tables with disclosure control, next to the raw SQL GROUP BY of the same counts.

    python bench/research_bench.py --profiles 100000 [--database-url postgresql+psycopg://...]

Uses (or seeds) the same database as bench/cases_bench.py. For every catalogue table it times the
whole release path for one table, uncached (counting in SQL with every total and distinct
persons, primary and complementary suppression with the interval audit, rounding: `build_table`)
and a plain GROUP BY that counts the finest cells, and prints both with their ratio, and how the
build splits into counting and protection. Figures, not a test.
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


def raw_queries():
    from msc.centres.models import Centre
    from msc.migrants.models import Consent, Migrant, MigrantCode
    from msc.referrals.models import Referral
    from msc.visits.models import GroupSession, Visit, WalkIn, group_session_attendee, visit_topic

    consenting = sa.select(Consent.migrant_id).where(
        Consent.purpose == "statistics", Consent.withdrawn_on.is_(None)
    )
    year = sa.extract("year", Migrant.created_at)
    profiles = (
        sa.select(year, Centre.country_code, Migrant.sex, Migrant.birth_year, sa.func.count())
        .join(Centre, Centre.id == Migrant.centre_id)
        .where(Migrant.id.in_(consenting))
    )
    return {
        "persons_registered": profiles.group_by(
            year, Centre.country_code, Migrant.sex, Migrant.birth_year
        ),
        "persons_education": sa.select(
            Migrant.education, Migrant.sex, Migrant.intention, sa.func.count()
        )
        .where(Migrant.id.in_(consenting))
        .group_by(Migrant.education, Migrant.sex, Migrant.intention),
        "persons_destination": sa.select(
            MigrantCode.code, Migrant.sex, Migrant.birth_year, sa.func.count()
        )
        .join(Migrant, Migrant.id == MigrantCode.migrant_id)
        .where(MigrantCode.kind == "destination", Migrant.id.in_(consenting))
        .group_by(MigrantCode.code, Migrant.sex, Migrant.birth_year),
        "persons_category": sa.select(
            Migrant.category, Migrant.labour_status, Migrant.sex, sa.func.count()
        )
        .where(Migrant.id.in_(consenting))
        .group_by(Migrant.category, Migrant.labour_status, Migrant.sex),
        "occupation_sought": sa.select(Migrant.occupation_sought, Migrant.sex, sa.func.count())
        .where(Migrant.id.in_(consenting))
        .group_by(Migrant.occupation_sought, Migrant.sex),
        "visits_by_topic": sa.select(
            visit_topic.c.topic,
            sa.extract("year", Visit.occurred_at),
            Centre.country_code,
            sa.func.count(),
        )
        .join(Visit, Visit.id == visit_topic.c.visit_id)
        .join(Centre, Centre.id == Visit.centre_id)
        .where(Visit.migrant_id.in_(consenting))
        .group_by(visit_topic.c.topic, sa.extract("year", Visit.occurred_at), Centre.country_code),
        "group_participants": sa.select(GroupSession.id, Migrant.sex, sa.func.count())
        .join(group_session_attendee, group_session_attendee.c.group_session_id == GroupSession.id)
        .join(Migrant, Migrant.id == group_session_attendee.c.migrant_id)
        .group_by(GroupSession.id, Migrant.sex),
        "referrals_by_outcome": sa.select(
            Referral.category,
            Referral.outcome,
            sa.extract("year", Referral.created_at),
            sa.func.count(),
        )
        .where(Referral.migrant_id.in_(consenting))
        .group_by(Referral.category, Referral.outcome, sa.extract("year", Referral.created_at)),
        "walk_ins": sa.select(
            WalkIn.sex, WalkIn.age_band, sa.extract("year", WalkIn.occurred_at), sa.func.count()
        ).group_by(WalkIn.sex, WalkIn.age_band, sa.extract("year", WalkIn.occurred_at)),
    }


def timed(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


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
        queries = raw_queries()
        request = Request(tuple(t.id for t in CATALOGUE), None, None, "year", "en")
        chosen = args.tables.split(",") if args.tables else [t.id for t in CATALOGUE]
        for spec in [t for t in CATALOGUE if t.id in chosen]:
            raw = timed(lambda q=queries[spec.id]: db.session.execute(q).all(), args.repeat)
            protected = timed(lambda s=spec: build_table(s, request), args.repeat)
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
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\n### Research tables, {args.profiles:,} profiles, {database}\n")
    print(
        "| table | raw GROUP BY ms | with disclosure control ms | ratio | counting | protection |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for table_id, f in results.items():
        print(
            f"| {table_id} | {f['raw_ms']} | {f['protected_ms']} | {f['ratio']} "
            f"| {f['counting_ms']} | {f['protection_ms']} |"
        )
    suffix = "-" + "-".join(chosen) if args.tables else ""
    out = RESULTS / f"research-{database.lower()}-{args.profiles}{suffix}.json"
    out.write_text(
        json.dumps({"database": database, "profiles": args.profiles, "results": results}, indent=2)
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
