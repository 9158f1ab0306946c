"""`make bench`: the application under gunicorn, driven by locust, at a given number of profiles.

    python bench/load_bench.py --profiles 100000                       # SQLite
    python bench/load_bench.py --profiles 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

1. The database (bench/results/bench-<N>.sqlite3, or the PostgreSQL database msc_bench_<N>) is
   migrated to head and, when empty, seeded with `flask msc demo-data --profiles N` (timed).
2. `flask msc research refresh` computes every research preview, as the research server's
   schedule does in production (--cold-previews skips it), and gunicorn serves the database
   with config/gunicorn.conf.py on a free port, in production settings.
3. locust (headless) runs the mix of bench/locustfile.py twice: "latency", people who pause
   between requests (median and p95 per page), and "capacity", no pause (throughput).
4. The same server runs bench/floor_app.py, a route that does nothing: the framework's floor.
5. bench/research_bench.py gives the research tables' ratios.

Latency is given twice: as locust sees it (the client, on the same two cores) and as the server
measured it (duration_ms of the application's JSON request log: the goal is server-side). Results:
bench/results/bench-<N>-<sqlite|postgresql>.json and .md.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
PAGES = ["case search", "case list", "case page", "save visit", "supervisor queue"]
GOAL_P95_MS = 50


def flask_env(url: str) -> dict:
    """Seeding and migrations run in testing settings, as the other benchmarks' seeding does:
    field encryption then uses the key derived from the testing secret (see server_env)."""
    env = dict(os.environ)
    env.update(
        MSC_ENV="testing",
        MSC_DATABASE_URL=url,
        MSC_INSTANCE_PATH=str(RESULTS / "instance"),
    )
    return env


def flask(url: str, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], env=flask_env(url), check=True)


def prepare(url: str, profiles: int) -> float | None:
    """Migrate to head; seed when empty. Returns the seeding time in seconds, if it seeded."""
    flask(url, "db", "upgrade")
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        have = connection.scalar(sa.text("SELECT count(*) FROM migrant"))
    engine.dispose()
    if have == profiles:
        print(f"reusing the database with {have:,} profiles")
        return None
    if have:
        raise SystemExit(f"the database holds {have:,} profiles, not {profiles:,}: not touching it")
    print(f"seeding {profiles:,} profiles with flask msc demo-data ...", flush=True)
    started = time.perf_counter()
    flask(url, "msc", "demo-data", "--profiles", str(profiles))
    seconds = time.perf_counter() - started
    print(f"seeded in {seconds:.0f} s", flush=True)
    return seconds


def refresh_previews(url: str) -> float:
    """What the research server's schedule does in production (`flask msc research refresh`,
    README): every table's preview computed ahead, so that the researcher in the mix reads them
    as researchers do between refreshes. Returns the seconds it took."""
    env = flask_env(url)
    env["MSC_RESEARCH_CACHE_SECONDS"] = "900"
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "msc", "research", "refresh"], env=env, check=True
    )
    return time.perf_counter() - started


def make_plan(url: str, path: Path, per_centre: int = 200) -> dict:
    """Users, case ids and search words per centre, read from the database for locustfile.py."""
    rng = random.Random(2026)
    engine = sa.create_engine(url)
    plan = {"centres": [], "tables": [], "researcher": ""}
    with engine.connect() as connection:
        users = connection.execute(
            sa.text('SELECT username, role, centre_id FROM "user" WHERE active')
        ).all()
        low, high = connection.execute(sa.text("SELECT min(id), max(id) FROM migrant")).one()
        # A random sample by id (ids are dense enough); ORDER BY random() would sort a million.
        ids = rng.sample(range(low, high + 1), min(high - low + 1, per_centre * 40))
        rows = connection.execute(
            sa.select(sa.column("id"), sa.column("centre_id"), sa.column("name_key"))
            .select_from(sa.table("migrant"))
            .where(sa.column("merged_into_id").is_(None), sa.column("id").in_(ids))
        ).all()
    engine.dispose()
    for username, role, _centre_id in users:
        if role == "researcher" and not plan["researcher"]:
            plan["researcher"] = username
    for centre_id in sorted({u.centre_id for u in users if u.centre_id}):
        staff = {u.role: u.username for u in users if u.centre_id == centre_id}
        mine = [r for r in rows if r.centre_id == centre_id][:per_centre]
        if not mine or "counsellor" not in staff:
            continue
        plan["centres"].append(
            {
                "counsellor": staff.get("counsellor", ""),
                "supervisor": staff.get("supervisor", ""),
                "cases": [r.id for r in mine],
                "searches": search_words(mine, rng),
            }
        )
    from msc.research.catalogue import CATALOGUE

    plan["tables"] = [spec.id for spec in CATALOGUE]
    path.write_text(json.dumps(plan))
    return plan


def search_words(rows, rng) -> list[str]:
    """What counsellors type: a family name, family and given name, or one with a typo."""
    words = []
    for row in rows:
        parts = row.name_key.split()
        kind = rng.randrange(3)
        if kind == 0:
            words.append(parts[0])
        elif kind == 1:
            words.append(" ".join(parts[:2]))
        else:
            family = parts[0]
            at = rng.randrange(len(family))
            words.append(family[:at] + rng.choice("aeioukmrst") + family[at + 1 :])
    return words


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(url: str, port: int, metrics_token: str) -> dict:
    """Production settings, as an operator runs them, with what a plain-HTTP bench needs."""
    from config.settings import TestingSettings
    from msc.core.crypto import DERIVED_KEY_ID, derive_key

    data_key = base64.b64encode(derive_key(TestingSettings.SECRET_KEY)).decode()
    env = dict(os.environ)
    env.update(
        MSC_ENV="production",
        MSC_DATABASE_URL=url,
        MSC_INSTANCE_PATH=str(RESULTS / "instance"),
        MSC_SECRET_KEY=secrets.token_urlsafe(48),
        MSC_DATA_KEYS=f"{DERIVED_KEY_ID}:{data_key}",  # the key the seeding encrypted with
        MSC_SESSION_COOKIE_SECURE="false",  # plain HTTP on 127.0.0.1
        MSC_LOGIN_RATE_LIMIT="100000 per minute",  # every simulated person logs in from here
        MSC_METRICS_TOKEN=metrics_token,
        MSC_BIND=f"127.0.0.1:{port}",
        PROMETHEUS_MULTIPROC_DIR=str(RESULTS / "prometheus"),
    )
    return env


class Server:
    """gunicorn with config/gunicorn.conf.py; its output (JSON log lines) goes to a file."""

    def __init__(self, app: str, env: dict, log: Path):
        self.port = int(env["MSC_BIND"].rsplit(":", 1)[1])
        self.log = log
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), app],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, seconds: int = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn ended; see {self.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5):
                    return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the server was not ready in {seconds} s; see {self.log}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def totp_file(plan: Path) -> Path:
    """Second-factor secrets the simulated supervisors enrolled with, kept for the next run."""
    return plan.with_name(plan.name.replace("plan-", "totp-"))


def forget_lost_second_factors(url: str, plan: Path) -> None:
    """A reused benchmark database whose enrolment secrets are gone (a fresh clone's empty
    bench/results) would refuse every supervisor: clear the factors, as an admin's reset does,
    so that they enrol again. Only ever on the benchmark's own database."""
    if totp_file(plan).exists():
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                'UPDATE "user" SET totp_secret = NULL, totp_enabled_at = NULL, '
                "totp_last_step = NULL"
            )
        )
        connection.execute(sa.text("DELETE FROM recovery_code"))
    engine.dispose()


