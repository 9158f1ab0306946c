"""Login, logout and the user's own password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from msc.auth import operations
from msc.auth.forms import ChangePasswordForm, LoginForm
from msc.auth.passwords import verify_password
from msc.auth.sessions import end_session, start_session
from msc.core.access import login_required_any, public
from msc.core.db import db
from msc.core.views import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = operations.attempt_login(form.username.data, form.password.data)
        db.session.commit()  # failures and lockouts are recorded too
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
