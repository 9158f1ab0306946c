from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from msc.centres.models import Region
from msc.core.codelists import codelist, country_choices_all
from msc.core.db import db
from msc.core.forms import (
    MultiCheckboxField,
    StrippedStringField,
    VersionedForm,
    no_control_chars,
)
from msc.core.i18n import country_name
from msc.core.timezones import local_today
from msc.migrants.forms import isco_choices
from msc.referrals.models import Channel, LocalOption, Partner

DEFAULT_SHARED = ["name", "birth", "language"]


def target_choices(country_code: str) -> list[tuple[str, str]]:
    """Partners, channels and local options in one list: values like "partner:12"."""
    partners = db.session.execute(
        sa.select(Partner.id, Partner.name).where(Partner.active).order_by(Partner.name)
    ).all()
    channels = db.session.execute(
        sa.select(Channel.id, Channel.name, Channel.destination)
        .where(Channel.active)
        .order_by(Channel.name)
    ).all()
    options = db.session.execute(
        sa.select(LocalOption.id, LocalOption.title)
        .where(LocalOption.active, LocalOption.country_code == country_code)
        .order_by(LocalOption.title)
    ).all()
    return (
        [("", _l("— choose —"))]
        + [(f"partner:{p.id}", _("Partner: %(name)s", name=p.name)) for p in partners]
        + [
            (
                f"channel:{c.id}",
                _(
                    "Channel: %(name)s (%(country)s)",
                    name=c.name,
                    country=country_name(c.destination),
                ),
            )
            for c in channels
        ]
        + [(f"option:{o.id}", _("Local option: %(name)s", name=o.title)) for o in options]
    )


