from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from msc.auth.models import User
from msc.core.codelists import codelist, country_choices_all
from msc.core.db import db
from msc.core.forms import (
    LocalDateTimeField,
    MultiCheckboxField,
    StrippedStringField,
    no_control_chars,
    not_in_future,
)
from msc.core.roles import Role
from msc.migrants.models import Migrant


def at_least_one_topic(_form, field):
    if not field.data:
        raise ValidationError(_l("Choose at least one topic."))


class VisitForm(FlaskForm):
    occurred_at = LocalDateTimeField(
        _l("Date and time"), validators=[InputRequired(), not_in_future]
    )
    mode = SelectField(_l("Mode"), validators=[DataRequired()])
    duration_minutes = IntegerField(
        _l("Duration (minutes)"), validators=[InputRequired(), NumberRange(min=1, max=600)]
    )
    topics = MultiCheckboxField(_l("Topics"), validators=[at_least_one_topic])
    material = StrippedStringField(
        _l("Information material given"), validators=[Optional(), Length(max=500), no_control_chars]
    )
    notes = TextAreaField(
        _l("Counselling notes"),
        validators=[Optional(), Length(max=20000), no_control_chars],
        description=_l(
            "Restricted: only the case's counsellor and the centre's supervisors see them."
        ),
    )
    follow_up_on = DateField(_l("Next follow-up"), validators=[Optional()])
    submission_token = HiddenField()

    def __init__(self, *args, restricted: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode.choices = codelist("visit_mode").choices(_l("— choose —"))
        self.topics.choices = codelist("visit_topic").choices()
        if not restricted:
            del self.notes

    def validate_follow_up_on(self, field):
        if field.data and self.occurred_at.data and field.data < self.occurred_at.data.date():
            raise ValidationError(_l("The follow-up cannot be before the visit."))


SEXES = ["F", "M", "O", "U"]


class GroupSessionForm(FlaskForm):
    occurred_on = DateField(_l("Date"), validators=[InputRequired(), not_in_future])
    title = StrippedStringField(
        _l("Title"), validators=[DataRequired(), Length(max=200), no_control_chars]
    )
    venue = StrippedStringField(
        _l("Venue"), validators=[DataRequired(), Length(max=200), no_control_chars]
    )
    topics = MultiCheckboxField(_l("Topics"), validators=[at_least_one_topic])
    facilitators = SelectMultipleField(_l("Facilitators"), validators=[DataRequired()])
    attendees = TextAreaField(
        _l("Registered participants"),
        validators=[Optional(), Length(max=20000)],
        description=_l("Case numbers, one per line or separated by commas."),
    )
    submission_token = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.topics.choices = codelist("visit_topic").choices()
        staff = db.session.execute(
            sa.select(User.id, User.full_name)
            .where(
                User.centre_id == current_user.centre_id,
                User.active,
                User.role.in_([Role.COUNSELLOR, Role.SUPERVISOR]),
            )
            .order_by(User.full_name)
        )
        self.facilitators.choices = [(str(u.id), u.full_name) for u in staff]
        self.resolved_attendees: list[Migrant] = []

    def headcount_fields(self):
        """The head-count grid: one number per sex and age band, read from the raw form."""
        return [
            (sex, band, f"count_{sex}_{band}")
            for sex in SEXES
            for band in codelist("age_band").codes
        ]

    def validate_attendees(self, field):
        numbers = sorted(
            {n.strip().upper() for n in re.split(r"[\s,;،؛]+", field.data or "") if n.strip()}
        )
        if not numbers:
            return
        found = db.session.scalars(
            sa.select(Migrant).where(
                Migrant.case_number.in_(numbers),
                Migrant.centre_id == current_user.centre_id,
                Migrant.merged_into_id.is_(None),
            )
        ).all()
        missing = sorted(set(numbers) - {m.case_number for m in found})
        if missing:
            raise ValidationError(
                _l(
                    "No profile of this centre has the case number(s): %(numbers)s",
                    numbers=", ".join(missing[:10]),
                )
            )
        self.resolved_attendees = list(found)


class WalkInForm(FlaskForm):
    occurred_at = LocalDateTimeField(
        _l("Date and time"), validators=[InputRequired(), not_in_future]
    )
    sex = SelectField(_l("Sex"), validators=[DataRequired()])
    age_band = SelectField(_l("Age band"), validators=[DataRequired()])
    citizenship = SelectField(_l("Citizenship"), validators=[Optional()])
    topics = MultiCheckboxField(_l("Topics"), validators=[at_least_one_topic])
    submission_token = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sex.choices = codelist("sex").choices(_l("— choose —"))
        self.age_band.choices = codelist("age_band").choices(_l("— choose —"))
        self.citizenship.choices = country_choices_all(_l("Not known"))
        self.topics.choices = codelist("visit_topic").choices()
