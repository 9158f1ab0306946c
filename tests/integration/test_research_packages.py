"""Research packages prepared in the background and offered on the researcher's page."""

import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from msc.core.db import db, utcnow
from msc.core.roles import Role
from msc.research import jobs
from msc.research.audit import audit_package
from msc.research.models import ResearchJob, ResearchRelease
from tests.fixtures.factories import log_in
from tests.integration.test_research import populate, two_national_packages


def ask(client, follow_redirects=False, **form):
    form.setdefault("csrf_token", client.csrf_token("/research/packages"))
    return client.post("/research/packages", data=form, follow_redirects=follow_redirects)


def file_links(client) -> list[str]:
    page = client.get("/research/packages").get_data(as_text=True)
    return re.findall(r'href="(/research/packages/\d+/file)"', page)


def wait_until_finished(job_id: int, seconds: float = 60) -> ResearchJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        job = db.session.get(ResearchJob, job_id)
        if job.status not in jobs.PENDING:
            return job
        time.sleep(0.1)
    raise AssertionError(f"package {job_id} still {job.status} after {seconds} s")


def test_a_package_is_prepared_in_the_background_and_offered_when_ready(
    app, client, login_as, make_user, make_migrant, monkeypatch
):
    monkeypatch.setitem(app.config, "RESEARCH_PACKAGES_PREPARED_BY", "thread")
    populate(make_user, make_migrant, 15)
    researcher = login_as(Role.RESEARCHER)
    with jobs._one_at_a_time:  # another package is being prepared in this process
        asked = ask(client, table="persons_category", period="quarter", format="xlsx")
        assert asked.status_code == 302 and asked.headers["Location"] == "/research/packages"
        waiting = client.get("/research/packages").get_data(as_text=True)
        # It looks again every 5 seconds, which the researcher can turn off (WCAG 2.2.1).
        assert "Waiting" in waiting and 'id="auto-refresh"' in waiting
        assert "/static/packages.js" in waiting and "http-equiv" not in waiting
        assert "Persons by migrant category, labour-market status and sex" in waiting
        assert "Quarter" in waiting and "XLSX" in waiting and file_links(client) == []
        # A second click on the same request asks for nothing more; another request queues.
        again = client.post(
            "/research/packages",
            data={
                "csrf_token": client.csrf_token("/research/packages"),
                "table": "persons_category",
                "period": "quarter",
                "format": "xlsx",
            },
            follow_redirects=True,
        ).get_data(as_text=True)
        assert "already being prepared" in again
        assert db.session.scalar(sa.select(sa.func.count(ResearchJob.id))) == 1
        ask(client, table="walk_ins")
    first, second = db.session.scalars(sa.select(ResearchJob.id).order_by(ResearchJob.id))
    assert wait_until_finished(first).status == ResearchJob.READY
    assert wait_until_finished(second).status == ResearchJob.READY
    ready = client.get("/research/packages").get_data(as_text=True)
    assert 'id="auto-refresh"' not in ready
    link = file_links(client)[1]  # the newest first: the walk-ins, then this one
    response = client.get(link)
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "msc-research-tables.xlsx" in response.headers["Content-Disposition"]
    from msc.research.formats import read_xlsx

    assert "persons_category" in read_xlsx(response.data)
    # Each download is a release in the ledger, by the researcher who took it.
    client.get(link)
    releases = db.session.scalars(sa.select(ResearchRelease)).all()
    assert [(r.kind, r.user_id, r.tables) for r in releases] == [
        ("xlsx", researcher.id, ["persons_category"])
    ] * 2
    assert releases[0].parameters["period"] == "quarter"


def test_the_package_prepared_is_the_one_the_command_line_exports(
    client, runner, login_as, make_user, make_migrant, tmp_path
):
    populate(make_user, make_migrant, 12)
    out = tmp_path / "cli.zip"
    args = ["msc", "research", "export", "--out", str(out), "--tables", "persons_registered"]
    assert runner.invoke(args=[*args, "--geography", "region", "--period", "month"]).exit_code == 0
    login_as(Role.RESEARCHER)
    web = client.research_package("table=persons_registered&geography=region&period=month")
    assert web.data == out.read_bytes() and audit_package(web.data) == []


