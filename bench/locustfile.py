"""Load for `make bench` (bench/load_bench.py runs it; it is not run by hand as a rule).

Users of the three kinds the system has, in the proportions a national system sees:
counsellors (search, case list, case page, save a visit), supervisors (the review queue) and
one researcher (a table preview every 10-30 s). BENCH_PLAN names a JSON file that
load_bench.py writes from the database: per centre the demo counsellor and supervisor, case ids
and names to search for.
BENCH_WAIT is "latency" (people who read what they get: 0.5-2 s between requests) or "zero"
(no pause: to measure how many requests the server can answer). BENCH_FLOOR=1 asks only the
minimal route of bench/floor_app.py.

Supervisors (and admins) may have a second factor: after the password the server sends them to
/login/two-factor, or to /account/two-factor/setup to enrol first. The setup page shows the
secret (id="totp-secret"); this process enrols with it and keeps it per user for later logins.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import os
import random
import re
import time
import uuid
from pathlib import Path

from locust import HttpUser, between, constant, task

PLAN_FILE = os.environ.get("BENCH_PLAN")
PLAN = json.loads(Path(PLAN_FILE).read_text()) if PLAN_FILE else {}
PASSWORD = PLAN.get("password", "msc-demo-Belgrade-2026")
WAIT = constant(0) if os.environ.get("BENCH_WAIT") == "zero" else between(0.5, 2.0)
FLOOR = os.environ.get("BENCH_FLOOR") == "1"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
SUBMISSION = re.compile(r'name="submission_token" type="hidden" value="([0-9a-f]+)"')
TOTP_SECRET = re.compile(r'id="totp-secret"[^>]*>\s*([A-Z2-7 ]+?)\s*<')
TOPICS = ["legal_migration", "visas_permits", "recognition", "job_search_home", "worker_rights"]

# Enrolled second-factor secrets, per username. Enrolment stays in the database, so the secrets
# are also kept in a file for the next run (BENCH_TOTP_FILE, beside the benchmark's database).
TOTP_FILE = Path(os.environ["BENCH_TOTP_FILE"]) if os.environ.get("BENCH_TOTP_FILE") else None
totp_secrets: dict[str, str] = (
    json.loads(TOTP_FILE.read_text()) if TOTP_FILE and TOTP_FILE.exists() else {}
)
# Each simulated person of a role takes the next centre, so that two never share an account
# (a one-time code must not be used twice).
next_centre = {role: itertools.count() for role in ("counsellor", "supervisor", "researcher")}


def named(page: str) -> dict:
    """The page's name in the request id (a safe token the server keeps and logs), so that the
    server's own timings can be grouped by page although its log holds no query strings."""
    return {"X-Request-ID": f"bench.{page.replace(' ', '-')}.{uuid.uuid4().hex[:16]}"}


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    return match.group(1) if match else ""


class Person(HttpUser):
    abstract = True
    wait_time = WAIT
    role = ""

    def on_start(self):
        centres = PLAN.get("centres") or [{}]
        self.centre = centres[next(next_centre[self.role or "researcher"]) % len(centres)]
        self.username = self.pick_username()
        if self.username:
            self.log_in()

    def pick_username(self) -> str:
        return self.centre.get(self.role, "")

    def page(self, url: str, name: str, expect: int = 200, method: str = "GET", **kwargs):
        """A request that counts as failed unless it gets the expected status: redirects are
        not followed, so a lost session (a redirect to /login) is an error, not a login page."""
        with self.client.request(
            method,
            url,
            name=name,
            headers=named(name),
            allow_redirects=False,
            catch_response=True,
            **kwargs,
        ) as response:
            if response.status_code != expect:
                response.failure(f"{response.status_code} {response.headers.get('Location', '')}")
            return response

    def log_in(self):
        page = self.client.get("/login", name="login").text
        response = self.client.post(
            "/login",
            {"username": self.username, "password": PASSWORD, "csrf_token": csrf_of(page)},
            name="login",
            allow_redirects=False,
        )
        location = response.headers.get("Location", "")
        # The second step may come after the home page's redirects (/ -> /supervisor -> ...).
        for _hop in range(5):
            if not location or "two-factor" in location:
                break
            response = self.client.get(location, name="login", allow_redirects=False)
            location = response.headers.get("Location", "")
        if "/account/two-factor/setup" in location:
            self.enrol_second_factor(location)
        elif "/login/two-factor" in location:
            self.second_factor(location, totp_secrets.get(self.username, ""))

    def enrol_second_factor(self, location: str):
        import pyotp

        page = self.client.get(location, name="login").text
        match = TOTP_SECRET.search(page)
        if not match:
            return
        secret = match.group(1).replace(" ", "")
        totp_secrets[self.username] = secret
        if TOTP_FILE:
            TOTP_FILE.write_text(json.dumps(totp_secrets))
        self.client.post(
            location,
            {"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(page)},
            name="login",
        )

    def second_factor(self, location: str, secret: str):
        import pyotp

        for attempt in range(2):
            page = self.client.get(location, name="login").text
            code = pyotp.TOTP(secret).now() if secret else "000000"
            response = self.client.post(
                location,
                {"code": code, "csrf_token": csrf_of(page)},
                name="login",
                allow_redirects=False,
            )
            if response.status_code == 302 or attempt:
                return
            # A code works once: an earlier run in the same 30 s used it. Wait for the next one.
            time.sleep(31 - time.time() % 30)


class Counsellor(Person):
    weight = 7
    role = "counsellor"

    @task(4)
    def search(self):
        query = random.choice(self.centre.get("searches") or ["petrovic"])
        self.page("/cases/", "case search", params={"q": query})

    @task(3)
    def case_list(self):
        self.page("/cases/", "case list", params={"page": random.randint(1, 20)})

    @task(4)
    def case_page(self):
        case = random.choice(self.centre.get("cases") or [0])
        self.page(f"/cases/{case}", "case page")

    @task(1)
    def save_visit(self):
        case = random.choice(self.centre.get("cases") or [0])
        page = self.page(f"/cases/{case}/visits/new", "visit form").text
        token = SUBMISSION.search(page)
        when = dt.datetime.now() - dt.timedelta(minutes=random.randint(5, 600))
        self.page(
            f"/cases/{case}/visits/new",
            "save visit",
            expect=302,  # saved: back to the case page
            method="POST",
            data={
                "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
                "mode": "in_person",
                "duration_minutes": "30",
                "topics": random.sample(TOPICS, 2),
                "notes": "Benchmark visit.",
                "submission_token": html.unescape(token.group(1)) if token else "",
                "csrf_token": csrf_of(page),
            },
        )


class Supervisor(Person):
    weight = 2
    role = "supervisor"

    @task
    def queue(self):
        self.page("/referrals/queue", "supervisor queue")


class Researcher(Person):
    # One researcher, who reads a table now and then: a preview runs disclosure control over the
    # whole population (seconds, see research_bench.py) and would otherwise hold the workers.
    fixed_count = 1
    wait_time = between(10, 30)

    def pick_username(self) -> str:
        return PLAN.get("researcher", "")

    @task
    def table_preview(self):
        table = random.choice(PLAN.get("tables") or ["persons_registered"])
        self.page(f"/research/tables/{table}", "research table")


class FloorUser(HttpUser):
    """The framework's floor: a route that does nothing, under the same server."""

    wait_time = WAIT
    weight = 1

    @task
    def floor(self):
        self.client.get("/floor", name="minimal route")


# Only the classes of the run remain: the floor run and the application run share this file.
if FLOOR:
    del Counsellor, Supervisor, Researcher
else:
    del FloorUser
