"""Case search and case-list latency at scale, server side (the app in process, no network).

    python bench/cases_bench.py --profiles 100000                  # SQLite
    python bench/cases_bench.py --profiles 100000 --database-url postgresql+psycopg://postgres@127.0.0.1/postgres

The database is seeded once with `flask msc demo-data` data and reused by later runs. Prints a
Markdown table of median and p95 per request kind and writes it as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def database_for(profiles: int, server_url: str | None, name: str | None = None) -> str:
    """The benchmark database of that size (created empty on PostgreSQL when missing)."""
    if not server_url:
        RESULTS.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{RESULTS / ((name or f'bench-{profiles}') + '.sqlite3')}"
    server = sa.make_url(server_url)
    name = name or f"msc_bench_{profiles}"
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def seed_if_needed(app, profiles: int) -> None:
    import flask_migrate

    from msc.core.db import db
    from msc.demo.generate import database_is_empty, load_demo_data
    from msc.migrants.models import Migrant

    with app.app_context():
        flask_migrate.upgrade()
        if not database_is_empty():
            have = db.session.scalar(sa.select(sa.func.count(Migrant.id)))
            if have == profiles:
                print(f"reusing the database with {have:,} profiles")
                return
            raise SystemExit(
                f"the bench database holds {have:,} profiles, not {profiles:,}; drop it first"
            )
        started = time.monotonic()
        load_demo_data(profiles=profiles, progress=lambda message: print("  seeding:", message))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE"))
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        print(f"seeded {profiles:,} profiles in {time.monotonic() - started:.0f} s")


def sample_inputs(app, rng: random.Random, count: int) -> dict[str, list[str]]:
    from msc.centres.models import Centre
    from msc.core.db import db
    from msc.migrants.models import Migrant

    with app.app_context():
        centre_id = db.session.scalar(sa.select(Centre.id).where(Centre.code == "BG1"))
        rows = db.session.execute(
            sa.select(
                Migrant.id,
                Migrant.case_number,
                Migrant.family_name,
                Migrant.family_name_latin,
                Migrant.given_name_latin,
                Migrant.birth_year,
                Migrant.phone,
            )
            .where(Migrant.centre_id == centre_id)
            .order_by(Migrant.id)
            .limit(5000)
        ).all()
    picks = [rng.choice(rows) for _ in range(count)]

    def typo(word: str) -> str:
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1 :]

    return {
        "case list": [f"/cases/?page={rng.randint(1, 20)}" for _ in picks],
        "case list by name": [f"/cases/?sort=name&page={rng.randint(1, 20)}" for _ in picks],
        "search: name, Latin": [
            f"/cases/?q={r.family_name_latin} {r.given_name_latin}" for r in picks
        ],
        "search: name, other script": [f"/cases/?q={r.family_name}" for r in picks],
        "search: name with a typo": [f"/cases/?q={typo(r.family_name_latin)}" for r in picks],
        "search: case number": [f"/cases/?q={r.case_number}" for r in picks],
        "search: year of birth": [f"/cases/?birth={r.birth_year}" for r in picks],
        "search: phone": [f"/cases/?phone={(r.phone or '+381 60 1234567')[-7:]}" for r in picks],
        "case page": [f"/cases/{r.id}" for r in picks],
    }


def log_in(client, username: str, password: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, "login failed"


def measure(client, urls: list[str]) -> dict:
    timings = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings.sort()
    return {
        "requests": len(timings),
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
        "max_ms": round(timings[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("MSC_BENCH_DATABASE_URL"))
    parser.add_argument("--requests", type=int, default=200, help="requests per kind")
    args = parser.parse_args()

    os.environ.setdefault("MSC_INSTANCE_PATH", str(RESULTS / "instance"))
    from msc import create_app

    url = database_for(args.profiles, args.database_url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": True})
    seed_if_needed(app, args.profiles)
    client = app.test_client()
    log_in(client, "counsellor.bg1", app.config["DEMO_PASSWORD"])
    inputs = sample_inputs(app, random.Random(7), args.requests)
    for urls in inputs.values():  # warm the caches once
        measure(client, urls[:5])
    results = {kind: measure(client, urls) for kind, urls in inputs.items()}

    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\n### Case search and list, {args.profiles:,} profiles, {database} ({machine})\n")
    print("| request | median ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for kind, figures in results.items():
        print(f"| {kind} | {figures['median_ms']} | {figures['p95_ms']} | {figures['max_ms']} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"cases-{database.lower()}-{args.profiles}.json"
    out.write_text(
        json.dumps(
            {
                "database": database,
                "profiles": args.profiles,
                "machine": machine,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
