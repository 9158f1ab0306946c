"""Account operations: they change models, flush and write the audit row; the view commits."""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from msc.auth.models import User
from msc.auth.passwords import (
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)
from msc.core import audit
from msc.core.db import db, utcnow


def normalise_username(username: str) -> str:
    return username.strip().lower()


def attempt_login(username: str, password: str) -> User | None:
    """The user when the credentials are right and the account may log in, otherwise None.

    Every refusal looks the same to the caller, so the page never tells whether a user exists
    (ASVS 2.2.1, 3.2); five failures within the window lock the account (kept in the database).
    """
    user = db.session.scalar(
        sa.select(User).where(User.username == normalise_username(username)).with_for_update()
    )
    now = utcnow()
    if user is None:
        spend_verification_time(password)
        audit.record("auth.login_failed")
        return None
    if user.locked_until is not None and user.locked_until > now:
        spend_verification_time(password)
        audit.record("auth.login_refused_locked", user, user_id=user.id)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        _count_failure(user, now)
        audit.record("auth.login_failed", user, user_id=user.id)
        return None
    user.failed_logins = 0
    user.first_failed_login_at = None
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("auth.login", user, user_id=user.id)
    return user


def count_failure(user: User) -> None:
    """A failed second factor counts towards the same lockout as a wrong password."""
    _count_failure(user, utcnow())


def _count_failure(user: User, now) -> None:
    config = current_app.config
    window = timedelta(minutes=config["LOCKOUT_WINDOW_MINUTES"])
    if user.first_failed_login_at is None or now - user.first_failed_login_at >= window:
        user.failed_logins = 1
        user.first_failed_login_at = now
    else:
        user.failed_logins += 1
    if user.failed_logins >= config["LOCKOUT_THRESHOLD"]:
        user.locked_until = now + timedelta(minutes=config["LOCKOUT_MINUTES"])
        user.failed_logins = 0
        user.first_failed_login_at = None
        audit.record("auth.account_locked", user, user_id=user.id)


def logout(user: User) -> None:
    user.revoke_sessions()
    audit.record("auth.logout", user, user_id=user.id)


def change_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    user.revoke_sessions()
    audit.record("auth.password_changed", user, user_id=user.id)


def create_user(*, password: str, must_change_password: bool = True, **fields) -> User:
    fields["username"] = normalise_username(fields["username"])
    user = User(
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
        must_change_password=must_change_password,
        **fields,
    )
    db.session.add(user)
    audit.record("user.created", user)
    return user


def update_user(user: User, **fields) -> list[str]:
    """Apply changed fields; returns the names of the fields that changed (never their values)."""
    changed = [name for name, value in fields.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, fields[name])
    if {"role", "centre_id", "active"} & set(changed):
        user.revoke_sessions()  # a new role or centre starts from a fresh login
    if changed:
        audit.record("user.updated", user, fields=changed)
    return changed


def set_active(user: User, active: bool) -> None:
    user.active = active
    if not active:
        user.revoke_sessions()
    audit.record("user.activated" if active else "user.deactivated", user)


def reset_password(user: User) -> str:
    """Give the user a one-time password to change at the next login; returns it once."""
    temporary = "-".join(secrets.token_hex(3) for _ in range(4))
    user.password_hash = hash_password(temporary)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.failed_logins = 0
    user.first_failed_login_at = None
    user.locked_until = None
    user.revoke_sessions()
    audit.record("user.password_reset", user)
    return temporary
