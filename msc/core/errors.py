"""Error pages: generic text and an incident id that is also in the log; never a stack trace."""

from __future__ import annotations

import logging
import uuid

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
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
    html = render_template(
        "errors/error.html",
        code=code,
        title=title or default_title,
        message=message or default_message,
        incident=incident,
    )
    return html, code


def handle_http_error(error: HTTPException):
    if isinstance(error, CSRFError):
        return render_error(400, *CSRF_MESSAGE)
    if error.code == 400 and error.description == "nul":
        return render_error(400, *NUL_MESSAGE)
    return render_error(error.code or 500)


def handle_stale_data(_error: StaleDataError):
    db.session.rollback()
    return render_error(409)


def handle_unexpected(error: Exception):
    db.session.rollback()
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    incident = new_incident_id()
    log.exception("incident %s: unhandled error on %s %s", incident, request.method, request.path)
    title, message = MESSAGES[500]
    html = render_template(
        "errors/error.html", code=500, title=title, message=message, incident=incident
    )
    return html, 500


def register_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
