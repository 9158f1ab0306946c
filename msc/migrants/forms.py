"""The profile form (registration and edit), consent forms and the merge form."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
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
    not_in_future,
    valid_year,
)
from msc.migrants.models import MigrantCode

YES_NO_UNKNOWN = [("", _l("Not known")), ("yes", _l("Yes")), ("no", _l("No"))]
STAY_ROWS = 3  # empty rows offered for previous stays abroad (no JavaScript needed)


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def yes_no_value(flag: bool | None) -> str:
    return {True: "yes", False: "no"}.get(flag, "")


def isco_choices(blank):
    # Sub-major groups indented under their major group, so the list reads as a hierarchy.
    isco = codelist("isco08")
    return [("", blank)] + [
        (code, ("— " if len(code) == 2 else "") + f"{code} {isco.label(code)}")
        for code in isco.codes
    ]


class StayForm(Form):
    country_code = SelectField(_l("Country"), validators=[Optional()])
    years = IntegerField(_l("Years"), validators=[Optional(), NumberRange(min=0, max=80)])
    purpose = SelectField(_l("Purpose"), validators=[Optional()])
    regular_status = SelectField(_l("With a regular status"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.regular_status.choices = YES_NO_UNKNOWN

    def validate_years(self, field):
        if self.country_code.data and field.data is None:
            raise ValidationError(_l("How many years?"))


class ProfileForm(VersionedForm):
    given_name = StrippedStringField(
        _l("Given name"),
        validators=[DataRequired(), Length(max=100), no_control_chars],
        description=_l("As the person writes it, in any script."),
    )
    family_name = StrippedStringField(
        _l("Family name"), validators=[DataRequired(), Length(max=100), no_control_chars]
    )
    sex = SelectField(_l("Sex"), validators=[DataRequired()])
    birth_date = DateField(_l("Date of birth"), validators=[Optional(), not_in_future])
    birth_year = IntegerField(
        _l("Year of birth"),
        validators=[Optional(), valid_year()],
        description=_l("Only when the exact date is not known."),
    )
    citizenships = SelectMultipleField(_l("Citizenship(s)"), validators=[DataRequired()])
    birth_country = SelectField(_l("Country of birth"), validators=[Optional()])
    residence_country = SelectField(_l("Country of residence"), validators=[Optional()])
    residence_region_id = SelectField(_l("Region of residence"), validators=[Optional()])
    phone = StrippedStringField(
        _l("Phone"),
        validators=[
            Optional(),
            Length(max=40),
            Regexp(r"^\+?[0-9 ()./-]{5,40}$", message=_l("Use digits, spaces and + ( ) - only.")),
        ],
    )
    email = EmailField(
        _l("Email"), validators=[Optional(), Length(max=254), Email(check_deliverability=False)]
    )
    preferred_language = SelectField(_l("Preferred language"), validators=[DataRequired()])
    languages_spoken = SelectMultipleField(_l("Languages spoken"), validators=[Optional()])
    education = SelectField(_l("Highest education completed (ISCED 2011)"), validators=[Optional()])
    occupation_current = SelectField(
        _l("Current or last occupation (ISCO-08)"), validators=[Optional()]
    )
    occupation_sought = SelectField(_l("Occupation sought (ISCO-08)"), validators=[Optional()])
    labour_status = SelectField(_l("Labour-market status"), validators=[Optional()])
    experience_years = IntegerField(
        _l("Years of work experience"), validators=[Optional(), NumberRange(min=0, max=70)]
    )
    category = SelectField(_l("Migrant category"), validators=[DataRequired()])
    stays = FieldList(FormField(StayForm), label=_l("Previous stays abroad"), min_entries=STAY_ROWS)
    intention = SelectField(_l("Migration intention"), validators=[DataRequired()])
    destinations = SelectMultipleField(
        _l("Intended destination countries"), validators=[Optional()]
    )
    intention_purpose = SelectField(
        _l("Purpose of the intended migration"), validators=[Optional()]
    )
    job_offer = SelectField(_l("Has a job offer abroad"), validators=[Optional()])
    heard_from = SelectField(_l("How they heard of the centre"), validators=[Optional()])
    protection_indicators = MultiCheckboxField(_l("Protection risk signs"), validators=[Optional()])
    notes = TextAreaField(
        _l("Counselling notes"),
        validators=[Optional(), Length(max=20000), no_control_chars],
        description=_l(
            "Restricted: only the case's counsellor and the centre's supervisors see them."
        ),
    )
    submission_token = HiddenField()

    def __init__(self, *args, restricted: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        countries = country_choices_all()
        blank = _l("— choose —")
        self.sex.choices = codelist("sex").choices(blank)
        self.citizenships.choices = countries
        self.birth_country.choices = [("", blank)] + countries
        self.residence_country.choices = [("", blank)] + countries
        regions = db.session.execute(
            sa.select(Region.id, Region.country_code, Region.name).order_by(
                Region.country_code, Region.name
            )
        )
        self.residence_region_id.choices = [("", blank)] + [
            (str(r.id), f"{r.country_code} · {r.name}") for r in regions
        ]
        self.preferred_language.choices = codelist("language").choices(blank)
        self.languages_spoken.choices = codelist("language").choices()
        self.education.choices = codelist("isced").choices(blank)
        self.occupation_current.choices = isco_choices(blank)
        self.occupation_sought.choices = isco_choices(blank)
        self.labour_status.choices = codelist("labour_status").choices(blank)
        self.category.choices = codelist("migrant_category").choices(blank)
        self.intention.choices = codelist("intention").choices(blank)
        self.destinations.choices = countries
        self.intention_purpose.choices = codelist("migration_purpose").choices(blank)
        self.heard_from.choices = codelist("heard_from").choices(blank)
        self.job_offer.choices = YES_NO_UNKNOWN
        self.protection_indicators.choices = codelist("protection_indicator").choices()
        for stay in self.stays:
            stay.country_code.choices = [("", blank)] + countries
            stay.purpose.choices = codelist("stay_purpose").choices(blank)
        if not restricted:
            del self.protection_indicators
            del self.notes

    def validate_birth_year(self, field):
        if self.birth_date.data is None and field.data is None:
            raise ValidationError(
                _l("Enter the date of birth, or the year when the date is not known.")
            )
        if (
            self.birth_date.data is not None
            and field.data is not None
            and field.data != self.birth_date.data.year
        ):
            raise ValidationError(_l("The year differs from the date of birth."))

    def validate_birth_date(self, field):
        if field.data is not None and field.data.year < 1900:
            raise ValidationError(_l("Enter a date after 1900."))

    def validate_residence_region_id(self, field):
        if not field.data:
            return
        region = db.session.get(Region, int(field.data))
        if region is None or region.country_code != self.residence_country.data:
            raise ValidationError(_l("Choose a region of the country of residence."))

    def validate_intention_purpose(self, field):
        if (
            self.intention.data in {"considering", "planning"}
            and not self.destinations.data
            and not field.data
        ):
            raise ValidationError(_l("Give a destination or a purpose for the intended migration."))

    # --- conversion between the form and the model ---------------------------------------

    def profile_fields(self) -> dict:
        fields = {
            "given_name": self.given_name.data,
            "family_name": self.family_name.data,
            "sex": self.sex.data,
            "birth_date": self.birth_date.data,
            "birth_year": self.birth_date.data.year
            if self.birth_date.data
            else self.birth_year.data,
            "birth_country": self.birth_country.data or None,
            "residence_country": self.residence_country.data or None,
            "residence_region_id": int(self.residence_region_id.data)
            if self.residence_region_id.data
            else None,
            "phone": self.phone.data or None,
            "email": self.email.data or None,
            "preferred_language": self.preferred_language.data,
            "education": self.education.data or None,
            "occupation_current": self.occupation_current.data or None,
            "occupation_sought": self.occupation_sought.data or None,
            "labour_status": self.labour_status.data or None,
            "experience_years": self.experience_years.data,
            "category": self.category.data,
            "intention": self.intention.data,
            "intention_purpose": self.intention_purpose.data or None,
            "job_offer": yes_no(self.job_offer.data),
            "heard_from": self.heard_from.data or None,
        }
        if "notes" in self:
            fields["notes"] = self.notes.data or None
            fields["protection_indicators"] = sorted(self.protection_indicators.data or [])
        return fields

    def profile_codes(self) -> dict[str, list[str]]:
        return {
            MigrantCode.CITIZENSHIP: sorted(set(self.citizenships.data or [])),
            MigrantCode.LANGUAGE: sorted(set(self.languages_spoken.data or [])),
            MigrantCode.DESTINATION: sorted(set(self.destinations.data or [])),
        }

    def profile_stays(self) -> list[dict]:
        return [
            {
                "country_code": s.country_code.data,
                "years": s.years.data,
                "purpose": s.purpose.data or "other",
                "regular_status": yes_no(s.regular_status.data),
            }
            for s in self.stays
            if s.country_code.data
        ]

    def fill_from(self, migrant) -> None:
        """Set the fields from a profile (for the edit page)."""
        for name, value in migrant_values(migrant).items():
            if name in self and name != "stays":
                self[name].data = value
        while len(self.stays.entries):
            self.stays.pop_entry()
        for stay in migrant.stays:
            self.stays.append_entry(
                {
                    "country_code": stay.country_code,
                    "years": stay.years,
                    "purpose": stay.purpose,
                    "regular_status": yes_no_value(stay.regular_status),
                }
            )
        for _ in range(STAY_ROWS):
            self.stays.append_entry()
        blank = _l("— choose —")
        for stay in self.stays:
            stay.country_code.choices = [("", blank)] + country_choices_all()
            stay.purpose.choices = codelist("stay_purpose").choices(blank)
        self.version_id.data = migrant.version_id


def migrant_values(migrant) -> dict:
    """A profile's values in the form's terms (used to fill the form and to show conflicts)."""
    return {
        "given_name": migrant.given_name,
        "family_name": migrant.family_name,
        "sex": migrant.sex,
        "birth_date": migrant.birth_date,
        "birth_year": None if migrant.birth_date else migrant.birth_year,
        "citizenships": migrant.coded(MigrantCode.CITIZENSHIP),
        "birth_country": migrant.birth_country or "",
        "residence_country": migrant.residence_country or "",
        "residence_region_id": str(migrant.residence_region_id or ""),
        "phone": migrant.phone,
        "email": migrant.email,
        "preferred_language": migrant.preferred_language,
        "languages_spoken": migrant.coded(MigrantCode.LANGUAGE),
        "education": migrant.education or "",
        "occupation_current": migrant.occupation_current or "",
        "occupation_sought": migrant.occupation_sought or "",
        "labour_status": migrant.labour_status or "",
        "experience_years": migrant.experience_years,
        "category": migrant.category,
        "intention": migrant.intention,
        "destinations": migrant.coded(MigrantCode.DESTINATION),
        "intention_purpose": migrant.intention_purpose or "",
        "job_offer": yes_no_value(migrant.job_offer),
        "heard_from": migrant.heard_from or "",
        "protection_indicators": list(migrant.protection_indicators or []),
        "notes": migrant.notes,
    }


class ConsentForm(FlaskForm):
    """One purpose's legal basis, as recorded at registration or later."""

    purpose = SelectField(_l("Purpose"), validators=[DataRequired()])
    basis = SelectField(_l("Legal basis"), validators=[DataRequired()])
    given_on = DateField(
        _l("Date"), validators=[InputRequired(), not_in_future], default=date.today
    )
    informed_language = SelectField(
        _l("Language in which the person was informed"), validators=[DataRequired()]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.purpose.choices = codelist("consent_purpose").choices(_l("— choose —"))
        self.basis.choices = codelist("legal_basis").choices(_l("— choose —"))
        self.informed_language.choices = codelist("language").choices(_l("— choose —"))


class RegistrationForm(ProfileForm):
    """The profile plus the bases recorded at registration (service provision is required)."""

    service_basis = SelectField(
        _l("Service provision"),
        validators=[
            DataRequired(
                message=_l("A profile cannot be saved without a legal basis for service provision.")
            )
        ],
    )
    referral_basis = SelectField(_l("Referral to partners"), validators=[Optional()])
    statistics_basis = SelectField(_l("Anonymised statistics"), validators=[Optional()])
    follow_up_basis = SelectField(_l("Follow-up contact"), validators=[Optional()])
    consent_date = DateField(
        _l("Date the person was informed"),
        validators=[InputRequired(), not_in_future],
        default=date.today,
    )
    informed_language = SelectField(
        _l("Language in which the person was informed"), validators=[DataRequired()]
    )
    confirm_new_person = BooleanField(_l("This is a different person: register anyway"))

    BASIS_FIELDS = {
        "service": "service_basis",
        "referral": "referral_basis",
        "statistics": "statistics_basis",
        "follow_up": "follow_up_basis",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bases = codelist("legal_basis").choices(_l("— none recorded —"))
        for field_name in self.BASIS_FIELDS.values():
            self[field_name].choices = bases
        self.informed_language.choices = codelist("language").choices(_l("— choose —"))

    def consents(self) -> list[dict]:
        return [
            {
                "purpose": purpose,
                "basis": self[field_name].data,
                "given_on": self.consent_date.data,
                "informed_language": self.informed_language.data,
            }
            for purpose, field_name in self.BASIS_FIELDS.items()
            if self[field_name].data
        ]


class MergeForm(FlaskForm):
    other_case_number = StrippedStringField(
        _l("Case number of the duplicate profile"), validators=[DataRequired(), Length(max=32)]
    )
    confirm = BooleanField(_l("I have checked that both profiles are the same person"))
