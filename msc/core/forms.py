"""Form helpers shared by every feature."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, ValidationError


class StrippedStringField(StringField):
    """Text with surrounding white space removed; NUL bytes are refused by `no_control_chars`."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = self.data.strip()


def no_control_chars(_form, field):
    value = field.data or ""
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValidationError(_l("This field contains characters that are not allowed."))


class VersionedForm(FlaskForm):
    """Carries the record's version, so a stale edit can be refused (optimistic locking)."""

    version_id = HiddenField()

    def submitted_version(self) -> int | None:
        try:
            return int(self.version_id.data)
        except (TypeError, ValueError):
            return None


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), validators=[DataRequired()])
    next = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from msc.core.i18n import locale_choices

        self.locale.choices = locale_choices()
        if self.locale.data not in current_app.config["LANGUAGES"]:
            self.locale.data = None