def test_a_package_is_only_for_the_researcher_who_asked(client, login_as, make_user, make_migrant):
    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    ask(client, table="walk_ins")
    [link] = file_links(client)
    other = make_user(Role.RESEARCHER)
    client.post_form("/logout", page="/")
    assert log_in(client, other.username).status_code == 302
    assert client.get(link).status_code == 404  # never a 403 that confirms it exists
    assert file_links(client) == []
    supervisor = make_user(Role.SUPERVISOR)
    client.post_form("/logout", page="/")
    assert log_in(client, supervisor.username).status_code == 302
    assert client.get(link).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(ResearchRelease.id))) == 0


@pytest.mark.parametrize("failure", ["audit", "error"])
def test_a_package_that_fails_is_not_offered(
    client, login_as, make_user, make_migrant, monkeypatch, failure
):
    populate(make_user, make_migrant, 12)
    if failure == "audit":
        monkeypatch.setattr(jobs, "audit_package", lambda data: ["a cell can be narrowed"])
    else:

        def broken(request):
            raise RuntimeError("the database went away")

        monkeypatch.setattr(jobs, "build_package", broken)
    login_as(Role.RESEARCHER)
    assert ask(client, table="walk_ins").status_code == 302
    page = client.get("/research/packages").get_data(as_text=True)
    assert "Not released" in page and file_links(client) == []
    expected = {"audit": "failed its disclosure audit", "error": "could not be prepared"}
    assert expected[failure] in page
    job = db.session.scalar(sa.select(ResearchJob))
    assert (job.status, job.failure, job.data) == (ResearchJob.FAILED, failure, None)
    assert db.session.scalar(sa.select(sa.func.count(ResearchRelease.id))) == 0


def test_old_packages_are_forgotten_and_unfinished_ones_called_interrupted(
    client, login_as, make_user, make_migrant
):
    researcher = login_as(Role.RESEARCHER)
    now = utcnow()

    def package(status, age, data=None, started=None, kind="download"):
        db.session.add(
            ResearchJob(
                user_id=researcher.id,
                kind=kind,
                tables=["walk_ins"],
                parameters={"period": "year", "locale": "en", "from": None, "to": None},
                status=status,
                requested_at=now - age,
                started_at=now - started if started else None,
                data=data,
                size=len(data) if data else None,
            )
        )

    package(ResearchJob.READY, timedelta(days=8), b"old")
    package(ResearchJob.READY, timedelta(days=6), b"kept")
    # Started 66 minutes ago: its preparer would have stopped at 60 (and 5 of grace).
    package(ResearchJob.RUNNING, timedelta(hours=3), started=timedelta(minutes=66))
    # Waited, and started 30 minutes ago: still within its time.
    package(ResearchJob.RUNNING, timedelta(hours=2), started=timedelta(minutes=30))
    # A merge that waited an hour for its audit: no preparer will take it any more.
    package(ResearchJob.QUEUED, timedelta(minutes=61), b"unaudited", kind="merge")
    package(ResearchJob.QUEUED, timedelta(minutes=5))
    db.session.commit()
    page = client.get("/research/packages").get_data(as_text=True)
    assert page.count("was interrupted") == 2 and len(file_links(client)) == 1  # not the old one
    oldest = db.session.scalar(sa.select(sa.func.min(ResearchJob.id)))
    assert client.get(f"/research/packages/{oldest}/file").status_code == 404  # though not tidied
    assert 'id="auto-refresh"' in page  # two are still being prepared or waiting
    ask(client, table="persons_category")  # asking for a package tidies the table
    db.session.expire_all()
    left = db.session.execute(
        sa.select(ResearchJob.status, ResearchJob.failure, ResearchJob.data.is_not(None)).order_by(
            ResearchJob.requested_at
        )
    ).all()
    assert [tuple(row) for row in left] == [
        (ResearchJob.READY, None, True),
        (ResearchJob.FAILED, "interrupted", False),
        (ResearchJob.RUNNING, None, False),
        (ResearchJob.FAILED, "interrupted", False),  # the unaudited merge is not kept
        (ResearchJob.QUEUED, None, False),
        (ResearchJob.READY, None, True),
    ]


