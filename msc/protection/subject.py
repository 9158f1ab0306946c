"""Subject access (GDPR art. 15): everything held about one person, and who read it."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from msc.core.audit import AuditEvent
from msc.core.db import db, utcnow
from msc.migrants.models import Migrant
from msc.referrals.models import Referral
from msc.visits.models import GroupSession, Visit, group_session_attendee

# Technical columns that say nothing about the person (keys derived from other fields).
HIDDEN = {"phone_index", "name_key", "submission_token", "version_id"}


def _row(obj, exclude=()) -> dict:
    return {
        column.name: _plain(getattr(obj, column.key))
        for column in obj.__table__.columns
        if column.name not in HIDDEN and column.name not in exclude
    }


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def access_log(migrant_id: int, limit: int | None = None) -> list[AuditEvent]:
    """Audit rows about the profile and its referrals (reads, prints, exports, changes), newest
    first; one query."""
    referral_ids = sa.select(sa.cast(Referral.id, sa.String)).where(
        Referral.migrant_id == migrant_id
    )
    query = (
        sa.select(AuditEvent)
        .where(
            sa.or_(
                sa.and_(
                    AuditEvent.object_type == "migrant", AuditEvent.object_id == str(migrant_id)
                ),
                sa.and_(
                    AuditEvent.object_type == "referral", AuditEvent.object_id.in_(referral_ids)
                ),
            )
        )
        .options(joinedload(AuditEvent.user))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def subject_record(migrant: Migrant) -> dict:
    """The whole record as plain data: the page shows it and the JSON file holds it."""
    migrant = db.session.scalars(
        sa.select(Migrant)
        .where(Migrant.id == migrant.id)
        .options(
            selectinload(Migrant.codes), selectinload(Migrant.stays), selectinload(Migrant.consents)
        )
        .execution_options(populate_existing=True)
    ).one()
    visits = db.session.scalars(
        sa.select(Visit)
        .where(Visit.migrant_id == migrant.id)
        .options(selectinload(Visit.topic_rows), joinedload(Visit.counsellor))
        .order_by(Visit.occurred_at)
    ).all()
    referrals = db.session.scalars(
        sa.select(Referral)
        .where(Referral.migrant_id == migrant.id)
        .options(
            joinedload(Referral.partner),
            joinedload(Referral.channel),
            joinedload(Referral.local_option),
            selectinload(Referral.events),
        )
        .order_by(Referral.id)
    ).all()
    sessions = db.session.scalars(
        sa.select(GroupSession)
        .join(group_session_attendee)
        .where(group_session_attendee.c.migrant_id == migrant.id)
        .order_by(GroupSession.occurred_on)
    ).all()
    return {
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "profile": _row(migrant),
        "coded": {kind: migrant.coded(kind) for kind in ("citizenship", "language", "destination")},
        "stays_abroad": [_row(stay, exclude={"migrant_id"}) for stay in migrant.stays],
        "consents": [_row(consent, exclude={"migrant_id"}) for consent in migrant.consents],
        "visits": [
            _row(visit, exclude={"migrant_id", "topic_set"})  # its topics as bits: listed below
            | {"topics": visit.topics, "counsellor": visit.counsellor.full_name}
            for visit in visits
        ],
        "referrals": [
            _row(referral, exclude={"migrant_id"})
            | {
                "recipient": _recipient(referral),
                "events": [_row(event, exclude={"referral_id"}) for event in referral.events],
            }
            for referral in referrals
        ],
        "group_sessions": [
            {"occurred_on": s.occurred_on.isoformat(), "title": s.title, "venue": s.venue}
            for s in sessions
        ],
        "access_log": [
            {
                "occurred_at": event.occurred_at.isoformat(timespec="seconds"),
                "user": event.user.full_name if event.user else None,
                "action": event.action,
                "object": f"{event.object_type} {event.object_id}",
            }
            for event in access_log(migrant.id)
        ],
    }


def _recipient(referral: Referral) -> str | None:
    for target in (referral.partner, referral.channel, referral.local_option):
        if target is not None:
            return getattr(target, "name", None) or getattr(target, "title", None)
    return None
