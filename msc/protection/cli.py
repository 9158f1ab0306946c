"""`flask msc retention|keys|backup|restore`."""

from __future__ import annotations

import sqlite3
import subprocess  # nosec B404 (only for its error type)
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import AppGroup

from msc.core import audit, crypto
from msc.core.db import db
from msc.protection import backup as backups
from msc.protection import keys, retention

retention_cli = AppGroup("retention", help="Anonymise profiles past their retention period.")
keys_cli = AppGroup("keys", help="Field encryption keys (MSC_DATA_KEYS).")


@retention_cli.command("run")
@click.option("--years", type=click.IntRange(min=1), help="Default: MSC_RETENTION_YEARS (5).")
def retention_run(years):
    """Anonymise every profile without activity for the period, except cases under legal hold."""
    done = retention.run_retention(years, echo=click.echo)
    click.echo(f"{done} profiles anonymised")


@keys_cli.command("new")
def keys_new():
    """Print a new key entry; put it first in MSC_DATA_KEYS, then run `keys rotate`."""
    click.echo(crypto.new_key_spec())


@keys_cli.command("rotate")
def keys_rotate():
    """Re-encrypt every encrypted value under the first key of MSC_DATA_KEYS."""
    for table, count in keys.rotate().items():
        click.echo(f"{table}: {count} rows re-encrypted")


@click.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def backup_command(out):
    """Write a consistent backup of the database (SQLite file, or pg_dump custom format)."""
    with _tool_errors():
        backups.backup(out)
    audit.record("database.backup")
    db.session.commit()
    click.echo(f"backup written to {out} ({out.stat().st_size} bytes)")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path, yes):
    """Replace the database with a backup, then re-apply the anonymisations made since."""
    if not yes:
        target = db.engine.url.render_as_string()
        click.confirm(f"Replace every row of {target} with {path}?", abort=True)
    with _tool_errors():
        backups.restore(path)
    problems = backups.integrity_problems()
    if problems:
        raise click.ClickException(f"the restored database is damaged: {problems[:5]}")
    reapplied = retention.reapply_journal()
    audit.record("database.restored", fields=[f"reanonymised:{reapplied}"])
    db.session.commit()
    for table, count in backups.row_counts().items():
        click.echo(f"{table}: {count}")
    click.echo(f"restored; {reapplied} anonymisations re-applied from the journal")


@contextmanager
def _tool_errors():
    """pg_dump/pg_restore failures as a clear message instead of a traceback."""
    try:
        yield
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip()
        raise click.ClickException(f"{Path(error.cmd[0]).name} failed: {detail}") from None
    except (RuntimeError, sqlite3.Error) as error:
        raise click.ClickException(str(error)) from None


COMMANDS = [retention_cli, keys_cli, backup_command, restore_command]