def test_the_page_of_packages_reads_a_fixed_number_of_queries(client, login_as, count_queries):
    researcher = login_as(Role.RESEARCHER)

    def queries_with(packages: int) -> int:
        for _ in range(packages):
            db.session.add(
                ResearchJob(
                    user_id=researcher.id,
                    kind="download",
                    tables=["walk_ins", "persons_category"],
                    parameters={
                        "period": "month",
                        "locale": "en",
                        "from": "2025-01-01",
                        "to": "2026-01-01",
                        "geography": "country",
                    },
                    status=ResearchJob.READY,
                    data=b"zip",
                    size=3,
                )
            )
        db.session.commit()
        with count_queries() as counted:
            page = client.get("/research/packages")
        assert page.status_code == 200
        return counted()

    assert queries_with(1) == queries_with(12)
    page = client.get("/research/packages").get_data(as_text=True)
    assert "2025-01 – 2025-12" in page  # the months covered, the last one inclusive


def test_months_out_of_range_are_ignored_not_a_500(client, login_as, make_user, make_migrant):
    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    for months in ({"to": "9999-12"}, {"from": "99999999999999999999-01"}, {"to": "2025-13"}):
        assert ask(client, table="walk_ins", **months).status_code == 302, months
        preview = client.get("/research/tables/walk_ins", query_string=months)
        assert preview.status_code == 200, months
    assert len(file_links(client)) == 3
    assert all(job.parameters["to"] is None for job in db.session.scalars(sa.select(ResearchJob)))


def test_a_merge_is_offered_only_once_it_has_passed_its_audit(
    app, client, login_as, make_user, make_migrant, monkeypatch, sign_as
):
    import io
    import json

    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    serbia, albania, trusted = two_national_packages(client, sign_as, "table=walk_ins")
    monkeypatch.setitem(app.config, "RESEARCH_TRUSTED_KEYS", json.dumps(trusted))
    monkeypatch.setitem(app.config, "RESEARCH_PACKAGES_PREPARED_BY", "thread")
    monkeypatch.setattr(jobs, "audit_package", lambda data: ["a regional cell can be narrowed"])

    def merge():
        return client.post_form(
            "/research/merge",
            {"packages": [(io.BytesIO(serbia), "rs.zip"), (io.BytesIO(albania), "al.zip")]},
            content_type="multipart/form-data",
            follow_redirects=True,
        ).get_data(as_text=True)

    with jobs._one_at_a_time:  # the merged package waits for its audit
        assert "offered here once it has passed its audit" in merge()
        job = db.session.scalar(sa.select(ResearchJob).where(ResearchJob.kind == "merge"))
        assert job.status == ResearchJob.QUEUED and job.data  # built, not yet offered
        assert client.get(f"/research/packages/{job.id}/file").status_code == 404
        assert "already being audited" in merge()  # the same uploads again queue nothing
    failed = wait_until_finished(job.id)
    assert (failed.status, failed.failure, failed.data) == (ResearchJob.FAILED, "audit", None)
    page = client.get("/research/packages").get_data(as_text=True)
    assert "failed its disclosure audit" in page
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ResearchRelease.id)).where(ResearchRelease.kind == "merge")
        )
        == 0
    )


def statuses() -> list[str]:
    db.session.expire_all()
    return db.session.scalars(sa.select(ResearchJob.status).order_by(ResearchJob.id)).all()


