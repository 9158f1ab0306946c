"""Data-protection pages: access log, subject access, legal hold, erasure, record of processing."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from msc.core import audit
from msc.core.access import roles_required
from msc.core.db import db, writes_on_read
from msc.core.roles import Role
from msc.migrants.queries import get_migrant_or_404
from msc.protection import inventory, retention
from msc.protection.forms import ErasureForm, LegalHoldForm
from msc.protection.subject import access_log, subject_record

bp = Blueprint("protection", __name__)

ACCESS_LOG_LIMIT = 500


def _live_case(migrant_id: int, action: str | None):
    migrant = get_migrant_or_404(migrant_id, action=action)
    if migrant.merged_into_id:
        abort(404)
    return migrant


@bp.get("/cases/<int:migrant_id>/access-log")
@roles_required(Role.SUPERVISOR)
@writes_on_read
def case_access_log(migrant_id: int):
    """Who viewed, printed, exported or changed the profile (newest first)."""
    migrant = _live_case(migrant_id, "migrant.access_log_viewed")
    db.session.commit()
    events = access_log(migrant.id, limit=ACCESS_LOG_LIMIT)
    return render_template(
        "protection/access_log.html", migrant=migrant, events=events, limit=ACCESS_LOG_LIMIT
    )


@bp.get("/cases/<int:migrant_id>/subject-access")
@roles_required(Role.SUPERVISOR)
@writes_on_read
def subject_access(migrant_id: int):
    migrant = _live_case(migrant_id, "migrant.subject_access_viewed")
    db.session.commit()
    return render_template(
        "protection/subject_access.html",
        migrant=migrant,
        record=subject_record(migrant),
        hold_form=LegalHoldForm(formdata=None),
    )


@bp.get("/cases/<int:migrant_id>/subject-access.json")
@roles_required(Role.SUPERVISOR)
@writes_on_read
def subject_access_json(migrant_id: int):
    migrant = _live_case(migrant_id, "migrant.subject_access_exported")
    db.session.commit()
    body = json.dumps(subject_record(migrant), ensure_ascii=False, indent=2, sort_keys=True)
    filename = f"subject-access-{migrant.case_number}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/cases/<int:migrant_id>/legal-hold")
@roles_required(Role.SUPERVISOR)
def legal_hold(migrant_id: int):
    migrant = _live_case(migrant_id, None)
    form = LegalHoldForm()
    if not form.validate_on_submit() or migrant.anonymised_at is not None:
        abort(400)
    migrant.legal_hold = form.hold.data == "on"
    action = "migrant.legal_hold_set" if migrant.legal_hold else "migrant.legal_hold_lifted"
    audit.record(action, migrant)
    db.session.commit()
    flash(
        _("The case is under legal hold: it will not be anonymised.")
        if migrant.legal_hold
        else _("The legal hold is lifted."),
        "success",
    )
    return redirect(url_for("protection.subject_access", migrant_id=migrant.id))


@bp.route("/cases/<int:migrant_id>/erase", methods=["GET", "POST"])
@roles_required(Role.SUPERVISOR)
def erase(migrant_id: int):
    """Erasure on request: the person is anonymised (GDPR art. 17), unless under legal hold."""
    migrant = _live_case(migrant_id, None)
    form = ErasureForm()
    blocked = migrant.legal_hold or migrant.anonymised_at is not None
    if form.validate_on_submit() and not blocked:
        if form.case_number.data.upper() != migrant.case_number:
            form.case_number.errors.append(_("This is not the case number of this profile."))
        else:
            retention.anonymise(migrant, reason="request")
            db.session.commit()
            flash(_("The person's data was erased; only anonymous statistics remain."), "success")
            return redirect(url_for("migrants.case", migrant_id=migrant.id))
    return render_template("protection/erase.html", migrant=migrant, form=form, blocked=blocked)


@bp.get("/admin/record-of-processing")
@roles_required(Role.ADMIN)
def record_of_processing():
    """The record of processing activities (GDPR art. 30), generated from the data inventory."""
    return render_template(
        "protection/record_of_processing.html",
        inventory=inventory,
        years=current_app.config["RETENTION_YEARS"],
        class_labels=inventory.CLASS_LABELS,
    )