class ReferralForm(VersionedForm):
    category = SelectField(_l("Category"), validators=[DataRequired()])
    target = SelectField(_l("Refer to"), validators=[DataRequired()])
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(), Length(max=5000), no_control_chars]
    )
    urgency = SelectField(_l("Urgency"), validators=[DataRequired()], default="normal")
    shared_fields = MultiCheckboxField(
        _l("Personal data shared with the recipient"),
        description=_l("Share only what the recipient needs. The name is always shared."),
    )
    due_on = DateField(
        _l("Follow up by"),
        validators=[Optional()],
        description=_l("Leave empty for the usual time of the category."),
    )
    submission_token = HiddenField()

    def __init__(self, *args, country_code: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = codelist("referral_category").choices(_l("— choose —"))
        self.target.choices = target_choices(country_code)
        self.urgency.choices = codelist("urgency").choices()
        self.shared_fields.choices = codelist("shared_field").choices()

    def validate_due_on(self, field):
        if field.data and field.data < local_today():
            raise ValidationError(_l("The follow-up date cannot be in the past."))

    def referral_fields(self) -> dict:
        kind, _sep, target_id = self.target.data.partition(":")
        due = self.due_on.data or local_today() + timedelta(
            days=current_app.config["REFERRAL_FOLLOW_UP_DAYS"].get(self.category.data, 30)
        )
        return {
            "category": self.category.data,
            "partner_id": int(target_id) if kind == "partner" else None,
            "channel_id": int(target_id) if kind == "channel" else None,
            "local_option_id": int(target_id) if kind == "option" else None,
            "reason": self.reason.data,
            "urgency": self.urgency.data,
            "shared_fields": sorted(set(self.shared_fields.data or []) | {"name"}),
            "due_on": due,
        }

    def fill_from(self, referral) -> None:
        self.category.data = referral.category
        if referral.partner_id:
            self.target.data = f"partner:{referral.partner_id}"
        elif referral.channel_id:
            self.target.data = f"channel:{referral.channel_id}"
        elif referral.local_option_id:
            self.target.data = f"option:{referral.local_option_id}"
        self.reason.data = referral.reason
        self.urgency.data = referral.urgency
        self.shared_fields.data = list(referral.shared_fields)
        self.due_on.data = referral.due_on
        self.version_id.data = referral.version_id


class ActionForm(VersionedForm):
    comment = TextAreaField(
        _l("Comment"), validators=[Optional(), Length(max=5000), no_control_chars]
    )
    outcome = SelectField(_l("Outcome"), validators=[Optional()])
    vital_interest = BooleanField(_l("The person's vital interest requires sending it now"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome.choices = codelist("referral_outcome").choices(_l("— choose —"))


def _regions(country_code: str | None = None):
    statement = sa.select(Region.id, Region.country_code, Region.name).order_by(
        Region.country_code, Region.name
    )
    return [(str(r.id), f"{r.country_code} · {r.name}") for r in db.session.execute(statement)]


class PartnerForm(VersionedForm):
    name = StrippedStringField(
        lazy_pgettext("organisation", "Name"),
        validators=[DataRequired(), Length(max=200), no_control_chars],
    )
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    country_code = SelectField(_l("Country"), validators=[DataRequired()])
    services = MultiCheckboxField(_l("Services offered"), validators=[DataRequired()])
    countries_served = SelectMultipleField(_l("Countries served"), validators=[Optional()])
    regions_served = SelectMultipleField(
        _l("Regions served"),
        validators=[Optional()],
        description=_l("Leave empty when it serves the whole country."),
    )
    contact_person = StrippedStringField(
        _l("Contact person"), validators=[Optional(), Length(max=120), no_control_chars]
    )
    phone = StrippedStringField(
        _l("Phone"), validators=[Optional(), Length(max=40), no_control_chars]
    )
    email = EmailField(
        _l("Email"), validators=[Optional(), Length(max=254), Email(check_deliverability=False)]
    )
    address = StrippedStringField(
        _l("Address"), validators=[Optional(), Length(max=300), no_control_chars]
    )
    website = StrippedStringField(
        _l("Website"), validators=[Optional(), Length(max=300), URL(require_tld=True)]
    )
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        countries = country_choices_all()
        self.kind.choices = codelist("partner_kind").choices(_l("— choose —"))
        self.country_code.choices = [("", _l("— choose —"))] + countries
        self.services.choices = codelist("partner_service").choices()
        self.countries_served.choices = countries
        self.regions_served.choices = _regions()

    def fields(self) -> dict:
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "country_code": self.country_code.data,
            "services": sorted(self.services.data),
            "countries_served": sorted(self.countries_served.data or []),
            "regions_served": sorted(int(r) for r in self.regions_served.data or []),
            "contact_person": self.contact_person.data or None,
            "phone": self.phone.data or None,
            "email": self.email.data or None,
            "address": self.address.data or None,
            "website": self.website.data or None,
            "active": self.active.data,
        }

    def fill_from(self, partner) -> None:
        for name, value in partner_values(partner).items():
            self[name].data = value
        self.version_id.data = partner.version_id


def partner_values(partner) -> dict:
    return {
        "name": partner.name,
        "kind": partner.kind,
        "country_code": partner.country_code,
        "services": list(partner.services),
        "countries_served": list(partner.countries_served),
        "regions_served": [str(r) for r in partner.regions_served],
        "contact_person": partner.contact_person,
        "phone": partner.phone,
        "email": partner.email,
        "address": partner.address,
        "website": partner.website,
        "active": partner.active,
    }


class ChannelForm(VersionedForm):
    destination = SelectField(_l("Destination country"), validators=[DataRequired()])
    name = StrippedStringField(
        lazy_pgettext("organisation", "Name"),
        validators=[DataRequired(), Length(max=200), no_control_chars],
    )
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    occupations = SelectMultipleField(
        _l("Open to occupations (ISCO-08)"),
        validators=[Optional()],
        description=_l("Leave empty when it is open to every occupation."),
    )
    requirements = TextAreaField(
        _l("Requirements"), validators=[Optional(), Length(max=10000), no_control_chars]
    )
    how_to_apply = TextAreaField(
        _l("How to apply"), validators=[Optional(), Length(max=10000), no_control_chars]
    )
    partner_id = SelectField(_l("Contact partner"), validators=[Optional()])
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_to = DateField(_l("Valid until"), validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.destination.choices = [("", _l("— choose —"))] + country_choices_all()
        self.kind.choices = codelist("channel_kind").choices(_l("— choose —"))
        self.occupations.choices = isco_choices(None)[1:]
        partners = db.session.execute(
            sa.select(Partner.id, Partner.name).order_by(Partner.name)
        ).all()
        self.partner_id.choices = [("", _l("— none —"))] + [(str(p.id), p.name) for p in partners]

    def validate_valid_to(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_l("The end cannot be before the start."))

    def fields(self) -> dict:
        return {
            "destination": self.destination.data,
            "name": self.name.data,
            "kind": self.kind.data,
            "occupations": sorted(self.occupations.data or []),
            "requirements": self.requirements.data or None,
            "how_to_apply": self.how_to_apply.data or None,
            "partner_id": int(self.partner_id.data) if self.partner_id.data else None,
            "valid_from": self.valid_from.data,
            "valid_to": self.valid_to.data,
            "active": self.active.data,
        }

    def fill_from(self, channel) -> None:
        self.destination.data = channel.destination
        self.name.data = channel.name
        self.kind.data = channel.kind
        self.occupations.data = list(channel.occupations)
        self.requirements.data = channel.requirements
        self.how_to_apply.data = channel.how_to_apply
        self.partner_id.data = str(channel.partner_id or "")
        self.valid_from.data = channel.valid_from
        self.valid_to.data = channel.valid_to
        self.active.data = channel.active
        self.version_id.data = channel.version_id


class LocalOptionForm(VersionedForm):
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    title = StrippedStringField(
        _l("Title"), validators=[DataRequired(), Length(max=200), no_control_chars]
    )
    provider = StrippedStringField(
        _l("Employer or provider"), validators=[Optional(), Length(max=200), no_control_chars]
    )
    occupation = SelectField(_l("Occupation (ISCO-08)"), validators=[Optional()])
    region_id = SelectField(
        _l("Region"), validators=[Optional()], description=_l("Empty: nationwide.")
    )
    closing_on = DateField(_l("Closing date"), validators=[Optional()])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=10000), no_control_chars]
    )
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, country_code: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.country_code = country_code
        self.kind.choices = codelist("local_option_kind").choices(_l("— choose —"))
        self.occupation.choices = isco_choices(_l("— any —"))
        regions = db.session.execute(
            sa.select(Region.id, Region.name)
            .where(Region.country_code == country_code)
            .order_by(Region.name)
        ).all()
        self.region_id.choices = [("", _l("Nationwide"))] + [(str(r.id), r.name) for r in regions]

    def fields(self) -> dict:
        return {
            "kind": self.kind.data,
            "title": self.title.data,
            "provider": self.provider.data or None,
            "occupation": self.occupation.data or None,
            "region_id": int(self.region_id.data) if self.region_id.data else None,
            "closing_on": self.closing_on.data,
            "description": self.description.data or None,
            "active": self.active.data,
        }

    def fill_from(self, option) -> None:
        self.kind.data = option.kind
        self.title.data = option.title
        self.provider.data = option.provider
        self.occupation.data = option.occupation or ""
        self.region_id.data = str(option.region_id or "")
        self.closing_on.data = option.closing_on
        self.description.data = option.description
        self.active.data = option.active
        self.version_id.data = option.version_id


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])
    country_code = SelectField(_l("Country"), validators=[InputRequired()])

    def __init__(self, *args, countries: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.country_code.choices = countries