@pytest.fixture
def left_to_a_worker(app, login_as, make_user, make_migrant, monkeypatch):
    """The web leaves packages to `flask msc research work`; a researcher is logged in."""
    monkeypatch.setitem(app.config, "RESEARCH_PACKAGES_PREPARED_BY", "worker")
    populate(make_user, make_migrant, 12)
    return login_as(Role.RESEARCHER)


def test_a_worker_prepares_the_packages_the_web_queued(client, runner, left_to_a_worker):
    ask(client, table="walk_ins")
    ask(client, table="persons_category", format="xlsx")
    ask(client, table="walk_ins", period="quarter", format="merge")  # a merge comes from the hub
    assert statuses() == [ResearchJob.QUEUED] * 3  # the web leaves them to the worker
    assert db.session.scalars(sa.select(ResearchJob.kind).order_by(ResearchJob.id)).all() == [
        "download",
        "xlsx",
        "download",
    ]
    # One waited longer than its time (no worker ran): it is called interrupted, not prepared.
    db.session.execute(
        sa.update(ResearchJob)
        .where(ResearchJob.id == db.session.scalar(sa.select(sa.func.max(ResearchJob.id))))
        .values(requested_at=utcnow() - timedelta(minutes=61))
    )
    db.session.commit()
    worked = runner.invoke(args=["msc", "research", "work", "--until-idle"])
    assert worked.exit_code == 0 and "prepared 2 research packages" in worked.output
    assert statuses() == [ResearchJob.READY, ResearchJob.READY, ResearchJob.FAILED]
    newest, oldest = file_links(client)
    assert audit_package(client.get(oldest).data) == []
    assert client.get(newest).mimetype.endswith("spreadsheetml.sheet")


def test_a_researcher_has_three_packages_waiting_at_most(client, left_to_a_worker):
    for table in ("walk_ins", "persons_category", "referrals_by_outcome"):
        assert ask(client, table=table).status_code == 302
    refused = ask(client, table="persons_education", follow_redirects=True)
    assert "You have 3 packages waiting or being prepared" in refused.get_data(as_text=True)
    again = ask(client, table="walk_ins", follow_redirects=True)  # the same: said so, not refused
    assert "already being prepared for you" in again.get_data(as_text=True)
    assert statuses() == [ResearchJob.QUEUED] * 3
    # One prepared, one more may wait.
    db.session.execute(
        sa.update(ResearchJob)
        .where(ResearchJob.id == db.session.scalar(sa.select(sa.func.min(ResearchJob.id))))
        .values(status=ResearchJob.READY, data=b"ready", size=5)
    )
    db.session.commit()
    assert ask(client, table="persons_education").status_code == 302
    assert statuses().count(ResearchJob.QUEUED) == 3


def test_an_unknown_table_is_refused_not_taken_for_every_table(client, left_to_a_worker):
    refused = ask(client, table=["walk_ins", "no_such_table"], follow_redirects=True)
    assert "There is no such table in the catalogue." in refused.get_data(as_text=True)
    assert statuses() == []


def test_a_package_called_interrupted_stays_so_when_its_late_preparer_finishes(
    client, left_to_a_worker, monkeypatch
):
    from msc.research import package

    real_build = package.build_package

    def overrun(request):  # counting has no deadline: the preparer may outlive its time
        db.session.execute(
            sa.update(ResearchJob).values(started_at=utcnow() - timedelta(minutes=66))
        )
        db.session.commit()
        jobs.tidy()
        return real_build(request)

    monkeypatch.setattr(jobs, "build_package", overrun)
    ask(client, table="walk_ins")
    job_id = db.session.scalar(sa.select(ResearchJob.id))
    assert jobs.prepare(job_id)
    db.session.expire_all()
    job = db.session.get(ResearchJob, job_id)
    assert (job.status, job.failure, job.data) == (ResearchJob.FAILED, "interrupted", None)
    assert file_links(client) == []


