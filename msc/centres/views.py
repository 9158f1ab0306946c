"""Centres and regions (administrators)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from msc.centres import operations
from msc.centres.forms import CentreForm, RegionForm
from msc.centres.models import Centre, Region
from msc.core.access import get_or_404, roles_required
from msc.core.db import db
from msc.core.roles import Role

bp = Blueprint("centres", __name__, url_prefix="/admin")


@bp.get("/centres")
@roles_required(Role.ADMIN)
def centres():
    rows = db.session.scalars(
        sa.select(Centre)
        .options(joinedload(Centre.region))
        .order_by(Centre.country_code, Centre.code)
    ).all()
    return render_template("centres/centres.html", centres=rows)


@bp.route("/centres/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_centre():
    return _centre_form(None)


@bp.route("/centres/<int:centre_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_centre(centre_id: int):
    return _centre_form(get_or_404(Centre, centre_id))


def _centre_form(centre: Centre | None):
    form = CentreForm(centre=centre)
    if form.validate_on_submit():
        if centre is not None and form.submitted_version() != centre.version_id:
            abort(409)
        centre = operations.save_centre(centre, **form.centre_fields())
        db.session.commit()
        flash(_("Centre %(code)s saved.", code=centre.code), "success")
        return redirect(url_for("centres.centres"))
    return render_template("centres/centre_form.html", form=form, centre=centre)


@bp.get("/regions")
@roles_required(Role.ADMIN)
def regions():
    rows = db.session.scalars(sa.select(Region).order_by(Region.country_code, Region.code)).all()
    return render_template("centres/regions.html", regions=rows)


@bp.route("/regions/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_region():
    return _region_form(None)


@bp.route("/regions/<int:region_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_region(region_id: int):
    return _region_form(get_or_404(Region, region_id))


def _region_form(region: Region | None):
    form = RegionForm(region=region)
    if form.validate_on_submit():
        if region is not None and form.submitted_version() != region.version_id:
            abort(409)
        fields = {
            "country_code": form.country_code.data,
            "code": form.code.data,
            "name": form.name.data,
        }
        region = operations.save_region(region, **fields)
        db.session.commit()
        flash(_("Region %(name)s saved.", name=region.name), "success")
        return redirect(url_for("centres.regions"))
    return render_template("centres/region_form.html", form=form, region=region)
