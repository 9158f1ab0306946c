"""Rate limits per client IP on top of the per-account lockout (OWASP ASVS 2.2.1, 11.1.4).

Counters live in Redis when MSC_REDIS_URL is set, so every application server behind the load
balancer shares them; in memory otherwise (one server, development). Exceeding a limit is a 429
answered with the error page.
"""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def configure_limits(app) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)