def test_a_worker_told_to_stop_puts_its_package_back_in_the_queue(
    client, runner, left_to_a_worker, monkeypatch
):
    import os
    import signal

    ask(client, table="walk_ins")
    build_package = jobs.build_package

    def stopped_while_counting(request):
        os.kill(os.getpid(), signal.SIGTERM)  # systemctl stop, a deploy
        return build_package(request)

    monkeypatch.setattr(jobs, "build_package", stopped_while_counting)
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    worked = runner.invoke(args=["msc", "research", "work", "--until-idle"])
    assert worked.exit_code == 0 and "prepared 0 research packages" in worked.output
    job = db.session.scalar(sa.select(ResearchJob))
    assert (job.status, job.started_at, job.data) == (ResearchJob.QUEUED, None, None)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers
    monkeypatch.setattr(jobs, "build_package", build_package)
    assert runner.invoke(args=["msc", "research", "work", "--until-idle"]).exit_code == 0
    assert statuses() == [ResearchJob.READY]


def test_the_worker_runs_as_a_service_of_its_own(database_url, client, left_to_a_worker):
    """`flask msc research work` in a process of its own, stopped with SIGTERM as systemd does."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    env = dict(
        os.environ,
        MSC_ENV="testing",
        MSC_DATABASE_URL=database_url,
        MSC_RESEARCH_PACKAGES_PREPARED_BY="worker",
    )
    flask = str(Path(sys.executable).parent / "flask")
    worker = subprocess.Popen(
        [flask, "--app", "wsgi", "msc", "research", "work"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ask(client, table="walk_ins")
        job = wait_until_finished(db.session.scalar(sa.select(ResearchJob.id)), seconds=120)
        assert job.status == ResearchJob.READY
        assert audit_package(client.get(file_links(client)[0]).data) == []
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            out, err = worker.communicate(timeout=60)
        finally:
            worker.kill()  # never left polling the test database
    assert worker.returncode == 0, err
    assert "prepared 1 research packages" in out


def test_a_table_too_long_to_protect_gives_a_way_forward_not_a_timeout(
    app, client, login_as, make_user, make_migrant, monkeypatch
):
    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    from msc.research import cache

    monkeypatch.setattr(cache, "_too_long_until", {})  # what this test learns stays here
    monkeypatch.setitem(app.config, "RESEARCH_PREVIEW_SECONDS", 0)
    url = "/research/tables/persons_registered?period=month&geography=region"
    preview = client.get(url)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "takes too long to protect while you wait" in page
    assert 'action="/research/packages"' in page and 'value="month"' in page
    # A reload does not hold the server as long again: for a while the answer is the same...
    monkeypatch.setitem(app.config, "RESEARCH_PREVIEW_SECONDS", 20)
    assert "takes too long to protect" in client.get(url).get_data(as_text=True)
    # ...which other tables and periods do not get.
    by_year = "/research/tables/persons_registered?period=year&geography=region"
    assert "takes too long" not in client.get(by_year).get_data(as_text=True)
    cache._too_long_until.clear()
    assert "takes too long" not in client.get(url).get_data(as_text=True)
    monkeypatch.setitem(app.config, "RESEARCH_PREVIEW_SECONDS", 0)
    report = client.get("/research/report?period=month").get_data(as_text=True)
    assert "take too long to protect" in report and 'href="/research/report"' in report
    # The package has no such limit, but one that cannot be protected in its time is given up,
    # and the researcher is told what to ask for instead.
    given, real_deadline = [], jobs.deadline

    def out_of_time(seconds):
        given.append(seconds)
        return real_deadline(0)

    monkeypatch.setattr(jobs, "deadline", out_of_time)
    monkeypatch.setitem(app.config, "RESEARCH_PACKAGE_MINUTES", 45)
    ask(client, table="persons_registered", period="month", geography="region")
    assert given == [45 * 60]  # its time counts from when it starts, not from the queue
    job = db.session.scalar(sa.select(ResearchJob))
    assert (job.status, job.failure, job.data) == (ResearchJob.FAILED, "too_long", None)
    page = client.get("/research/packages").get_data(as_text=True)
    assert "could not be protected within 45 minutes" in page and file_links(client) == []
