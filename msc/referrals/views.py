"""The referral's life: create from a case, review, send, follow up, close; the slip; the queue."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from msc.auth.models import User
from msc.centres.models import Centre
from msc.core import audit
from msc.core.access import roles_required
from msc.core.codelists import codelist
from msc.core.db import db, writes_on_read
from msc.core.forms import submission_token
from msc.core.pagination import page_number, paginate
from msc.core.roles import Role
from msc.core.timezones import local_now, local_today
from msc.migrants.queries import get_migrant_or_404, load_profile
from msc.migrants.views import render_document
from msc.referrals import operations
from msc.referrals.forms import DEFAULT_SHARED, ActionForm, ReferralForm
from msc.referrals.models import Referral
from msc.referrals.operations import TransitionRefused
from msc.referrals.queries import (
    get_referral_or_404,
    load_referral,
    overdue,
    queue,
    referral_list,
)
from msc.referrals.workflow import ACTIONS, REVIEW_ACTIONS, actions_from

bp = Blueprint("referrals", __name__)
CASE_ROLES = (Role.COUNSELLOR, Role.SUPERVISOR)


def _centre() -> Centre:
    return db.session.get(Centre, current_user.centre_id)


@bp.route("/cases/<int:migrant_id>/referrals/new", methods=["GET", "POST"])
@roles_required(Role.COUNSELLOR)
def new(migrant_id: int):
    migrant = get_migrant_or_404(migrant_id, action=None, for_change=True)
    if migrant.merged_into_id:
        abort(404)
    form = ReferralForm(country_code=_centre().country_code)
    if request.method == "GET":
        form.submission_token.data = submission_token()
        form.shared_fields.data = DEFAULT_SHARED
        form.target.data = request.args.get("target", "")
        form.category.data = request.args.get("category", "")
        return render_template("referrals/form.html", form=form, migrant=migrant, referral=None)
    saved = (
        db.session.scalar(
            sa.select(Referral).where(Referral.submission_token == form.submission_token.data)
        )
        if form.submission_token.data
        else None
    )
    if saved is not None:
        return redirect(url_for("referrals.detail", referral_id=saved.id))
    if form.validate_on_submit():
        referral = operations.create(
            migrant, form.referral_fields(), form.submission_token.data or None
        )
        db.session.commit()
        flash(_("Referral saved as a draft. Submit it for review when it is ready."), "success")
        return redirect(url_for("referrals.detail", referral_id=referral.id))
    return render_template("referrals/form.html", form=form, migrant=migrant, referral=None)


@bp.get("/referrals/<int:referral_id>")
@roles_required(*CASE_ROLES)
@writes_on_read
def detail(referral_id: int):
    get_referral_or_404(referral_id)
    referral = load_referral(referral_id)
    return render_template("referrals/detail.html", referral=referral, **_action_context(referral))


def _action_context(referral: Referral) -> dict:
    """The actions the current user may take now, each with its form."""
    allowed = []
    for action in actions_from(referral.status):
        definition = ACTIONS[action]
        if current_user.role not in definition.roles:
            continue
        if action in REVIEW_ACTIONS and referral.created_by_id == current_user.id:
            continue
        if action == "send_urgent" and (
            referral.category != "protection" or referral.urgency != "urgent"
        ):
            continue
        if action == "revise":
            continue  # revising happens by editing the returned referral
        allowed.append(definition)
    form = ActionForm(formdata=None)
    form.version_id.data = referral.version_id
    can_edit = current_user.role == Role.COUNSELLOR and referral.status in {"draft", "returned"}
    can_review = current_user.role == Role.SUPERVISOR and referral.needs_review
    has_consent = operations.active_referral_consent(referral.migrant_id) is not None
    return {
        "actions": allowed,
        "action_form": form,
        "can_edit": can_edit,
        "can_review": can_review,
        "has_consent": has_consent,
    }


@bp.route("/referrals/<int:referral_id>/edit", methods=["GET", "POST"])
@roles_required(Role.COUNSELLOR)
def edit(referral_id: int):
    referral = load_referral(get_referral_or_404(referral_id).id)
    if referral.status not in {"draft", "returned"}:
        return _refused(referral, _("Only a draft or a returned referral can be changed."))
    form = ReferralForm(country_code=_centre().country_code)
    migrant = get_migrant_or_404(referral.migrant_id, action=None, for_change=True)
    if request.method == "GET":
        form.fill_from(referral)
        return render_template("referrals/form.html", form=form, migrant=migrant, referral=referral)
    if form.validate_on_submit():
        if form.submitted_version() != referral.version_id:
            return _conflict(referral)
        try:
            operations.update(referral, form.referral_fields())
        except TransitionRefused as refused:
            return _refused(referral, refused.message)
        db.session.commit()
        flash(_("Referral saved."), "success")
        return redirect(url_for("referrals.detail", referral_id=referral.id))
    return render_template("referrals/form.html", form=form, migrant=migrant, referral=referral)


@bp.post("/referrals/<int:referral_id>/do/<action>")
@roles_required(*CASE_ROLES)
def act(referral_id: int, action: str):
    referral = get_referral_or_404(referral_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return _refused(referral, _("The form was incomplete. Nothing was changed."))
    if form.submitted_version() != referral.version_id:
        return _conflict(referral)
    try:
        operations.transition(
            referral,
            action,
            comment=form.comment.data,
            outcome=form.outcome.data,
            vital_interest=form.vital_interest.data,
        )
        db.session.commit()
    except TransitionRefused as refused:
        db.session.rollback()
        return _refused(referral, refused.message)
    except StaleDataError:
        db.session.rollback()
        return _conflict(referral)
    flash(_("Done: %(action)s.", action=ACTIONS[action].title), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id))


@bp.post("/referrals/<int:referral_id>/review")
@roles_required(Role.SUPERVISOR)
def review(referral_id: int):
    referral = get_referral_or_404(referral_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        operations.confirm_review(referral, form.comment.data)
        db.session.commit()
    except TransitionRefused as refused:
        db.session.rollback()
        return _refused(referral, refused.message)
    flash(_("Review recorded."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id))


def _refused(referral: Referral, message: str):
    db.session.rollback()
    referral = load_referral(referral.id)
    return render_template("referrals/refused.html", referral=referral, message=message), 409


def _conflict(referral: Referral):
    """Someone acted first: show what happened; nothing of this request was saved."""
    return _refused(
        referral,
        _(
            "Someone else changed this referral a moment ago. Its history below "
            "shows what happened; nothing of yours was saved."
        ),
    )


@bp.get("/referrals/<int:referral_id>/slip")
@roles_required(*CASE_ROLES)
@writes_on_read
def slip(referral_id: int):
    get_referral_or_404(referral_id)
    referral = load_referral(referral_id)
    audit.record("referral.slip_printed", referral)
    db.session.commit()
    migrant = load_profile(referral.migrant_id)
    centre = db.session.get(Centre, referral.centre_id)
    return render_document("referrals/slip.html", migrant, referral=referral, centre=centre)


@bp.get("/referrals/")
@roles_required(*CASE_ROLES)
def index():
    status = request.args.get("status", "open")
    mine = request.args.get("mine") == "1"
    return render_template(
        "referrals/index.html",
        page=paginate(
            referral_list(current_user.centre_id, status if status != "all" else "", mine),
            page_number(),
            current_app.config["PAGE_SIZE"],
        ),
        overdue=overdue(
            current_user.centre_id,
            local_today(),
            current_user.id if current_user.role == Role.COUNSELLOR else None,
        ),
        status=status,
        mine=mine,
    )


@bp.get("/referrals/queue")
@roles_required(Role.SUPERVISOR)
def review_queue():
    try:
        waiting = int(request.args.get("waiting", "") or 0) or None
        counsellor_id = int(request.args.get("counsellor", "") or 0) or None
    except ValueError:
        waiting = counsellor_id = None
    statement = queue(
        current_user.centre_id,
        request.args.get("category", ""),
        counsellor_id,
        request.args.get("urgency", ""),
        waiting,
        local_now(),
    )
    page = paginate(statement, page_number(), current_app.config["PAGE_SIZE"])
    counsellors = db.session.execute(
        sa.select(User.id, User.full_name)
        .where(User.centre_id == current_user.centre_id, User.role == Role.COUNSELLOR)
        .order_by(User.full_name)
    ).all()
    return render_template(
        "referrals/queue.html",
        page=page,
        counsellors=counsellors,
        args=request.args,
        category_choices=codelist("referral_category").choices(),
    )
