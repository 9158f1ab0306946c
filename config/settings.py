"""Settings classes (development, testing, production) and MSC_* environment overrides.

Every upper-case attribute can be overridden by an environment variable of the same name with an
`MSC_` prefix (MSC_SESSION_IDLE_MINUTES=20). Two names are shorter because operators type them:
MSC_DATABASE_URL (SQLALCHEMY_DATABASE_URI) and MSC_SECRET_KEY (SECRET_KEY).
"""

from __future__ import annotations

import os
from datetime import timedelta

ENV_ALIASES = {
    "SQLALCHEMY_DATABASE_URI": "MSC_DATABASE_URL",
    "SECRET_KEY": "MSC_SECRET_KEY",
}

# Locales of the region (see the languages issue); English is the source language.
LANGUAGES = ["en", "sq", "sr_Latn", "sr_Cyrl", "mk", "bs", "ru", "az", "fa"]


class Settings:
    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    SECRET_KEY = ""
    SQLALCHEMY_DATABASE_URI = ""  # empty: SQLite file in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLALCHEMY_RECORD_QUERIES = False

    # Sessions (OWASP ASVS 3.3: idle and absolute timeouts; 3.4: cookie attributes).
    SESSION_COOKIE_NAME = "msc_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_IDLE_MINUTES = 30
    SESSION_ABSOLUTE_HOURS = 12
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)

    # Accounts (ASVS 2.1 password length; 2.2.1 lockout).
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128
    LOCKOUT_THRESHOLD = 5
    LOCKOUT_WINDOW_MINUTES = 15
    LOCKOUT_MINUTES = 15
    # Argon2id, RFC 9106 "second recommended option" (t=3, m=64 MiB, p=4).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session (which times out itself)
    HSTS = True
    PROXY_FIX_X_FOR = 0  # number of trusted proxies in front of the app (X-Forwarded-For)
    # Logs: JSON lines with request ids and no personal data (msc/core/observability.py).
    LOG_FORMAT = "json"  # or "text"
    LOG_REQUESTS = True  # one line per request: method, path without query, status, duration
    # Bearer token that may read /internal/metrics (Prometheus); empty: the path answers 404.
    METRICS_TOKEN = ""

    LANGUAGES = LANGUAGES
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"

    PAGE_SIZE = 25
    # Research tables: threshold k (distinct persons; never below 5), rounding base, instance id.
    RESEARCH_THRESHOLD = 10
    RESEARCH_ROUNDING_BASE = 5
    RESEARCH_CACHE_SECONDS = 900  # previews and the report show tables computed this recently
    RESEARCH_INSTANCE_ID = "msc-demo"
    RESEARCH_SIGNING_KEY = ""  # base64 raw Ed25519 private key; development generates one
    RESEARCH_TRUSTED_KEYS = ""  # JSON {"key id": "base64 public key"} for the regional merge
    # Who prepares the packages researchers ask for (research/jobs.py): "thread", a thread of the
    # web process; "worker", `flask msc research work` as a service of its own; "request", the
    # request that asks waits. Kept this many days; called interrupted when still unfinished
    # after this many minutes.
    RESEARCH_PACKAGES_PREPARED_BY = "thread"
    RESEARCH_PACKAGE_DAYS = 7
    RESEARCH_PACKAGE_MINUTES = 60
    # A preview or the report gives up protecting a table after this many seconds (below
    # gunicorn's MSC_TIMEOUT) and offers the package instead, which has no such limit.
    RESEARCH_PREVIEW_SECONDS = 20
    # A read replica for research tables (SQLAlchemy bind "research"); empty: the primary.
    RESEARCH_DATABASE_URL = ""
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024  # uploads (CSV imports) and forms
    # Days after which a sent referral without an outcome is overdue, by category.
    REFERRAL_FOLLOW_UP_DAYS: dict = {
        "legal_migration": 60,
        "local_employment": 30,
        "training": 30,
        "self_employment": 45,
        "protection": 7,
        "other": 30,
    }
    # Field encryption keys, `id:base64key,...`, first one current (msc/core/crypto.py).
    DATA_KEYS = ""
    # Retention (IOM Data Protection Principle 9; GDPR art. 5(1)(e)): profiles with no activity
    # for this many years are anonymised by `flask msc retention run`.
    RETENTION_YEARS = 5
    # Journal of anonymisations, kept beside the backups (default: instance/erasure-journal).
    ERASURE_JOURNAL = ""
    # Roles that must use a second factor (ASVS 2.2.3 for privileged accounts).
    TOTP_REQUIRED_ROLES = ["supervisor", "admin"]
    TOTP_ISSUER = "MSC"
    # Login attempts per client IP, on top of the per-account lockout (ASVS 2.2.1).
    LOGIN_RATE_LIMIT = "20 per 10 minutes"
    # Redis for rate-limit counters shared by every application server; empty: memory.
    REDIS_URL = ""
    DEMO_PASSWORD = "msc-demo-Belgrade-2026"  # noqa: S105  demo data only; refused in production


