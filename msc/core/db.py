"""The database: declarative base with a naming convention, common mixins and column types."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Stable constraint names, so that Alembic can alter them on SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# pool_pre_ping: a connection the server dropped while it sat in the pool (a restart, a
# failover, an idle timeout) is replaced before a request uses it, instead of failing it.
# hide_parameters: a database error logged with its statement never quotes the values, which
# may be personal data (no personal data in logs).
db = SQLAlchemy(model_class=Base, engine_options={"pool_pre_ping": True, "hide_parameters": True})


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VersionedMixin:
    """Optimistic locking: a stale edit raises StaleDataError instead of silently winning."""

    version_id: Mapped[int] = mapped_column(sa.Integer, server_default="1", default=1)

    @declared_attr.directive
    def __mapper_args__(cls):  # noqa: N805
        return {"version_id_col": cls.version_id}


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_immediate_for_writes(connection):
    """Requests that write take SQLite's write lock when their transaction starts.

    A transaction that reads first and writes later cannot wait for the lock in WAL mode (it fails
    with "database is locked" at once); one that starts with BEGIN IMMEDIATE waits its turn for
    up to busy_timeout. PostgreSQL needs nothing of this.
    """
    if connection.dialect.name != "sqlite" or not _request_writes():
        return
    dbapi_connection = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")


def _request_writes() -> bool:
    from flask import current_app, has_request_context, request

    if not has_request_context():
        return False
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "msc_writes", False))


def writes_on_read(view):
    """Marks a GET view that writes (a read audited on the case), so SQLite locks up front."""
    view.msc_writes = True
    return view


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL, a busy timeout and foreign keys for every SQLite connection."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def render_migration_item(type_, obj, _autogen_context):
    """Alembic renders our column types as plain SQLAlchemy ones, so revisions stand alone."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
