from __future__ import annotations

import zoneinfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from msc.centres.models import Centre, Country, Region
from msc.core.db import db
from msc.core.forms import StrippedStringField, VersionedForm, no_control_chars
from msc.core.i18n import country_choices

CODE_PATTERN = Regexp(
    r"^[A-Z0-9]+(-[A-Z0-9]+)*$", message=_l("Use capital letters A–Z, digits and dashes.")
)


def all_country_codes() -> list[str]:
    return list(db.session.scalars(sa.select(Country.code)))


class RegionForm(VersionedForm):
    country_code = SelectField(_l("Country"), validators=[DataRequired()])
    code = StrippedStringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=16), CODE_PATTERN],
        description=_l("The ISO 3166-2 code where one exists, for example RS-00."),
    )
    name = StrippedStringField(
        lazy_pgettext("organisation", "Name"),
        validators=[DataRequired(), Length(max=120), no_control_chars],
    )

    def __init__(self, *args, region: Region | None = None, **kwargs):
        super().__init__(*args, obj=region, **kwargs)
        self.region = region
        self.country_code.choices = country_choices(all_country_codes())

    def validate_code(self, field):
        """Unique within the country, also as research tables write it: "00" and "RS-00" in
        Serbia would both be RS-00."""
        country = self.country_code.data
        others = db.session.execute(
            sa.select(Region.id, Region.code).where(Region.country_code == country)
        )
        wanted = Region.area_code(country, field.data)
        for region_id, code in others:
            mine = self.region is not None and region_id == self.region.id
            if not mine and Region.area_code(country, code) == wanted:
                raise ValidationError(_l("This country already has a region with this code."))


class CentreForm(VersionedForm):
    code = StrippedStringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=8), CODE_PATTERN],
        description=_l("Short and unique in the country; it is part of every case number."),
    )
    name = StrippedStringField(
        lazy_pgettext("organisation", "Name"),
        validators=[DataRequired(), Length(max=120), no_control_chars],
    )
    country_code = SelectField(_l("Country"), validators=[DataRequired()])
    region_id = SelectField(_l("Region"), validators=[DataRequired()])
    host_office = StrippedStringField(
        _l("Host employment office"), validators=[DataRequired(), Length(max=200), no_control_chars]
    )
    timezone = SelectField(_l("Time zone"), validators=[DataRequired()])
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, centre: Centre | None = None, **kwargs):
        super().__init__(*args, obj=centre, **kwargs)
        self.centre = centre
        self.country_code.choices = country_choices(all_country_codes())
        regions = db.session.execute(
            sa.select(Region.id, Region.country_code, Region.name).order_by(
                Region.country_code, Region.name
            )
        )
        self.region_id.choices = [(str(r.id), f"{r.country_code} · {r.name}") for r in regions]
        self.region_id.data = str(self.region_id.data) if self.region_id.data else None
        self.timezone.choices = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]

    def validate_region_id(self, field):
        region = db.session.get(Region, int(field.data))
        if region is None or region.country_code != self.country_code.data:
            raise ValidationError(_l("Choose a region of the centre's country."))

    def validate_code(self, field):
        existing = db.session.scalar(
            sa.select(Centre.id).where(
                Centre.country_code == self.country_code.data, Centre.code == field.data
            )
        )
        if existing is not None and (self.centre is None or existing != self.centre.id):
            raise ValidationError(_l("This country already has a centre with this code."))

    def centre_fields(self) -> dict:
        return {
            "code": self.code.data,
            "name": self.name.data,
            "country_code": self.country_code.data,
            "region_id": int(self.region_id.data),
            "host_office": self.host_office.data,
            "timezone": self.timezone.data,
            "active": self.active.data,
        }
