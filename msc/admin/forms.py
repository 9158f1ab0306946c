from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from msc.auth.forms import strong_password
from msc.auth.models import User
from msc.centres.models import Centre
from msc.core.db import db
from msc.core.forms import StrippedStringField, VersionedForm, no_control_chars
from msc.core.i18n import locale_self_name
from msc.core.roles import Role


def centre_choices() -> list[tuple[str, str]]:
    centres = db.session.execute(
        sa.select(Centre.id, Centre.country_code, Centre.code, Centre.name).order_by(
            Centre.country_code, Centre.code
        )
    )
    return [("", _l("— none —"))] + [
        (str(c.id), f"{c.country_code}-{c.code} {c.name}") for c in centres
    ]


class UserForm(VersionedForm):
    username = StrippedStringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Length(min=3, max=64),
            Regexp(
                r"^[A-Za-z0-9._-]+$",
                message=_l("Use letters a–z, digits, dot, dash or underscore."),
            ),
        ],
    )
    full_name = StrippedStringField(
        _l("Full name"), validators=[DataRequired(), Length(max=120), no_control_chars]
    )
    email = EmailField(
        _l("Email"), validators=[Optional(), Length(max=254), Email(check_deliverability=False)]
    )
    role = SelectField(_l("Role"), validators=[DataRequired()])
    centre_id = SelectField(
        _l("Centre"),
        description=_l("Required for counsellors and supervisors: they see only this centre."),
    )
    locale = SelectField(_l("Language"), validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), strong_password],
        description=_l("The user must change it at the first login."),
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, obj=user, **kwargs)
        self.user = user
        self.role.choices = [(role.value, role.title) for role in Role]
        self.centre_id.choices = centre_choices()
        self.locale.choices = [("", _l("As set in the browser"))] + [
            (code, locale_self_name(code)) for code in current_app.config["LANGUAGES"]
        ]
        if user is not None:
            del self.password  # an admin resets a password instead of typing one
            if self.centre_id.data is None or self.centre_id.data == "None":
                self.centre_id.data = ""
            self.centre_id.data = str(self.centre_id.data or "")
            self.role.data = (
                self.role.data.value if isinstance(self.role.data, Role) else self.role.data
            )
            self.locale.data = self.locale.data or ""
        else:
            del self.active

    @property
    def username_for_policy(self):
        return self.username.data

    def validate_username(self, field):
        taken = db.session.scalar(sa.select(User.id).where(User.username == field.data.lower()))
        if taken is not None and (self.user is None or taken != self.user.id):
            raise ValidationError(_l("This username is taken."))

    def _editing_self(self) -> bool:
        return self.user is not None and self.user.id == current_user.id

    def validate_role(self, field):
        if self._editing_self() and field.data != self.user.role.value:
            raise ValidationError(_l("You cannot change your own role."))

    def validate_active(self, field):
        if self._editing_self() and not field.data:
            raise ValidationError(_l("You cannot deactivate yourself."))

    def validate_centre_id(self, field):
        role = Role(self.role.data) if self.role.data in set(Role) else None
        if role is not None and role.needs_centre and not field.data:
            raise ValidationError(_l("Counsellors and supervisors need a centre."))

    def user_fields(self) -> dict:
        fields = {
            "username": self.username.data.lower(),
            "full_name": self.full_name.data,
            "email": self.email.data or None,
            "role": Role(self.role.data),
            "centre_id": int(self.centre_id.data) if self.centre_id.data else None,
            "locale": self.locale.data or None,
        }
        if "active" in self:
            fields["active"] = self.active.data
        return fields
