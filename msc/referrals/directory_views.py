"""Where people are referred to: the partner directory, legal migration channels, local options."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from msc.centres.models import Centre, Country
from msc.core import audit
from msc.core.access import get_or_404, roles_required
from msc.core.db import db
from msc.core.i18n import country_choices
from msc.core.roles import Role
from msc.core.timezones import local_today
from msc.referrals.forms import ChannelForm, ImportForm, LocalOptionForm, PartnerForm
from msc.referrals.imports import COLUMNS, import_local_options
from msc.referrals.models import Channel, LocalOption, Partner

bp = Blueprint("directory", __name__)
READERS = (Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN)
MAINTAINERS = (Role.SUPERVISOR, Role.ADMIN)


def own_country() -> str | None:
    if current_user.centre_id is None:
        return None
    return db.session.get(Centre, current_user.centre_id).country_code


def may_maintain(country_code: str) -> bool:
    """Admins maintain every country's entries; supervisors those of their centre's country."""
    return current_user.role == Role.ADMIN or (
        current_user.role == Role.SUPERVISOR and country_code == own_country()
    )


def _save(obj, fields: dict, action: str):
    for name, value in fields.items():
        setattr(obj, name, value)
    db.session.add(obj)
    db.session.flush()
    audit.record(action, obj)


# --- partners -----------------------------------------------------------------------------


@bp.get("/partners")
@roles_required(*READERS)
def partners():
    statement = sa.select(Partner).order_by(Partner.country_code, Partner.name)
    kind = request.args.get("kind", "")
    if kind:
        statement = statement.where(Partner.kind == kind)
    country = request.args.get("country", "")
    if country:
        statement = statement.where(Partner.country_code == country)
    if request.args.get("inactive") != "1":
        statement = statement.where(Partner.active)
    rows = db.session.scalars(statement.limit(500)).all()
    return render_template(
        "directory/partners.html",
        partners=rows,
        kind=kind,
        country=country,
        may_maintain=may_maintain,
    )


@bp.route("/partners/new", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def new_partner():
    return _partner_form(None)


@bp.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def edit_partner(partner_id: int):
    partner = get_or_404(Partner, partner_id)
    if not may_maintain(partner.country_code):
        abort(403)
    return _partner_form(partner)


def _partner_form(partner: Partner | None):
    form = PartnerForm()
    if request.method == "GET":
        if partner:
            form.fill_from(partner)
        else:
            form.country_code.data = own_country()
    elif form.validate_on_submit():
        if not may_maintain(form.country_code.data):
            form.country_code.errors.append(
                _("You can maintain only the partners of your country.")
            )
        elif partner is not None and form.submitted_version() != partner.version_id:
            abort(409)
        else:
            _save(
                partner or Partner(),
                form.fields(),
                "partner.updated" if partner else "partner.created",
            )
            db.session.commit()
            flash(_("Partner saved."), "success")
            return redirect(url_for("directory.partners"))
    return render_template("directory/partner_form.html", form=form, partner=partner)


# --- legal migration channels ----------------------------------------------------------------


@bp.get("/channels")
@roles_required(*READERS)
def channels():
    statement = sa.select(Channel).order_by(Channel.destination, Channel.name)
    destination = request.args.get("destination", "")
    if destination:
        statement = statement.where(Channel.destination == destination)
    rows = db.session.scalars(statement.limit(500)).all()
    destinations = list(db.session.scalars(sa.select(Channel.destination).distinct()))
    return render_template(
        "directory/channels.html",
        channels=rows,
        destination=destination,
        destinations=country_choices(destinations),
        today=local_today(),
    )


@bp.route("/channels/new", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def new_channel():
    return _channel_form(None)


@bp.route("/channels/<int:channel_id>/edit", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def edit_channel(channel_id: int):
    return _channel_form(get_or_404(Channel, channel_id))


def _channel_form(channel: Channel | None):
    form = ChannelForm()
    if request.method == "GET":
        if channel:
            form.fill_from(channel)
    elif form.validate_on_submit():
        if channel is not None and form.submitted_version() != channel.version_id:
            abort(409)
        _save(
            channel or Channel(), form.fields(), "channel.updated" if channel else "channel.created"
        )
        db.session.commit()
        flash(_("Channel saved."), "success")
        return redirect(url_for("directory.channels"))
    return render_template("directory/channel_form.html", form=form, channel=channel)


# --- local work and training options ---------------------------------------------------------


def _option_country() -> str:
    country = own_country() or request.args.get("country") or "RS"
    return country


@bp.get("/local-options")
@roles_required(*READERS)
def local_options():
    country = _option_country()
    statement = (
        sa.select(LocalOption)
        .where(LocalOption.country_code == country)
        .order_by(LocalOption.closing_on.desc().nulls_last(), LocalOption.title)
    )
    if request.args.get("inactive") != "1":
        statement = statement.where(LocalOption.active)
    from sqlalchemy.orm import joinedload

    rows = db.session.scalars(statement.options(joinedload(LocalOption.region)).limit(500)).all()
    countries = country_choices(list(db.session.scalars(sa.select(Centre.country_code).distinct())))
    return render_template(
        "directory/local_options.html",
        options=rows,
        country=country,
        countries=countries,
        may_maintain=may_maintain(country),
        today=local_today(),
    )


@bp.route("/local-options/new", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def new_local_option():
    return _option_form(None, _option_country())


@bp.route("/local-options/<int:option_id>/edit", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def edit_local_option(option_id: int):
    option = get_or_404(LocalOption, option_id)
    return _option_form(option, option.country_code)


def _option_form(option: LocalOption | None, country: str):
    if not may_maintain(country):
        abort(403)
    form = LocalOptionForm(country_code=country)
    if request.method == "GET":
        if option:
            form.fill_from(option)
    elif form.validate_on_submit():
        if option is not None and form.submitted_version() != option.version_id:
            abort(409)
        fields = form.fields()
        fields["country_code"] = country
        _save(
            option or LocalOption(),
            fields,
            "local_option.updated" if option else "local_option.created",
        )
        db.session.commit()
        flash(_("Local option saved."), "success")
        return redirect(url_for("directory.local_options", country=country))
    return render_template(
        "directory/local_option_form.html", form=form, option=option, country=country
    )


@bp.route("/local-options/import", methods=["GET", "POST"])
@roles_required(*MAINTAINERS)
def import_options():
    countries = db.session.scalars(
        sa.select(Country.code).where(Country.code.in_(sa.select(Centre.country_code)))
    ).all()
    allowed = [c for c in countries if may_maintain(c)]
    form = ImportForm(countries=country_choices(allowed))
    if request.method == "GET":
        form.country_code.data = own_country()
    report = None
    if form.validate_on_submit():
        report = import_local_options(form.file.data.read(), form.country_code.data)
        if report.problem:
            db.session.rollback()
        else:
            db.session.commit()
    return render_template("directory/import.html", form=form, report=report, columns=COLUMNS)
