"""gunicorn settings for MSC:  gunicorn -c config/gunicorn.conf.py wsgi:app

Environment (all optional):
  MSC_BIND              address to listen on (127.0.0.1:8000); put a proxy (nginx, a load
                        balancer) in front for TLS
  MSC_WORKERS           worker processes (2 x CPU cores, after gunicorn's rule of thumb for sync
                        workers that wait on the database)
  MSC_TIMEOUT           seconds before a stuck worker is restarted (30)
  MSC_ACCESS_LOG        "-" for gunicorn's access log on stdout, in JSON without query strings
                        (off by default: the application already writes one JSON line per
                        request, with the request id, endpoint and user id)
  PROMETHEUS_MULTIPROC_DIR  where workers keep their metric files (a new temporary folder when
                        unset), so /internal/metrics adds up every worker's figures
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("MSC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MSC_WORKERS") or multiprocessing.cpu_count() * 2)
timeout = int(os.environ.get("MSC_TIMEOUT") or 30)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow for weeks.
max_requests = 5000
max_requests_jitter = 500
# Off: each worker creates the app after the fork, so no worker inherits the master's database
# connections (create_app does not touch the database, but a preloaded app would share its pool).
preload_app = False
errorlog = "-"
loglevel = os.environ.get("MSC_GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("MSC_ACCESS_LOG") or None

# Metrics from every worker add up (prometheus_client multiprocess mode). It must be set before a
# worker imports prometheus_client, which is why it is set here, in the master.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="msc-prometheus-")


class JsonAccessLogger(Logger):
    """gunicorn's access log as JSON lines, without the query string or the client address
    (a name search is a query string; an IP address is personal data too)."""

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        headers = {name.lower(): value for name, value in resp.headers}
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": "request",
            "request_id": headers.get("x-request-id"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": resp.status_code,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
        }
        self.access_log.info(json.dumps(entry))


logger_class = JsonAccessLogger


def on_starting(_server):
    """A new server starts its metrics from zero: files of an earlier run would be added in."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()


def child_exit(_server, worker):
    """A worker that ended: its live gauges stop counting (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