def run_locust(port: int, plan: Path, users: int, seconds: int, wait: str, name: str, floor=False):
    """A headless locust run; returns its per-name stats rows (locust's CSV)."""
    prefix = RESULTS / plan.stem.replace("plan-", "locust-") / name
    prefix.parent.mkdir(exist_ok=True)
    env = dict(os.environ, BENCH_PLAN=str(plan), BENCH_WAIT=wait, BENCH_FLOOR="1" if floor else "")
    env["BENCH_TOTP_FILE"] = str(totp_file(plan))
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 2)),
            "--run-time",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        check=False,  # locust exits 1 when any request failed; the error count says so
    )
    with open(f"{prefix}_stats.csv") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def server_durations(log: Path, since: float) -> dict[str, list[float]]:
    """duration_ms per page from the application's request log lines after `since`; the page
    is named in the request id locust sends (bench.<page>.<random>)."""
    from datetime import datetime

    durations: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        request_id = entry.get("request_id") or ""
        if entry.get("logger") != "msc.request" or not request_id.startswith("bench."):
            continue
        if datetime.fromisoformat(entry["time"]).timestamp() < since:
            continue
        page = request_id.split(".")[1].replace("-", " ")
        durations.setdefault(page, []).append(entry["duration_ms"])
    return durations


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summarise(stats: dict, durations: dict, seconds: int) -> dict:
    pages = {}
    for name, row in stats.items():
        if name in {"Aggregated", "login"}:
            continue
        server = durations.get(name, [])
        pages[name] = {
            "requests": int(row["Request Count"]),
            "errors": int(row["Failure Count"]),
            "client_median_ms": float(row["Median Response Time"]),
            "client_p95_ms": float(row["95%"]),
            "throughput_rps": round(float(row["Requests/s"]), 1),
            "server_median_ms": round(statistics.median(server), 1) if server else None,
            "server_p95_ms": round(percentile(server, 0.95), 1) if server else None,
        }
    return pages


