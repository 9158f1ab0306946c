"""The landing page of each role (later features fill them)."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from msc.centres.models import Centre
from msc.core.access import public, roles_required
from msc.core.db import db
from msc.core.roles import Role
from msc.core.timezones import local_day_bounds, local_now, local_today
from msc.referrals.queries import figures, overdue, queue
from msc.visits.queries import due_follow_ups, recent_cases, todays_visits

bp = Blueprint("home", __name__)
log = logging.getLogger(__name__)

HOME_ENDPOINTS = {
    Role.COUNSELLOR: "home.counsellor",
    Role.SUPERVISOR: "home.supervisor",
    Role.RESEARCHER: "home.researcher",
    Role.ADMIN: "admin.home",
}


@bp.get("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_ENDPOINTS[current_user.role]))


def _own_centre() -> Centre | None:
    return db.session.get(Centre, current_user.centre_id) if current_user.centre_id else None


@bp.get("/counsellor")
@roles_required(Role.COUNSELLOR)
def counsellor():
    today = local_today()
    start, end = local_day_bounds(today)
    return render_template(
        "home/counsellor.html",
        centre=_own_centre(),
        visits=todays_visits(current_user.centre_id, start, end),
        follow_ups=due_follow_ups(current_user.centre_id, today, current_user.id),
        recent=recent_cases(current_user.centre_id, current_user.id),
        today=today,
    )


@bp.get("/supervisor")
@roles_required(Role.SUPERVISOR)
def supervisor():
    today = local_today()
    now = local_now()
    week_start, _end = local_day_bounds(today - timedelta(days=today.weekday()))
    month_start, _end = local_day_bounds(today.replace(day=1))
    return render_template(
        "home/supervisor.html",
        centre=_own_centre(),
        follow_ups=due_follow_ups(current_user.centre_id, today, None),
        overdue=overdue(current_user.centre_id, today),
        waiting=db.session.scalars(queue(current_user.centre_id, now=now).limit(10)).all(),
        figures=figures(current_user.centre_id, week_start, month_start),
        today=today,
    )


@bp.get("/research")
@roles_required(Role.RESEARCHER)
def researcher():
    from msc.research.catalogue import CATALOGUE

    return render_template("home/researcher.html", catalogue=CATALOGUE)


@bp.get("/healthz")
@public
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@public
def readyz():
    """Ready for traffic: the database answers and its schema is at the migrations' head.

    A load balancer sends requests only to servers that answer 200 here; /healthz only says the
    process lives. The answer names no host, user or error text.
    """
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except sa.exc.SQLAlchemyError as error:
        log.warning("readyz: database unreachable (%s)", type(error).__name__)
        return {"status": "unavailable", "database": "unreachable"}, 503
    if current != _migration_heads():
        return {"status": "unavailable", "database": "ok", "migrations": "not at head"}, 503
    return {"status": "ok", "database": "ok", "migrations": "at head"}


@functools.cache
def _migration_heads() -> frozenset[str]:
    """The head revisions of the migrations folder; files do not change while the process runs."""
    config = AlembicConfig()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())
