"""Profiles: search and list, registration with duplicate warning, case page, edit, consents,
information sheet, merge."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from msc.centres.models import Centre
from msc.core import audit
from msc.core.access import roles_required
from msc.core.db import db, writes_on_read
from msc.core.forms import submission_token
from msc.core.pagination import page_number
from msc.core.roles import Role
from msc.core.timezones import local_today
from msc.migrants import operations
from msc.migrants.forms import ConsentForm, MergeForm, ProfileForm, RegistrationForm, migrant_values
from msc.migrants.models import Consent, Migrant
from msc.migrants.queries import (
    SearchRequest,
    can_see_restricted,
    get_migrant_or_404,
    likely_duplicates,
    load_profile,
    search,
)

bp = Blueprint("migrants", __name__, url_prefix="/cases")
CASE_ROLES = (Role.COUNSELLOR, Role.SUPERVISOR)

# ISO 639 language of the person -> the interface locale their documents are printed in.
DOCUMENT_LOCALES = {
    "sq": "sq",
    "sr": "sr_Cyrl",
    "cnr": "sr_Latn",
    "hr": "bs",
    "bs": "bs",
    "mk": "mk",
    "ru": "ru",
    "az": "az",
    "fa": "fa",
    "en": "en",
}


def document_locale(language: str | None) -> str:
    locale = DOCUMENT_LOCALES.get(language or "", "en")
    return locale if locale in current_app.config["LANGUAGES"] else "en"


def render_document(template: str, migrant: Migrant, **context) -> str:
    """A document handed to the person: in their language, whatever the screen shows."""
    with force_locale(document_locale(migrant.preferred_language)):
        return render_template(template, migrant=migrant, **context)


@bp.get("/")
@roles_required(*CASE_ROLES)
def index():
    criteria = SearchRequest(
        text=request.args.get("q", "")[:200],
        birth=request.args.get("birth", "")[:10],
        phone=request.args.get("phone", "")[:40],
        sort=request.args.get("sort", ""),
        mine=request.args.get("mine") == "1",
    )
    page = search(current_user.centre_id, criteria, page_number(), current_app.config["PAGE_SIZE"])
    return render_template("migrants/index.html", page=page, criteria=criteria)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.COUNSELLOR)
def register():
    form = RegistrationForm()
    if request.method == "GET":
        form.submission_token.data = submission_token()
        form.informed_language.data = ""
        return render_template("migrants/register.html", form=form, duplicates=[])
    if form.submission_token.data:
        existing = db.session.scalar(
            sa.select(Migrant).where(Migrant.submission_token == form.submission_token.data)
        )
        if existing is not None and existing.centre_id == current_user.centre_id:
            flash(_("This registration was already saved."), "info")
            return redirect(url_for("migrants.case", migrant_id=existing.id))
    duplicates = []
    if form.validate_on_submit():
        duplicates = likely_duplicates(
            current_user.centre_id,
            form.given_name.data,
            form.family_name.data,
            form.birth_date.data,
            form.birth_year.data,
            form.citizenships.data or [],
        )
        if not duplicates or form.confirm_new_person.data:
            centre = db.session.get(Centre, current_user.centre_id)
            migrant = operations.register(
                centre,
                form.profile_fields(),
                form.profile_codes(),
                form.profile_stays(),
                form.consents(),
                form.submission_token.data or None,
            )
            db.session.commit()
            flash(_("Registered as %(case)s.", case=migrant.case_number), "success")
            return redirect(url_for("migrants.case", migrant_id=migrant.id))
    return render_template("migrants/register.html", form=form, duplicates=duplicates)


@bp.get("/<int:migrant_id>")
@roles_required(*CASE_ROLES)
@writes_on_read
def case(migrant_id: int):
    migrant = get_migrant_or_404(migrant_id, action=None)
    # One audit row per read; it says whether the restricted fields were shown.
    restricted = can_see_restricted(migrant)
    merged_into_id = migrant.merged_into_id  # read before the commit expires the profile
    audit.record("migrant.viewed", migrant, fields=["restricted"] if restricted else None)
    db.session.commit()  # the audited read is kept whatever happens next
    if merged_into_id:
        flash(_("This profile was merged into another one."), "info")
        return redirect(url_for("migrants.case", migrant_id=merged_into_id))
    from msc.referrals.queries import suggestions
    from msc.visits.queries import follow_ups_for, timeline

    migrant = load_profile(migrant_id)
    events = timeline(migrant)
    centre = db.session.get(Centre, migrant.centre_id)
    return render_template(
        "migrants/case.html",
        migrant=migrant,
        restricted=restricted,
        events=events,
        follow_ups=follow_ups_for(migrant, local_today()),
        suggestions=suggestions(migrant, centre, local_today()),
        consent_form=ConsentForm(formdata=None, informed_language=migrant.preferred_language),
        action_form=FlaskForm(),
    )


@bp.route("/<int:migrant_id>/edit", methods=["GET", "POST"])
@roles_required(*CASE_ROLES)
def edit(migrant_id: int):
    migrant = get_migrant_or_404(migrant_id, action=None, for_change=True)
    if migrant.merged_into_id:
        abort(404)
    migrant = load_profile(migrant.id)
    restricted = can_see_restricted(migrant)
    form = ProfileForm(restricted=restricted)
    if request.method == "GET":
        form.fill_from(migrant)
        return render_template("migrants/edit.html", form=form, migrant=migrant)
    if form.validate_on_submit():
        if form.submitted_version() != migrant.version_id:
            return _conflict(form, migrant)
        changed = operations.update(
            migrant, form.profile_fields(), form.profile_codes(), form.profile_stays()
        )
        db.session.commit()
        flash(_("Profile saved.") if changed else _("Nothing was changed."), "success")
        return redirect(url_for("migrants.case", migrant_id=migrant.id))
    return render_template("migrants/edit.html", form=form, migrant=migrant)


def _conflict(form: ProfileForm, migrant: Migrant):
    """Someone saved first: show what differs, save nothing, let the user start again."""
    saved = migrant_values(migrant)
    yours = {name: form[name].data for name in saved if name in form}
    differences = [
        (form[name].label.text, saved[name], yours[name])
        for name in yours
        if (saved[name] or None) != (yours[name] or None)
        and not (name == "birth_year" and form.birth_date.data)
    ]
    db.session.rollback()
    return render_template("migrants/conflict.html", migrant=migrant, differences=differences), 409


@bp.post("/<int:migrant_id>/consents")
@roles_required(*CASE_ROLES)
def add_consent(migrant_id: int):
    migrant = get_migrant_or_404(migrant_id, action=None, for_change=True)
    form = ConsentForm()
    if form.validate_on_submit():
        operations.record_consent(
            migrant,
            purpose=form.purpose.data,
            basis=form.basis.data,
            given_on=form.given_on.data,
            informed_language=form.informed_language.data,
        )
        db.session.commit()
        flash(_("The legal basis was recorded."), "success")
    else:
        flash(
            _(
                "The legal basis was not recorded: %(problems)s",
                problems="; ".join(
                    f"{form[name].label.text}: {' '.join(map(str, errors))}"
                    for name, errors in form.errors.items()
                ),
            ),
            "danger",
        )
    return redirect(url_for("migrants.case", migrant_id=migrant.id) + "#consents")


@bp.post("/<int:migrant_id>/consents/<int:consent_id>/withdraw")
@roles_required(*CASE_ROLES)
def withdraw_consent(migrant_id: int, consent_id: int):
    migrant = get_migrant_or_404(migrant_id, action=None, for_change=True)
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.migrant_id != migrant.id:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    if consent.withdrawn_on is None:
        operations.withdraw_consent(consent, migrant, local_today())
        db.session.commit()
        flash(_("The withdrawal was recorded."), "success")
    return redirect(url_for("migrants.case", migrant_id=migrant.id) + "#consents")


@bp.get("/<int:migrant_id>/information-sheet")
@roles_required(*CASE_ROLES)
@writes_on_read
def information_sheet(migrant_id: int):
    migrant = get_migrant_or_404(migrant_id, action="migrant.information_sheet_printed")
    db.session.commit()
    migrant = load_profile(migrant.id)
    centre = db.session.get(Centre, migrant.centre_id)
    return render_document("migrants/information_sheet.html", migrant, centre=centre)


@bp.route("/<int:migrant_id>/merge", methods=["GET", "POST"])
@roles_required(Role.SUPERVISOR)
def merge(migrant_id: int):
    survivor = get_migrant_or_404(migrant_id, action=None, for_change=True)
    if survivor.merged_into_id:
        abort(404)
    form = MergeForm()
    duplicate = None
    if form.validate_on_submit():
        duplicate = db.session.scalar(
            sa.select(Migrant).where(
                Migrant.case_number == form.other_case_number.data.upper(),
                Migrant.centre_id == survivor.centre_id,
                Migrant.merged_into_id.is_(None),
                Migrant.anonymised_at.is_(None),
            )
        )
        if duplicate is None or duplicate.id == survivor.id:
            form.other_case_number.errors.append(
                _("No other active profile of this centre has this case number.")
            )
        elif form.confirm.data:
            operations.merge(survivor, duplicate)
            db.session.commit()
            flash(
                _(
                    "%(duplicate)s was merged into %(survivor)s.",
                    duplicate=duplicate.case_number,
                    survivor=survivor.case_number,
                ),
                "success",
            )
            return redirect(url_for("migrants.case", migrant_id=survivor.id))
    return render_template("migrants/merge.html", form=form, survivor=survivor, duplicate=duplicate)
