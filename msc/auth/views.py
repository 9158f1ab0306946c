"""Login, logout and the user's own password."""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from msc.auth import operations, two_factor
from msc.auth.forms import ChangePasswordForm, LoginForm, TwoFactorForm
from msc.auth.models import User
from msc.auth.passwords import verify_password
from msc.auth.sessions import end_session, start_session
from msc.core.access import login_required_any, public
from msc.core.db import db, utcnow
from msc.core.limits import limiter, login_limit
from msc.core.views import safe_next

# The password step is valid this long for the second step (ASVS 2.8: short-lived challenge).
PENDING_SECONDS = 300

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = operations.attempt_login(form.username.data, form.password.data)
        db.session.commit()  # failures and lockouts are recorded too
        if user is not None and two_factor.enrolled(user):
            # The password was right; the session starts only after the second factor.
            session.clear()
            session["pending_user"] = f"{user.id}:{user.session_token}"
            session["pending_at"] = int(time.time())
            return redirect(url_for("auth.second_factor", next=request.args.get("next")))
        if user is not None:
            start_session(user)
            return redirect(safe_next(request.args.get("next"), url_for("home.index")))
        # One message for every refusal: it never says whether the user exists (ASVS 2.2.1).
        form.password.errors.append(
            _(
                "The username or password is wrong, or the account is locked for a while. "
                "Check them and try again, or ask your administrator."
            )
        )
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required_any
def logout():
    operations.logout(current_user._get_current_object())
    db.session.commit()
    end_session()
    flash(_("You have logged out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required_any
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm(username=user.username)
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("The current password is wrong."))
        else:
            operations.change_password(user, form.new_password.data)
            db.session.commit()
            start_session(user)  # this session continues; every other one has ended
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", form=form, forced=user.must_change_password)


def _pending_user() -> User | None:
    """The user who passed the password step in this browser within the last minutes."""
    pending, started = session.get("pending_user", ""), session.get("pending_at", 0)
    user_id, _sep, token = pending.partition(":")
    if not user_id.isdigit() or time.time() - started > PENDING_SECONDS:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
@limiter.limit(login_limit, methods=["POST"])
def second_factor():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    user = _pending_user()
    if user is None:
        flash(_("Please log in to continue."), "info")
        return redirect(url_for("auth.login"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        locked = user.locked_until is not None and user.locked_until > utcnow()
        if not locked and two_factor.verify(user, form.code.data):
            db.session.commit()
            start_session(user)
            return redirect(safe_next(request.args.get("next"), url_for("home.index")))
        if not locked:
            operations.count_failure(user)
        db.session.commit()
        form.code.errors.append(
            _("The code is wrong or was already used, or the account is locked for a while.")
        )
    return render_template("auth/two_factor.html", form=form)


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@login_required_any
def two_factor_setup():
    """Enrol an authenticator app: scan the code, confirm with one code, keep the recovery codes."""
    user = current_user._get_current_object()
    form = TwoFactorForm()
    if form.validate_on_submit() and user.totp_secret and not two_factor.enrolled(user):
        codes = two_factor.confirm_enrolment(user, form.code.data)
        db.session.commit()
        if codes:
            return render_template("auth/recovery_codes.html", codes=codes)
        form.code.errors.append(_("The code is wrong. Check the time on your phone and try again."))
    if two_factor.enrolled(user):
        return render_template(
            "auth/two_factor_status.html", remaining=two_factor.remaining_recovery_codes(user)
        )
    two_factor.start_enrolment(user)
    db.session.commit()
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        secret=user.totp_secret,
        qr_svg=two_factor.provisioning_svg(user),
        required=two_factor.required_for(user),
    )
