"""`flask msc ...` commands."""

from __future__ import annotations

import time

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from msc.auth import operations as accounts
from msc.auth.models import User
from msc.auth.passwords import password_problems
from msc.centres.models import Centre
from msc.core.db import db
from msc.core.roles import Role
from msc.demo.generate import database_is_empty, demo_logins, load_demo_data

msc_cli = AppGroup("msc", help="MSC administration commands.")


@msc_cli.command("create-user")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--centre", "centre_code", help="COUNTRY-CODE of the centre, e.g. RS-BG1.")
@click.option("--email", default=None)
@click.option("--locale", default=None)
@click.password_option(help="Asked for when not given (never put it on a shared command line).")
def create_user(username, full_name, role, centre_code, email, locale, password):
    """Create a user; they must change the password at the first login."""
    role = Role(role)
    centre_id = None
    if centre_code:
        country, _sep, code = centre_code.upper().partition("-")
        centre_id = db.session.scalar(
            sa.select(Centre.id).where(Centre.country_code == country, Centre.code == code)
        )
        if centre_id is None:
            raise click.UsageError(f"no centre {centre_code}")
    if role.needs_centre and centre_id is None:
        raise click.UsageError(f"a {role.value} needs --centre")
    if db.session.scalar(sa.select(User.id).where(User.username == username.lower())):
        raise click.UsageError(f"the username {username} is taken")
    problems = password_problems(password, username)
    if problems:
        raise click.UsageError(" ".join(problems))
    if locale and locale not in current_app.config["LANGUAGES"]:
        raise click.UsageError(
            f"locale must be one of {', '.join(current_app.config['LANGUAGES'])}"
        )
    user = accounts.create_user(
        username=username,
        full_name=full_name,
        role=role,
        centre_id=centre_id,
        email=email,
        locale=locale,
        password=password,
    )
    db.session.commit()
    click.echo(f"created {role.value} {user.username}")


@msc_cli.command("demo-data")
@click.option(
    "--profiles", default=1000, show_default=True, help="How many migrant profiles to make."
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def demo_data(profiles, if_empty):
    """Load deterministic synthetic demo data (never on a production database)."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.UsageError("demo data is refused in production (MSC_ENV=production)")
    if not database_is_empty():
        if if_empty:
            click.echo("the database has data already; demo data not loaded")
            return
        raise click.UsageError("the database is not empty; demo data goes into an empty database")
    started = time.monotonic()
    made = load_demo_data(profiles=profiles, progress=lambda message: click.echo(f"  {message}"))
    db.session.commit()
    # Statistics for the planner after a bulk load: SQLite never gathers them by itself (without
    # them it walks a centre's list index to find one phone number), PostgreSQL only later.
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    click.echo(f"demo data loaded in {time.monotonic() - started:.0f} s")
    click.echo(", ".join(f"{count} {name}" for name, count in made.items()))


@msc_cli.command("demo-logins")
def print_demo_logins():
    """Print the demo logins."""
    password = current_app.config["DEMO_PASSWORD"]
    click.echo("")
    click.echo(f"Demo logins (every account has the password {password}):")
    for username, what in demo_logins():
        click.echo(f"  {username:<18} {what}")
    click.echo("  (counsellor.<centre> and supervisor.<centre> exist for every centre)")
    roles = ", ".join(current_app.config["TOTP_REQUIRED_ROLES"])
    if roles:
        click.echo(f"  Two-step login is required for: {roles}. At the first login they scan a")
        click.echo("  code with an authenticator app (FreeOTP, Aegis, Google Authenticator).")
    click.echo("")
