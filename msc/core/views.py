"""Pages every user shares: the language switcher."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, session, url_for
from flask_login import current_user

from msc.core.access import public
from msc.core.db import db
from msc.core.forms import LanguageForm

bp = Blueprint("core", __name__)


def safe_next(target: str | None, default: str) -> str:
    """Only a local path, so a crafted link cannot send the user elsewhere (ASVS 5.1.5)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.post("/language")
@public
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    return redirect(safe_next(form.next.data, url_for("home.index")))
