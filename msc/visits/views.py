"""Visits on a case, group sessions and anonymous walk-ins."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from msc.core.access import get_scoped_or_404, roles_required
from msc.core.db import db
from msc.core.forms import submission_token
from msc.core.roles import Role
from msc.core.timezones import local_day_bounds, local_now, local_to_utc, local_today
from msc.migrants.queries import can_see_restricted, get_migrant_or_404
from msc.visits import operations
from msc.visits.forms import GroupSessionForm, VisitForm, WalkInForm
from msc.visits.models import GroupSession, Visit, WalkIn
from msc.visits.queries import recent_group_sessions, recent_walk_ins

bp = Blueprint("visits", __name__)
CASE_ROLES = (Role.COUNSELLOR, Role.SUPERVISOR)


def _already_saved(model, token):
    if not token:
        return None
    return db.session.scalar(sa.select(model).where(model.submission_token == token))


@bp.route("/cases/<int:migrant_id>/visits/new", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def new_visit(migrant_id: int):
    migrant = get_migrant_or_404(migrant_id, action=None, for_change=True)
    if migrant.merged_into_id:
        abort(404)
    form = VisitForm(restricted=can_see_restricted(migrant))
    if request.method == "GET":
        form.occurred_at.data = local_now().replace(second=0, microsecond=0, tzinfo=None)
        form.duration_minutes.data = 30
        form.mode.data = "in_person"
        form.submission_token.data = submission_token()
    elif (saved := _already_saved(Visit, form.submission_token.data)) is not None:
        if saved.migrant_id != migrant.id:
            abort(409)
        return redirect(url_for("migrants.case", migrant_id=migrant.id))
    elif form.validate_on_submit():
        fields = {
            "occurred_at": local_to_utc(form.occurred_at.data),
            "mode": form.mode.data,
            "duration_minutes": form.duration_minutes.data,
            "material": form.material.data or None,
            "follow_up_on": form.follow_up_on.data,
        }
        if "notes" in form:
            fields["notes"] = form.notes.data or None
        operations.log_visit(migrant, fields, form.topics.data, form.submission_token.data or None)
        db.session.commit()
        flash(_("Visit saved."), "success")
        return redirect(url_for("migrants.case", migrant_id=migrant.id))
    return render_template("visits/visit_form.html", form=form, migrant=migrant)


@bp.get("/group-sessions")
@roles_required(*CASE_ROLES)
def group_sessions():
    return render_template(
        "visits/group_sessions.html", sessions=recent_group_sessions(current_user.centre_id)
    )


@bp.route("/group-sessions/new", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def new_group_session():
    form = GroupSessionForm()
    if request.method == "GET":
        form.occurred_on.data = local_today()
        form.facilitators.data = [str(current_user.id)]
        form.submission_token.data = submission_token()
    elif _already_saved(GroupSession, form.submission_token.data) is not None:
        return redirect(url_for("visits.group_sessions"))
    headcounts, headcount_errors = _read_headcounts(form)
    if request.method == "POST" and form.validate_on_submit() and not headcount_errors:
        operations.record_group_session(
            current_user.centre_id,
            {
                "occurred_on": form.occurred_on.data,
                "title": form.title.data,
                "venue": form.venue.data,
            },
            form.topics.data,
            [int(i) for i in form.facilitators.data],
            form.resolved_attendees,
            headcounts,
            form.submission_token.data or None,
        )
        db.session.commit()
        flash(_("Group session saved."), "success")
        return redirect(url_for("visits.group_sessions"))
    return render_template(
        "visits/group_session_form.html",
        form=form,
        headcounts=headcounts,
        headcount_errors=headcount_errors,
    )


def _read_headcounts(form: GroupSessionForm):
    counts, errors = {}, []
    for sex, band, name in form.headcount_fields():
        raw = request.form.get(name, "").strip() if request.method == "POST" else ""
        if not raw:
            continue
        if not raw.isdigit() or int(raw) > 10000:
            errors.append(name)
            continue
        counts[(sex, band)] = int(raw)
    return counts, errors


@bp.get("/group-sessions/<int:session_id>")
@roles_required(*CASE_ROLES)
def group_session(session_id: int):
    session = get_scoped_or_404(GroupSession, session_id)
    session = db.session.scalars(
        sa.select(GroupSession)
        .where(GroupSession.id == session.id)
        .options(
            selectinload(GroupSession.topic_rows),
            selectinload(GroupSession.headcounts),
            selectinload(GroupSession.attendees),
            selectinload(GroupSession.facilitators),
        )
    ).one()
    return render_template("visits/group_session.html", session=session)


@bp.get("/walk-ins")
@roles_required(*CASE_ROLES)
def walk_ins():
    since, _end = local_day_bounds(local_today() - timedelta(days=30))
    return render_template(
        "visits/walk_ins.html", walk_ins=recent_walk_ins(current_user.centre_id, since)
    )


@bp.route("/walk-ins/new", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def new_walk_in():
    form = WalkInForm()
    if request.method == "GET":
        form.occurred_at.data = local_now().replace(second=0, microsecond=0, tzinfo=None)
        form.submission_token.data = submission_token()
    elif _already_saved(WalkIn, form.submission_token.data) is not None:
        return redirect(url_for("visits.walk_ins"))
    elif form.validate_on_submit():
        operations.record_walk_in(
            current_user.centre_id,
            {
                "occurred_at": local_to_utc(form.occurred_at.data),
                "sex": form.sex.data,
                "age_band": form.age_band.data,
                "citizenship": form.citizenship.data or None,
            },
            form.topics.data,
            form.submission_token.data or None,
        )
        db.session.commit()
        flash(_("Walk-in counted."), "success")
        return redirect(url_for("visits.walk_ins"))
    return render_template("visits/walk_in_form.html", form=form)
