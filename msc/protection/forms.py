"""Forms of the data-protection pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import AnyOf, DataRequired, Length

from msc.core.forms import StrippedStringField


class LegalHoldForm(FlaskForm):
    hold = HiddenField(validators=[AnyOf(["on", "off"])])


class ErasureForm(FlaskForm):
    case_number = StrippedStringField(
        _l("Type the case number to confirm"), validators=[DataRequired(), Length(max=32)]
    )
    confirm = BooleanField(
        _l("The person asked for erasure and no legal obligation requires keeping the data"),
        validators=[DataRequired(message=_l("Tick the confirmation to erase."))],
    )
