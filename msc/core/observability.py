"""Observability: request ids, structured JSON logs without personal data, Prometheus metrics.

- Every request gets an id: the proxy's X-Request-ID when it is a safe token, else a new one. It
  is returned in the X-Request-ID response header and written in every log line of the request,
  so an operator can follow one request from the load balancer to the database error.
- Logs are JSON lines. They never carry personal data (Primero's rule, GDPR art. 5(1)(c) data
  minimisation): no query strings (a name search is a query string), no form values, no usernames;
  the user id at most. Exception messages are left out too, because a database error quotes the
  row's values ("Key (username)=(...) already exists"); the type and the stack are kept.
- Metrics for Prometheus (requests by endpoint and status, latency histogram, errors) are served
  on /internal/metrics only to `Authorization: Bearer <MSC_METRICS_TOKEN>`; anybody else, and
  everybody when no token is configured, gets a 404 that does not reveal the path exists. Under
  gunicorn with several workers, PROMETHEUS_MULTIPROC_DIR makes the figures add up across the
  worker processes (config/gunicorn.conf.py sets it).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
import traceback
import uuid
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request

from msc.core.access import public

# A request id from outside is kept only if it cannot break a log line or a header.
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

# Seconds; a page should answer in 50 ms at one million profiles, so the buckets are fine there.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

bp = Blueprint("observability", __name__)


# --- logs ------------------------------------------------------------------------------------

# LogRecord attributes that are not extras; anything passed with `extra=` is written as a field.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where it happened; not str(exception), which may quote personal data.
            entry["exception"] = record.exc_info[0].__name__
            entry["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(record.exc_info[2])
            ]
        return json.dumps(entry, default=str, ensure_ascii=False)


def json_handler(stream=None) -> logging.Handler:
    """A stream handler that writes our JSON lines with request ids (also used by the tests)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def _configure_log_format(app: Flask) -> None:
    """Production and other non-test runs write JSON; every root handler gets request ids."""
    # Flask-Limiter's INFO line names the client's address (personal data); the request's own
    # line (status 429) and the error page's incident line record the event without it.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        # The plain stream handler of logging.basicConfig (configure_logging), not a subclass
        # that another tool installed (pytest's capture keeps its own format).
        json_wanted = app.config["LOG_FORMAT"] == "json" and not app.testing
        if json_wanted and type(handler) is logging.StreamHandler:
            handler.setFormatter(JsonFormatter())


# --- request ids and the request log line --------------------------------------------------

request_log = logging.getLogger("msc.request")


def start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    endpoint = request.endpoint or "unmatched"  # a bounded label: unknown URLs share one
    _record_metrics(endpoint, request.method, response.status_code, seconds)
    if current_app.config["LOG_REQUESTS"]:
        # request.path, never request.full_path or request.url: the query string may hold a name.
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "user_id": _user_id(),
            },
        )
    return response


def _user_id() -> int | None:
    """The id of the user this request loaded, without loading one (that would be a query)."""
    user = g.get("_login_user")  # where Flask-Login keeps the user it loaded for the request
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


# --- metrics -------------------------------------------------------------------------------


class _Metrics:
    """The metric objects, made on first use: in multiprocess mode prometheus_client decides
    where values go when a metric is created, so it must happen after PROMETHEUS_MULTIPROC_DIR
    is set (gunicorn's config sets it before workers import the app)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "msc_http_requests",
            "HTTP requests answered, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "msc_http_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "msc_http_request_errors",
            "Requests answered with a server error (5xx), by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )


_metrics: _Metrics | None = None


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def _record_metrics(endpoint: str, method: str, status: int, seconds: float) -> None:
    m = metrics()
    m.requests.labels(endpoint, method, str(status)).inc()
    m.latency.labels(endpoint).observe(seconds)
    if status >= 500:
        m.errors.labels(endpoint).inc()


def render_metrics() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # Every worker writes its own files; the collector adds them up at scrape time.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = metrics().registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _token_matches(header: str, token: str) -> bool:
    scheme, _space, given = header.partition(" ")
    # Constant-time comparison, so the token cannot be guessed byte by byte from timings.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@bp.get("/internal/metrics")
@public  # not a page for people: the bearer token below is the check (404 without it)
def metrics_view():
    token = current_app.config["METRICS_TOKEN"]
    if not token or not _token_matches(request.headers.get("Authorization", ""), token):
        abort(404)
    body, content_type = render_metrics()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


# --- the configure step --------------------------------------------------------------------


def configure_observability(app: Flask) -> None:
    """Registered before the access check, so every request (even a refused one) has an id."""
    _configure_log_format(app)
    app.before_request(start_request)
    app.after_request(finish_request)
    app.register_blueprint(bp)
