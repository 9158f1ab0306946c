"""Profile operations: they change models, flush and write the audit row; the view commits."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from msc.centres.models import Centre
from msc.core import audit
from msc.core.crypto import blind_index
from msc.core.db import db, utcnow
from msc.migrants.models import CaseSequence, Consent, Migrant, MigrantCode, StayAbroad
from msc.migrants.names import search_key, to_latin

# Fields a counsellor edits on the profile form, in form order (restricted ones last).
PROFILE_FIELDS = [
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "birth_year",
    "birth_country",
    "residence_country",
    "residence_region_id",
    "phone",
    "email",
    "preferred_language",
    "education",
    "occupation_current",
    "occupation_sought",
    "labour_status",
    "experience_years",
    "category",
    "intention",
    "intention_purpose",
    "job_offer",
    "heard_from",
]
RESTRICTED_FIELDS = ["protection_indicators", "notes"]
CODE_KINDS = [MigrantCode.CITIZENSHIP, MigrantCode.LANGUAGE, MigrantCode.DESTINATION]


# Phones are matched on their last seven digits: the same whether written with +381, 00381 or the
# national 0 prefix, and enough to tell numbers apart within a centre.
PHONE_MATCH_DIGITS = 7


def phone_index(phone: str | None) -> str | None:
    """The blind index of the phone's last seven digits (the number itself is encrypted)."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return blind_index(digits[-PHONE_MATCH_DIGITS:]) if digits else None


def next_case_number(centre: Centre, year: int) -> str:
    """`<country>-<centre>-<year>-<sequence>`, gapless: the counter row is locked and updated in the
    registering transaction, so a rolled-back registration gives its number back."""
    value = _increment(centre.id, year)
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(CaseSequence(centre_id=centre.id, year=year, last_value=1))
            value = 1
        except IntegrityError:  # another registration made the first number of the year
            value = _increment(centre.id, year)
    return f"{centre.country_code}-{centre.code}-{year}-{value:06d}"


def _increment(centre_id: int, year: int) -> int | None:
    return db.session.execute(
        sa.update(CaseSequence)
        .where(CaseSequence.centre_id == centre_id, CaseSequence.year == year)
        .values(last_value=CaseSequence.last_value + 1)
        .returning(CaseSequence.last_value)
    ).scalar()


def _apply_names(migrant: Migrant) -> None:
    migrant.given_name_latin = to_latin(migrant.given_name)
    migrant.family_name_latin = to_latin(migrant.family_name)
    migrant.name_key = search_key(f"{migrant.family_name} {migrant.given_name}")[:250]
    migrant.phone_index = phone_index(migrant.phone)
    if migrant.birth_date is not None:
        migrant.birth_year = migrant.birth_date.year


def _apply_codes(migrant: Migrant, codes: dict[str, list[str]]) -> bool:
    wanted = {(kind, code) for kind, values in codes.items() for code in values}
    current = {(row.kind, row.code): row for row in migrant.codes}
    for key in set(current) - wanted:
        migrant.codes.remove(current[key])
    for kind, code in sorted(wanted - set(current)):
        migrant.codes.append(MigrantCode(kind=kind, code=code))
    return wanted != set(current)


def _apply_stays(migrant: Migrant, stays: list[dict]) -> bool:
    before = [(s.country_code, s.years, s.purpose, s.regular_status) for s in migrant.stays]
    after = [(s["country_code"], s["years"], s["purpose"], s["regular_status"]) for s in stays]
    if before == after:
        return False
    migrant.stays.clear()
    for stay in stays:
        migrant.stays.append(StayAbroad(**stay))
    return True


def register(
    centre: Centre,
    fields: dict,
    codes: dict[str, list[str]],
    stays: list[dict],
    consents: list[dict],
    submission_token: str | None,
) -> Migrant:
    if not any(c["purpose"] == "service" for c in consents):
        raise ValueError("a profile needs a recorded basis for service provision")
    year = utcnow().year
    migrant = Migrant(
        centre_id=centre.id,
        counsellor_id=current_user.id,
        created_by_id=current_user.id,
        case_number=next_case_number(centre, year),
        submission_token=submission_token,
        codes=[],
        stays=[],
        **fields,
    )
    _apply_names(migrant)
    _apply_codes(migrant, codes)
    _apply_stays(migrant, stays)
    db.session.add(migrant)
    db.session.flush()
    for consent in consents:
        record_consent(migrant, **consent, audited=False)
    audit.record("migrant.created", migrant)
    return migrant


def update(
    migrant: Migrant, fields: dict, codes: dict[str, list[str]], stays: list[dict]
) -> list[str]:
    """Apply the form; returns the names of what changed (audited without values)."""
    changed = [name for name, value in fields.items() if getattr(migrant, name) != value]
    for name in changed:
        setattr(migrant, name, fields[name])
    _apply_names(migrant)
    if _apply_codes(migrant, codes):
        changed.append("codes")
    if _apply_stays(migrant, stays):
        changed.append("stays_abroad")
    if changed:
        migrant.updated_at = utcnow()  # a change of codes alone still bumps the version
        audit.record("migrant.updated", migrant, fields=changed)
    return changed


def record_consent(
    migrant: Migrant,
    *,
    purpose: str,
    basis: str,
    given_on: date,
    informed_language: str,
    audited: bool = True,
) -> Consent:
    consent = Consent(
        migrant_id=migrant.id,
        purpose=purpose,
        basis=basis,
        given_on=given_on,
        informed_language=informed_language,
        recorded_by_id=current_user.id,
    )
    db.session.add(consent)
    if audited:
        audit.record("consent.recorded", consent, centre_id=migrant.centre_id)
    return consent


def withdraw_consent(consent: Consent, migrant: Migrant, withdrawn_on: date) -> None:
    consent.withdrawn_on = withdrawn_on
    consent.withdrawn_by_id = current_user.id
    audit.record("consent.withdrawn", consent, centre_id=migrant.centre_id)


def merge(survivor: Migrant, duplicate: Migrant) -> None:
    """Move everything of `duplicate` to `survivor`; the duplicate becomes a tombstone."""
    from msc.visits.models import Visit, group_session_attendee

    db.session.execute(
        sa.update(Visit).where(Visit.migrant_id == duplicate.id).values(migrant_id=survivor.id)
    )
    db.session.execute(
        sa.update(Consent).where(Consent.migrant_id == duplicate.id).values(migrant_id=survivor.id)
    )
    attended = sa.select(group_session_attendee.c.group_session_id).where(
        group_session_attendee.c.migrant_id == survivor.id
    )
    db.session.execute(
        sa.update(group_session_attendee)
        .where(
            group_session_attendee.c.migrant_id == duplicate.id,
            group_session_attendee.c.group_session_id.not_in(attended),
        )
        .values(migrant_id=survivor.id)
    )
    db.session.execute(
        sa.delete(group_session_attendee).where(group_session_attendee.c.migrant_id == duplicate.id)
    )
    for hook in MERGE_HOOKS:
        hook(survivor, duplicate)
    duplicate.merged_into_id = survivor.id
    duplicate.merged_at = utcnow()
    duplicate.submission_token = None
    survivor.updated_at = utcnow()
    audit.record("migrant.merged", duplicate)
    audit.record("migrant.merge_survivor", survivor)


# Later features (referrals) register what else moves to the survivor.
MERGE_HOOKS: list = []
