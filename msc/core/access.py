"""Access control in one place.

Every view declares who may reach it with `@roles_required(...)`, `@login_required_any` or
`@public`; `enforce_access` (a before_request hook) applies the declaration, and denies any view
that has none, so a route added without a check is refused rather than open. Object loading is
scoped to the user's centre by `get_scoped_or_404`: a record of another centre is a 404, never a
403 that would confirm it exists.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from msc.core.db import db
from msc.core.roles import Role

log = logging.getLogger(__name__)

PUBLIC = "public"
ANY_ROLE = frozenset(Role)

# Pages a user who must change their password may still reach.
PASSWORD_CHANGE_ENDPOINTS = {"auth.change_password", "auth.logout", "core.set_language"}
TWO_FACTOR_SETUP_ENDPOINTS = {"auth.two_factor_setup", "auth.logout", "core.set_language"}


def roles_required(*roles: Role):
    def mark(view):
        view.msc_access = frozenset(roles)
        return view

    return mark


def login_required_any(view):
    view.msc_access = ANY_ROLE
    return view


def public(view):
    view.msc_access = PUBLIC
    return view


def access_of(app: Flask, endpoint: str):
    """The declared access of an endpoint: PUBLIC, a set of roles, or None when undeclared."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    return getattr(app.view_functions[endpoint], "msc_access", None)


def enforce_access():
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: Flask answers 404/405 itself
        return None
    access = access_of(current_app, endpoint)
    if access is None:
        log.error("view %s declares no access rule; refused", endpoint)
        abort(403)
    if access == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.must_change_password and endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        return redirect(url_for("auth.change_password"))
    if _second_factor_missing() and endpoint not in TWO_FACTOR_SETUP_ENDPOINTS:
        return redirect(url_for("auth.two_factor_setup"))
    if current_user.role not in access:
        abort(403)
    return None


def _second_factor_missing() -> bool:
    """A role that must use a second factor has not enrolled yet: only enrolment is open."""
    from msc.auth.two_factor import enrolled, required_for

    return required_for(current_user) and not enrolled(current_user)


def can_see_centre(centre_id: int | None) -> bool:
    """Admins see every centre; counsellors and supervisors their own; researchers none."""
    if current_user.role == Role.ADMIN:
        return True
    if current_user.role.needs_centre:
        return centre_id is not None and centre_id == current_user.centre_id
    return False


def scoped(statement: sa.Select, centre_column) -> sa.Select:
    """Restrict a query on centre-owned rows to what the current user may see."""
    if current_user.role == Role.ADMIN:
        return statement
    if current_user.role.needs_centre:
        return statement.where(centre_column == current_user.centre_id)
    return statement.where(sa.false())


def get_scoped_or_404(model, object_id: int, centre_attribute: str = "centre_id"):
    obj = db.session.get(model, object_id)
    if obj is None or not can_see_centre(getattr(obj, centre_attribute)):
        abort(404)
    return obj


def get_or_404(model, object_id):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj
