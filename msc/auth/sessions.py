"""Login sessions: cookie sessions that time out and can be revoked (OWASP ASVS 3.3, 3.4)."""

from __future__ import annotations

import hmac
import time

from flask import current_app, flash, session
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, login_user

from msc.auth.models import User
from msc.core.db import db

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to continue.")
login_manager.login_message_category = "info"

# Rewriting the cookie on every request is wasteful; a minute of precision is enough.
SEEN_RESOLUTION_SECONDS = 60


def start_session(user: User) -> None:
    """Log the user in with a fresh session (no fixation: the old session is dropped)."""
    session.clear()
    session.permanent = True
    now = int(time.time())
    session["auth_at"] = now
    session["seen_at"] = now
    login_user(user)


def end_session() -> None:
    session.clear()


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _sep, token = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or not hmac.compare_digest(user.session_token, token):
        session.clear()
        return None
    if _expired():
        session.clear()
        flash(_l("Your session has expired. Please log in again."), "info")
        return None
    now = int(time.time())
    if now - session.get("seen_at", 0) >= SEEN_RESOLUTION_SECONDS:
        session["seen_at"] = now
    return user


def _expired() -> bool:
    config = current_app.config
    now = time.time()
    auth_at, seen_at = session.get("auth_at"), session.get("seen_at")
    if not isinstance(auth_at, int) or not isinstance(seen_at, int):
        return True
    idle_limit = config["SESSION_IDLE_MINUTES"] * 60
    absolute_limit = config["SESSION_ABSOLUTE_HOURS"] * 3600
    return now - seen_at > idle_limit or now - auth_at > absolute_limit