class DevelopmentSettings(Settings):
    ENV_NAME = "development"
    LOG_FORMAT = "text"
    SESSION_COOKIE_SECURE = False  # served on http://127.0.0.1
    HSTS = False


class TestingSettings(Settings):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-only-secret-key-not-for-production"  # noqa: S105
    SESSION_COOKIE_SECURE = False
    HSTS = False
    # Each test logs in with one POST; the tests of the second factor and of the rate limit
    # switch them on for themselves.
    TOTP_REQUIRED_ROLES: list = []
    RATELIMIT_ENABLED = False
    RESEARCH_CACHE_SECONDS = 0  # tests see each change at once; the cache's own test sets it
    RESEARCH_PACKAGES_PREPARED_BY = "request"  # a package is ready when its request returns
    # Fast hashes keep the suite quick; production parameters are tested on their own.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProductionSettings(Settings):
    ENV_NAME = "production"


SETTINGS = {
    "development": DevelopmentSettings,
    "testing": TestingSettings,
    "production": ProductionSettings,
}


PACKAGES_PREPARED_BY = ("thread", "worker", "request")


def settings_class(name: str | None) -> type[Settings]:
    name = name or os.environ.get("MSC_ENV", "production")
    try:
        return SETTINGS[name]
    except KeyError:
        raise RuntimeError(f"MSC_ENV must be one of {', '.join(SETTINGS)}, not {name!r}") from None


def load(name: str | None = None, environ: os._Environ | dict | None = None) -> dict:
    """Settings of the named class with MSC_* overrides from the environment applied."""
    environ = os.environ if environ is None else environ
    cls = settings_class(name)
    values = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    for key, default in values.items():
        env_name = ENV_ALIASES.get(key, f"MSC_{key}")
        if env_name in environ:
            values[key] = _convert(environ[env_name], default, env_name)
    if "MSC_RESEARCH_PACKAGES_IN_BACKGROUND" in environ:  # renamed: say so, never ignore it
        raise RuntimeError(
            "MSC_RESEARCH_PACKAGES_IN_BACKGROUND is now MSC_RESEARCH_PACKAGES_PREPARED_BY "
            "(thread, worker or request)"
        )
    if values["RESEARCH_PACKAGES_PREPARED_BY"] not in PACKAGES_PREPARED_BY:
        raise RuntimeError(
            "MSC_RESEARCH_PACKAGES_PREPARED_BY must be one of "
            f"{', '.join(PACKAGES_PREPARED_BY)}, not {values['RESEARCH_PACKAGES_PREPARED_BY']!r}"
        )
    if values.get("RESEARCH_DATABASE_URL"):  # research reads go to the replica's engine
        binds = dict(values.get("SQLALCHEMY_BINDS") or {})
        values["SQLALCHEMY_BINDS"] = {**binds, "research": values["RESEARCH_DATABASE_URL"]}
    return values


def _convert(raw: str, default, env_name: str):
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise RuntimeError(f"{env_name} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise RuntimeError(f"{env_name} must be a whole number, not {raw!r}") from None
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(default, timedelta | dict):
        raise RuntimeError(f"{env_name} cannot be set from the environment")
    return raw


def check_production(values: dict) -> None:
    """Refuse to start a production app that would be unsafe (ASVS 14.3.2, 6.4.1)."""
    if values.get("ENV_NAME") != "production":
        return
    secret = values.get("SECRET_KEY") or ""
    if len(secret) < 32 or secret in {Settings.SECRET_KEY, TestingSettings.SECRET_KEY}:
        raise RuntimeError(
            "MSC_SECRET_KEY must be set to a random value of at least 32 characters in production "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if values.get("DEBUG"):
        raise RuntimeError("MSC_DEBUG must be off in production")
    if not values.get("DATA_KEYS"):
        raise RuntimeError(
            "MSC_DATA_KEYS must be set in production (create a key with: flask msc keys new)"
        )