def run_research(profiles: int, database_url: str | None) -> str:
    command = [sys.executable, str(ROOT / "bench" / "research_bench.py"), "--profiles"]
    command += [str(profiles), "--repeat", "1"]
    if database_url:
        command += ["--database-url", database_url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    output = done.stdout.split("### ", 1)
    return ("### " + output[1]).split("\nwritten to")[0].strip() if len(output) > 1 else done.stderr


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().split()[1]
        memory_gb = round(int(memory) / 1024 / 1024)
    except OSError:
        memory_gb = 0
    return f"{os.cpu_count()} cores ({cpu}), {memory_gb} GB RAM, {platform.system()}"


def markdown(result: dict) -> str:
    lines = [
        f"### Load benchmark: {result['profiles']:,} profiles, {result['database']}",
        "",
        f"Machine: {result['machine']}. gunicorn {result['workers']} sync workers; locust on the "
        f"same machine. Latency phase: {result['latency_users']} people pausing 0.5-2 s, "
        f"{result['seconds']} s; capacity phase: {result['capacity_users']} without pause.",
        "",
        "| page | server median ms | server p95 ms | client median ms | client p95 ms | "
        "errors | capacity req/s | goal p95 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    latency, capacity = result["latency"], result["capacity"]
    for name in [*PAGES, "research table", "visit form"]:
        if name not in latency:
            continue
        row = latency[name]
        errors = row["errors"] + capacity.get(name, {}).get("errors", 0)
        goal = ""
        if name in PAGES and row["server_p95_ms"] is not None:
            goal = "met" if row["server_p95_ms"] <= GOAL_P95_MS else "missed"
        if errors:
            goal = "errors: not measured"  # fast failures are no evidence of a fast page
        lines.append(
            f"| {name} | {row['server_median_ms']} | {row['server_p95_ms']} | "
            f"{row['client_median_ms']:.0f} | {row['client_p95_ms']:.0f} | {errors} | "
            f"{capacity.get(name, {}).get('throughput_rps', '')} | {goal} |"
        )
    total = sum(row["throughput_rps"] for row in capacity.values())
    lines += ["", f"All pages together, without pause: {total:.1f} requests/s."]
    if result.get("floor"):
        floor = result["floor"]
        lines.append(
            f"Floor (a Flask route that does nothing, same server and users): "
            f"{floor['throughput_rps']} requests/s, median {floor['client_median_ms']:.0f} ms."
        )
    if result.get("seed_seconds"):
        lines.append(
            f"Seeding with `flask msc demo-data --profiles {result['profiles']}`: "
            f"{result['seed_seconds']:.0f} s."
        )
    if result.get("preview_refresh_seconds") is not None:
        lines.append(
            "Research previews refreshed before the run, as the schedule does in production "
            f"(`flask msc research refresh`): {result['preview_refresh_seconds']:.0f} s."
        )
    else:
        lines.append("Research previews cold: the researcher's first look at each table counts it.")
    if result.get("research"):
        lines += ["", result["research"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("MSC_BENCH_DATABASE_URL"))
    parser.add_argument(
        "--database-name", help="PostgreSQL database or SQLite file name (msc_bench_<N>, bench-<N>)"
    )
    parser.add_argument("--users", type=int, default=20, help="people in the latency phase")
    parser.add_argument("--capacity-users", type=int, default=10, help="without pause")
    parser.add_argument("--seconds", type=int, default=60, help="length of each locust run")
    parser.add_argument("--workers", type=int, help="gunicorn workers (config default if unset)")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--no-research", action="store_true")
    parser.add_argument(
        "--cold-previews",
        action="store_true",
        help="do not refresh the research previews first: the researcher computes each table",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    RESULTS.mkdir(parents=True, exist_ok=True)
    from bench.cases_bench import database_for  # the same benchmark databases

    url = database_for(args.profiles, args.database_url, args.database_name)
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    seed_seconds = prepare(url, args.profiles)
    plan_path = RESULTS / f"plan-{args.profiles}-{database}.json"
    make_plan(url, plan_path)
    forget_lost_second_factors(url, plan_path)
    refresh_seconds = None if args.cold_previews else refresh_previews(url)

    token = secrets.token_urlsafe(32)
    env = server_env(url, free_port(), token)
    if args.workers:
        env["MSC_WORKERS"] = str(args.workers)
    workers = int(env.get("MSC_WORKERS") or os.cpu_count() * 2)
    log = RESULTS / f"server-{args.profiles}-{database}.log"
    print(f"gunicorn on port {env['MSC_BIND']}, log in {log.relative_to(ROOT)}", flush=True)
    server = Server("wsgi:app", env, log)
    try:
        since = time.time()
        stats = run_locust(server.port, plan_path, args.users, args.seconds, "latency", "latency")
        latency = summarise(stats, server_durations(log, since), args.seconds)
        since = time.time()
        stats = run_locust(
            server.port, plan_path, args.capacity_users, args.seconds, "zero", "capacity"
        )
        capacity = summarise(stats, server_durations(log, since), args.seconds)
    finally:
        server.stop()

    floor = None
    if not args.no_floor:
        env["MSC_BIND"] = f"127.0.0.1:{free_port()}"
        floor_log = RESULTS / f"server-floor-{args.profiles}-{database}.log"
        floor_server = Server("bench.floor_app:app", env, floor_log)
        try:
            stats = run_locust(
                floor_server.port,
                plan_path,
                args.capacity_users,
                args.seconds,
                "zero",
                "floor",
                floor=True,
            )
        finally:
            floor_server.stop()
        floor = summarise(stats, {}, args.seconds).get("minimal route")

    result = {
        "profiles": args.profiles,
        "database": "PostgreSQL" if database == "postgresql" else "SQLite",
        "machine": machine(),
        "workers": workers,
        "latency_users": args.users,
        "capacity_users": args.capacity_users,
        "seconds": args.seconds,
        "seed_seconds": seed_seconds,
        "preview_refresh_seconds": refresh_seconds,
        "latency": latency,
        "capacity": capacity,
        "floor": floor,
        "research": None if args.no_research else run_research(args.profiles, args.database_url),
    }
    out = RESULTS / f"bench-{args.profiles}-{database}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    out.with_suffix(".md").write_text(markdown(result))
    print()
    print(markdown(result))
    print(f"written to {out.relative_to(ROOT)}.json and .md")


if __name__ == "__main__":
    main()
