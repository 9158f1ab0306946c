"""Backups and restores of the whole database.

SQLite: the online backup API (a consistent copy while the app runs). PostgreSQL: pg_dump in its
custom format and pg_restore. Restricted fields are encrypted in the database, so a backup holds
only their ciphertext; keep MSC_DATA_KEYS apart from the backups. After a restore, the
anonymisations journalled since the backup are applied again (retention.reapply_journal).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess  # nosec B404 (fixed argument lists, no shell)
from pathlib import Path

import sqlalchemy as sa

from msc.core.db import db


def _libpq_url(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is needed for PostgreSQL backups (Debian: postgresql-client)")
    return path


def backup(out: Path) -> None:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(url.database, str(out))
    else:
        subprocess.run(  # noqa: S603  # nosec B603
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={out}", _libpq_url(url)],
            check=True,
            capture_output=True,
        )
    out.chmod(0o600)  # a backup is as sensitive as the database


def restore(path: Path) -> None:
    """Replace the configured database's content with the backup's."""
    url = db.engine.url
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold the old database open
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(f"file:{path}?mode=ro", url.database)
    else:
        subprocess.run(  # noqa: S603  # nosec B603
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq_url(url)}",
                str(path),
            ],
            check=True,
            capture_output=True,
        )


def _sqlite_copy(source_uri: str, target_path: str) -> None:
    """SQLite's online backup: a consistent copy even while the application writes."""
    source = sqlite3.connect(
        source_uri if source_uri.startswith("file:") else f"file:{source_uri}", uri=True
    )
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


def integrity_problems() -> list[str]:
    """Problems the database reports about itself after a restore (empty when sound)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            result = connection.exec_driver_sql("PRAGMA integrity_check").scalars().all()
            problems = [] if result == ["ok"] else list(result)
            problems += [str(r) for r in connection.exec_driver_sql("PRAGMA foreign_key_check")]
            return problems
    return []  # PostgreSQL checks constraints while pg_restore loads the rows


def row_counts() -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
