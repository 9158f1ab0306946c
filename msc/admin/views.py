"""Administration: users and the audit log (centres and regions live in msc.centres)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload

from msc.auth import operations, two_factor
from msc.auth.models import User
from msc.centres.models import Centre
from msc.core.access import get_or_404, roles_required
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.pagination import page_number, paginate
from msc.core.roles import Role

from .forms import UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles_required(Role.ADMIN)
def home():
    counts = {
        "users": db.session.scalar(sa.select(sa.func.count(User.id)).where(User.active)),
        "centres": db.session.scalar(sa.select(sa.func.count(Centre.id)).where(Centre.active)),
    }
    recent = db.session.scalars(
        sa.select(AuditEvent)
        .options(joinedload(AuditEvent.user), joinedload(AuditEvent.centre))
        .order_by(AuditEvent.id.desc())
        .limit(10)
    ).all()
    return render_template("admin/home.html", counts=counts, recent=recent)


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    role = request.args.get("role", "")
    statement = sa.select(User).options(joinedload(User.centre)).order_by(User.username)
    if role in set(Role):
        statement = statement.where(User.role == Role(role))
    if request.args.get("inactive") != "1":
        statement = statement.where(User.active)
    page = paginate(statement, page_number(), current_app.config["PAGE_SIZE"])
    return render_template("admin/users.html", page=page, role=role)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_user():
    form = UserForm()
    if form.validate_on_submit():
        user = operations.create_user(password=form.password.data, **form.user_fields())
        db.session.commit()
        flash(_("User %(username)s created.", username=user.username), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = get_or_404(User, user_id)
    form = UserForm(user=user)
    if form.validate_on_submit():
        if form.submitted_version() != user.version_id:
            abort(409)
        operations.update_user(user, **form.user_fields())
        db.session.commit()
        flash(_("User %(username)s saved.", username=user.username), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def set_user_active(user_id: int):
    user = get_or_404(User, user_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        flash(_("You cannot deactivate yourself."), "danger")
    else:
        operations.set_active(user, active)
        db.session.commit()
        if active:
            flash(_("User %(username)s activated.", username=user.username), "success")
        else:
            flash(_("User %(username)s deactivated.", username=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    user = get_or_404(User, user_id)
    form = FlaskForm()
    temporary = None
    if form.validate_on_submit():
        temporary = operations.reset_password(user)
        db.session.commit()
    return render_template("admin/reset_password.html", form=form, user=user, temporary=temporary)


@bp.post("/users/<int:user_id>/reset-two-factor")
@roles_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    """A lost phone: the user's second factor is removed and they enrol again at next login."""
    user = get_or_404(User, user_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    two_factor.reset(user)
    db.session.commit()
    flash(_("Two-step login of %(username)s was reset.", username=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.get("/audit")
@roles_required(Role.ADMIN)
def audit_log():
    statement = (
        sa.select(AuditEvent)
        .options(joinedload(AuditEvent.user), joinedload(AuditEvent.centre))
        .order_by(AuditEvent.id.desc())
    )
    action = request.args.get("action", "").strip()
    if action:
        statement = statement.where(AuditEvent.action.startswith(action, autoescape=True))
    username = request.args.get("user", "").strip().lower()
    if username:
        statement = statement.join(AuditEvent.user).where(User.username == username)
    page = paginate(statement, page_number(), 50)
    return render_template("admin/audit.html", page=page, action=action, username=username)


@bp.get("/releases")
@roles_required(Role.ADMIN)
def releases():
    """The ledger of research packages that left the system."""
    from msc.research.models import ResearchRelease

    statement = (
        sa.select(ResearchRelease)
        .options(joinedload(ResearchRelease.user))
        .order_by(ResearchRelease.id.desc())
    )
    page = paginate(statement, page_number(), 50)
    return render_template("admin/releases.html", page=page)
