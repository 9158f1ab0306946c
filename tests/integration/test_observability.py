"""Request ids, JSON logs without personal data, the metrics path and the readiness probe."""

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from msc import create_app
from msc.core.db import db
from msc.core.observability import json_handler
from msc.core.roles import Role
from tests.fixtures.app import create_scratch_database
from tests.fixtures.factories import log_in

TOKEN = "metrics-token-for-the-tests-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_lines():
    """The JSON lines logged during the test, through the handler production uses."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def request_lines(lines):
    return [line for line in lines if line["logger"] == "msc.request"]


def test_a_request_gets_an_id_in_the_header_and_in_its_log_line(client, log_lines):
    response = client.get("/login")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [line] = [line for line in request_lines(log_lines()) if line["request_id"] == request_id]
    assert line["path"] == "/login"
    assert line["endpoint"] == "auth.login"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["duration_ms"] >= 0
    assert client.get("/login").headers["X-Request-ID"] != request_id


def test_a_safe_request_id_from_the_proxy_is_kept_an_unsafe_one_replaced(client, log_lines):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c01.eu-1"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a9c01.eu-1"
    for unsafe in ('x"}{"level": "forged', "short", "a" * 200, "id with spaces 1234"):
        response = client.get("/healthz", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"]), unsafe
    ids = {line["request_id"] for line in request_lines(log_lines())}
    assert "lb-7f3a9c01.eu-1" in ids
    assert not any("forged" in (request_id or "") for request_id in ids)


def test_every_log_line_of_a_request_carries_its_id(app, client, log_lines):
    # The error page of a refused request logs its own line; both carry the request's id.
    response = client.get("/no-such-page-here")
    assert response.status_code == 404
    request_id = response.headers["X-Request-ID"]
    mine = [line for line in log_lines() if line["request_id"] == request_id]
    assert {line["logger"] for line in mine} >= {"msc.request", "msc.errors"}


def test_the_log_holds_no_personal_data(client, make_user, make_migrant, log_lines):
    # A failed login with a marker username and password, then a name search as a counsellor.
    log_in(client, "marker-username-5521", password="marker-password-5521")
    counsellor = make_user(Role.COUNSELLOR)
    make_migrant(counsellor, given_name="Markerina", family_name="Zzpersonal")
    assert log_in(client, counsellor.username).status_code == 302
    client.get("/cases/", query_string={"q": "Zzpersonal Markerina", "phone": "0605551234"})
    text = json.dumps(log_lines())
    for marker in (
        "marker-username-5521",
        "marker-password-5521",
        counsellor.username,
        "Zzpersonal",
        "Markerina",
        "0605551234",
        "q=",
    ):
        assert marker not in text, marker
    searches = [line for line in request_lines(log_lines()) if line["endpoint"] == "migrants.index"]
    assert searches and searches[-1]["path"] == "/cases/"
    assert searches[-1]["user_id"] == counsellor.id  # the id at most


def test_an_exception_is_logged_by_type_and_stack_without_its_message(log_lines):
    marker = "-".join(["marker", "person", "8812"])
    try:
        raise ValueError(f"Key (username)=({marker}) already exists")
    except ValueError:
        logging.getLogger("msc.test").exception("saving failed")
    [line] = [line for line in log_lines() if line["logger"] == "msc.test"]
    assert line["exception"] == "ValueError"
    assert any("test_observability.py" in frame for frame in line["stack"])
    assert "marker-person-8812" not in json.dumps(line)


def scrape(client, token=TOKEN):
    return client.get("/internal/metrics", headers={"Authorization": f"Bearer {token}"})


def requests_counted(client, endpoint: str, status: str) -> float:
    families = text_string_to_metric_families(scrape(client).get_data(as_text=True))
    for family in families:
        if family.name == "msc_http_requests":
            for sample in family.samples:
                wanted = {"endpoint": endpoint, "method": "GET", "status": status}
                if sample.name.endswith("_total") and sample.labels == wanted:
                    return sample.value
    return 0.0


def test_metrics_are_hidden_without_a_configured_token(app, client):
    assert app.config["METRICS_TOKEN"] == ""
    assert client.get("/internal/metrics").status_code == 404
    assert scrape(client, "").status_code == 404


def test_metrics_need_the_bearer_token_and_count_requests(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    assert client.get("/internal/metrics").status_code == 404
    assert scrape(client, "wrong-token").status_code == 404
    assert client.get("/internal/metrics", headers={"Authorization": TOKEN}).status_code == 404
    response = scrape(client)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "msc_http_request_duration_seconds_bucket" in response.get_data(as_text=True)
    before = requests_counted(client, "home.healthz", "200")
    client.get("/healthz")
    client.get("/healthz")
    assert requests_counted(client, "home.healthz", "200") == before + 2


def test_readyz_answers_200_on_a_migrated_reachable_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "migrations": "at head"}


def test_readyz_answers_503_when_the_database_is_unreachable(tmp_path):
    if os.environ.get("MSC_TEST_DATABASE_URL"):
        unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
    else:
        unreachable = f"sqlite:///{tmp_path / 'missing-folder' / 'msc.sqlite3'}"
    # Creating the app must not touch the database (forked workers would share the connection).
    broken = create_app("testing", {"SQLALCHEMY_DATABASE_URI": unreachable})
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert broken.test_client().get("/healthz").status_code == 200  # the process itself lives


def test_readyz_answers_503_before_the_migrations_ran(tmp_path):
    url, drop = create_scratch_database(os.environ.get("MSC_TEST_DATABASE_URL"), tmp_path)
    empty = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    try:
        response = empty.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["migrations"] == "not at head"
    finally:
        with empty.app_context():
            db.engine.dispose()
        drop()


def test_gunicorn_workers_add_up_their_metrics(database_url, tmp_path):
    """A worker is replaced after every two requests (--max-requests 2): only prometheus_client's
    multiprocess mode, which config/gunicorn.conf.py sets up, keeps the counts of them all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def get(path: str, headers: dict | None = None) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  http only
            return response.read().decode()

    env = dict(
        os.environ,
        MSC_ENV="testing",
        MSC_DATABASE_URL=database_url,
        MSC_INSTANCE_PATH=str(tmp_path),
        MSC_METRICS_TOKEN=TOKEN,
        MSC_BIND=f"127.0.0.1:{port}",
        MSC_WORKERS="1",  # one at a time: each connection waits for the next worker, none is lost
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py"]
    command += ["--max-requests", "2", "--max-requests-jitter", "0", "wsgi:app"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _attempt in range(600):  # until the server listens (a minute at most)
            try:
                get("/healthz")
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(4):
            get("/healthz")
        text = get("/internal/metrics", {"Authorization": f"Bearer {TOKEN}"})
    finally:
        server.terminate()
        server.wait(timeout=60)
    counted = {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "msc_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["endpoint"] == "home.healthz"
    }
    # The first probe and four requests, answered by three processes in turn.
    assert counted == {"200": 5.0}
