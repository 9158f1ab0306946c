"""Times are stored in UTC and shown and typed in the user's centre's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, has_request_context
from flask_login import current_user


def user_timezone_name() -> str:
    default = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return default
    if "msc_timezone" not in g:
        from msc.centres.models import Centre
        from msc.core.db import db

        centre = db.session.get(Centre, current_user.centre_id) if current_user.centre_id else None
        g.msc_timezone = centre.timezone if centre else default
    return g.msc_timezone


def user_timezone() -> ZoneInfo:
    try:
        return ZoneInfo(user_timezone_name())
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def local_now() -> datetime:
    return datetime.now(user_timezone())


def local_today() -> date:
    return local_now().date()


def local_to_utc(value: datetime) -> datetime:
    """A naive date-time typed in the centre's zone, as an aware UTC date-time."""
    return value.replace(tzinfo=user_timezone()).astimezone(UTC)


def utc_to_local(value: datetime) -> datetime:
    return value.astimezone(user_timezone())


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which a local calendar day starts and ends."""
    from datetime import time, timedelta

    zone = user_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)
