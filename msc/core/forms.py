"""Form helpers shared by every feature."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


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


class MultiCheckboxField(SelectMultipleField):
    """A multi-select shown as a list of checkboxes (easier than <select multiple> for everyone)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def submission_token() -> str:
    """A one-time token for a creating form: a second post of the same form creates nothing."""
    return uuid.uuid4().hex


class LocalDateTimeField(DateTimeLocalField):
    """A local date and time typed in the centre's time zone (an <input type=datetime-local>)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
        super().__init__(*args, **kwargs)


def valid_year(minimum: int = 1900):
    def check(_form, field):
        if field.data is not None and not minimum <= field.data <= date.today().year:
            raise ValidationError(
                _l(
                    "Enter a year between %(low)d and %(high)d.",
                    low=minimum,
                    high=date.today().year,
                )
            )

    return check


def not_in_future(_form, field):
    value = field.data
    if isinstance(value, datetime):
        value = value.date()
    if value is not None and value > date.today() + timedelta(days=1):
        raise ValidationError(_l("This date is in the future."))
