"""Error pages: generic text and an incident id that is also in the log; never a stack trace."""

from __future__ import annotations

import logging
import traceback
import uuid

from flask import render_template, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from msc.core.db import db

log = logging.getLogger("msc.errors")

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    403: (_l("Not allowed"), _l("Your account does not give access to this page.")),
    404: (_l("Not found"), _l("There is no such page, or it is not available to you.")),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    409: (
        _l("Changed by someone else"),
        _l(
            "Someone else changed this record while you were working on it. Nothing was saved. "
            "Open it again to see the current version."
        ),
    ),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (_l("Too many requests"), _l("Too many attempts. Wait a few minutes and try again.")),
    500: (_l("Something went wrong"), _l("The error has been logged. Please try again later.")),
    503: (
        _l("Temporarily unavailable"),
        _l("The service is briefly unavailable. Nothing was saved. Please try again in a moment."),
    ),
}
NUL_MESSAGE = (
    _l("Characters not allowed"),
    _l(
        "What you sent contains a character that is not allowed (a NUL byte). "
        "Go back, remove it and send it again."
    ),
)
ALREADY_SAVED_MESSAGE = (
    _l("Already saved"),
    _l(
        "This form was sent twice at the same moment. It was saved once; nothing else was "
        "changed. Open the record to see it."
    ),
)
# Errors of a database that is down, restarting, out of connections or locked: the request
# can succeed a moment later, so they answer 503 (RFC 9110, 15.6.4), not 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
CSRF_MESSAGE = (
    _l("Form expired"),
    _l(
        "The form was open too long or was sent from elsewhere. Go back, reload the page and "
        "send it again."
    ),
)


def new_incident_id() -> str:
    return uuid.uuid4().hex[:12]


def render_error(code: int, title=None, message=None):
    incident = new_incident_id()
    default_title, default_message = MESSAGES.get(code, MESSAGES[500])
    level = logging.ERROR if code >= 500 else logging.INFO
    log.log(level, "incident %s: %s %s answered %s", incident, request.method, request.path, code)
    return _error_page(code, title or default_title, message or default_message, incident)


def _error_page(code: int, title, message, incident: str):
    """The error page; a bare one when the layout itself fails (it reads the user's name, so
    it needs the database that may be the very thing that is down)."""
    try:
        html = render_template(
            "errors/error.html", code=code, title=title, message=message, incident=incident
        )
    except Exception:  # noqa: BLE001  whatever broke the page must not turn a 503 into a 500
        log.warning("incident %s: the error page fell back to plain HTML", incident)
        _rollback()
        title, message = _plain_text(title), _plain_text(message)
        html = (
            f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
            f"<p>{escape(message)}</p><p>{code} · {escape(incident)}</p>"
        )
    return html, code


def _plain_text(text) -> str:
    """The translated text; the English source when the locale cannot be chosen (choosing it
    reads the user's preference from the database)."""
    try:
        return str(text)
    except Exception:  # noqa: BLE001
        with force_locale("en"):
            return str(text)


def _rollback() -> None:
    """Roll back what the request began; on a dropped connection the rollback itself fails,
    and the pool has already discarded that connection."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        log.warning("rollback after a database error failed", exc_info=False)


def handle_http_error(error: HTTPException):
    if isinstance(error, CSRFError):
        return render_error(400, *CSRF_MESSAGE)
    if error.code == 400 and error.description == "nul":
        return render_error(400, *NUL_MESSAGE)
    return render_error(error.code or 500)


def handle_stale_data(_error: StaleDataError):
    db.session.rollback()
    return render_error(409)


def handle_database_unavailable(error: Exception):
    """Connection dropped, database restarting or locked: roll back (nothing of the request is
    kept), log the kind of error under an incident id and answer 503. The log names the driver
    error's class and SQLSTATE only: the message could quote personal data."""
    _rollback()
    incident = new_incident_id()
    original = getattr(error, "orig", None) or error
    log.error(
        "incident %s: database unavailable on %s %s (%s, sqlstate %s)",
        incident,
        request.method,
        request.path,
        type(original).__name__,
        getattr(original, "sqlstate", None),
    )
    title, message = MESSAGES[503]
    html, code = _error_page(503, title, message, incident)
    return html, code, {"Retry-After": "5"}


def handle_integrity_error(error: IntegrityError):
    """Two copies of one form sent at the same moment: both found no record with its one-time
    submission_token, the database's unique index let one in. The other gets a 409 saying it
    was saved once. Any other constraint broken is a bug: a 500."""
    if "submission_token" not in str(getattr(error, "orig", "")):
        return handle_unexpected(error)
    _rollback()
    return render_error(409, *ALREADY_SAVED_MESSAGE)


def handle_unexpected(error: Exception):
    _rollback()
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    incident = new_incident_id()
    if isinstance(error, DBAPIError):
        # The driver's message may quote values (PostgreSQL: "DETAIL: Key (username)=(...)");
        # log the statement (its parameters are hidden), the error class, SQLSTATE and the stack.
        log.error(
            "incident %s: unhandled database error on %s %s (%s, sqlstate %s) in %s\n%s",
            incident,
            request.method,
            request.path,
            type(error.orig).__name__,
            getattr(error.orig, "sqlstate", None),
            error.statement,
            "".join(traceback.format_tb(error.__traceback__)),
        )
    else:
        log.exception(
            "incident %s: unhandled error on %s %s", incident, request.method, request.path
        )
    title, message = MESSAGES[500]
    return _error_page(500, title, message, incident)


def register_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, handle_database_unavailable)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
