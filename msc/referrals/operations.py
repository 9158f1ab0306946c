"""Referral operations: every state change goes through `transition`, which checks the table,
the role, the centre, the four-eyes rule and the legal basis, then writes an event and an audit
row."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_login import current_user

from msc.core import audit
from msc.core.codelists import codelist
from msc.core.db import db, utcnow
from msc.core.roles import Role
from msc.migrants.models import Consent, Migrant
from msc.referrals.models import Referral, ReferralEvent
from msc.referrals.workflow import ACTIONS, FINAL_STATES, REVIEW_ACTIONS, next_state


class TransitionRefused(Exception):
    """The action is not allowed now; nothing was changed (answered with 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def active_referral_consent(migrant_id: int) -> Consent | None:
    return db.session.scalar(
        sa.select(Consent)
        .where(
            Consent.migrant_id == migrant_id,
            Consent.purpose == "referral",
            Consent.withdrawn_on.is_(None),
        )
        .order_by(Consent.id.desc())
        .limit(1)
    )


def _event(
    referral: Referral, action: str, before: str | None, after: str, comment: str | None
) -> None:
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            user_id=current_user.id,
            occurred_at=utcnow(),
            action=action,
            from_status=before,
            to_status=after,
            comment=comment or None,
        )
    )


def create(migrant: Migrant, fields: dict, token: str | None) -> Referral:
    referral = Referral(
        migrant_id=migrant.id,
        centre_id=migrant.centre_id,
        created_by_id=current_user.id,
        status="draft",
        submission_token=token,
        **fields,
    )
    db.session.add(referral)
    db.session.flush()
    _event(referral, "create", None, "draft", None)
    audit.record("referral.created", referral)
    return referral


def update(referral: Referral, fields: dict) -> list[str]:
    if referral.status not in {"draft", "returned"}:
        raise TransitionRefused(_("Only a draft or a returned referral can be changed."))
    if referral.status == "returned":
        transition(referral, "revise")
    changed = [name for name, value in fields.items() if getattr(referral, name) != value]
    for name in changed:
        setattr(referral, name, fields[name])
    if changed:
        audit.record("referral.updated", referral, fields=changed)
    return changed


def transition(
    referral: Referral,
    action: str,
    *,
    comment: str | None = None,
    outcome: str | None = None,
    vital_interest: bool = False,
) -> str:
    """Move the referral by `action`, or raise TransitionRefused and change nothing."""
    definition = ACTIONS.get(action)
    if definition is None:
        raise TransitionRefused(_("Unknown action."))
    before = referral.status
    after = next_state(before, action)
    state_label = codelist("referral_status").label(before)
    if after is None:
        raise TransitionRefused(
            _(
                "“%(action)s” is not possible for a referral in the state “%(state)s”.",
                action=definition.title,
                state=state_label,
            )
        )
    if current_user.role not in definition.roles:
        raise TransitionRefused(_("Your role cannot do “%(action)s”.", action=definition.title))
    if current_user.centre_id != referral.centre_id:
        raise TransitionRefused(_("Only staff of the case's centre can act on this referral."))
    if action in REVIEW_ACTIONS and referral.created_by_id == current_user.id:
        raise TransitionRefused(
            _("Nobody reviews their own referral; another supervisor must do it.")
        )
    comment = (comment or "").strip()
    if definition.needs == "comment" and not comment:
        raise TransitionRefused(_("Please give a reason or comment."))
    if definition.needs == "outcome" and outcome not in codelist("referral_outcome"):
        raise TransitionRefused(_("Please choose the outcome."))
    if action == "submit":
        consent = active_referral_consent(referral.migrant_id)
        if consent is None:
            raise TransitionRefused(
                _(
                    "There is no recorded legal basis for referral to partners. "
                    "Record it on the case page first."
                )
            )
        referral.consent_id = consent.id
        referral.submitted_at = utcnow()
    if action == "send_urgent":
        _send_urgent(referral, vital_interest)
    if action in {"send", "send_urgent"}:
        referral.sent_at = utcnow()
    if action == "complete":
        referral.outcome = outcome
    if action == "decline":
        referral.outcome = None
    referral.status = after
    if after in FINAL_STATES:
        referral.closed_at = utcnow()
    _event(referral, action, before, after, comment)
    audit.record(f"referral.{action}", referral)
    return after


def _send_urgent(referral: Referral, vital_interest: bool) -> None:
    if referral.category != "protection" or referral.urgency != "urgent":
        raise TransitionRefused(_("Only an urgent protection referral can be sent before review."))
    consent = active_referral_consent(referral.migrant_id)
    if consent is None:
        if not vital_interest:
            raise TransitionRefused(
                _(
                    "Without consent to referral, confirm that the person's vital "
                    "interest requires it."
                )
            )
        migrant = db.session.get(Migrant, referral.migrant_id)
        consent = Consent(
            migrant_id=migrant.id,
            purpose="referral",
            basis="vital_interest",
            given_on=utcnow().date(),
            informed_language=migrant.preferred_language,
            recorded_by_id=current_user.id,
        )
        db.session.add(consent)
        db.session.flush()
        audit.record("consent.recorded", consent, centre_id=migrant.centre_id)
    referral.consent_id = consent.id
    referral.needs_review = True  # the supervisors see it at the top of their queue


def confirm_review(referral: Referral, comment: str | None) -> None:
    """A supervisor's review, after the fact, of an urgent referral that was sent at once."""
    if not referral.needs_review:
        raise TransitionRefused(_("This referral does not wait for a review."))
    if current_user.role != Role.SUPERVISOR or current_user.centre_id != referral.centre_id:
        raise TransitionRefused(_("Only a supervisor of the case's centre reviews it."))
    referral.needs_review = False
    _event(referral, "review", referral.status, referral.status, comment)
    audit.record("referral.reviewed", referral)


def move_referrals(survivor: Migrant, duplicate: Migrant) -> None:
    db.session.execute(
        sa.update(Referral)
        .where(Referral.migrant_id == duplicate.id)
        .values(migrant_id=survivor.id)
    )
