"""Reading visits: the case timeline, follow-ups, the counsellor's day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from msc.core.db import db
from msc.migrants.models import Migrant
from msc.visits.models import GroupSession, Visit, WalkIn, group_session_attendee


@dataclass
class TimelineEvent:
    kind: str  # "visit", "group_session" (later features add "referral")
    when: datetime | date
    item: object

    @property
    def sort_key(self) -> str:
        return self.when.isoformat()


# Later features add their events: functions of (migrant) -> list[TimelineEvent].
TIMELINE_SOURCES: list = []


def timeline(migrant: Migrant) -> list[TimelineEvent]:
    visits = db.session.scalars(
        sa.select(Visit)
        .where(Visit.migrant_id == migrant.id)
        .options(selectinload(Visit.topic_rows), joinedload(Visit.counsellor))
    ).all()
    sessions = db.session.scalars(
        sa.select(GroupSession)
        .join(group_session_attendee, group_session_attendee.c.group_session_id == GroupSession.id)
        .where(group_session_attendee.c.migrant_id == migrant.id)
        .options(selectinload(GroupSession.topic_rows))
    ).all()
    events = [TimelineEvent("visit", v.occurred_at, v) for v in visits]
    events += [TimelineEvent("group_session", s.occurred_on, s) for s in sessions]
    for source in TIMELINE_SOURCES:
        events += source(migrant)
    return sorted(events, key=lambda event: event.sort_key, reverse=True)


def follow_ups_for(migrant: Migrant, today: date) -> list[Visit]:
    return list(
        db.session.scalars(
            sa.select(Visit)
            .where(
                Visit.migrant_id == migrant.id,
                Visit.follow_up_on.is_not(None),
                Visit.follow_up_done.is_(False),
            )
            .order_by(Visit.follow_up_on)
        )
    )


def todays_visits(centre_id: int, start: datetime, end: datetime, limit: int = 50) -> list[Visit]:
    return list(
        db.session.scalars(
            sa.select(Visit)
            .where(
                Visit.centre_id == centre_id,
                Visit.counsellor_id == current_user.id,
                Visit.occurred_at >= start,
                Visit.occurred_at < end,
            )
            .options(joinedload(Visit.migrant_row), selectinload(Visit.topic_rows))
            .order_by(Visit.occurred_at)
            .limit(limit)
        )
    )


def due_follow_ups(
    centre_id: int, today: date, counsellor_id: int | None, limit: int = 50
) -> list[Visit]:
    """Follow-ups due today or overdue, for one counsellor's cases or the whole centre."""
    statement = (
        sa.select(Visit)
        .join(Migrant, Migrant.id == Visit.migrant_id)
        .where(
            Visit.centre_id == centre_id,
            Visit.follow_up_done.is_(False),
            Visit.follow_up_on <= today,
            Migrant.merged_into_id.is_(None),
        )
        .options(joinedload(Visit.migrant_row))
        .order_by(Visit.follow_up_on)
        .limit(limit)
    )
    if counsellor_id is not None:
        statement = statement.where(Migrant.counsellor_id == counsellor_id)
    return list(db.session.scalars(statement))


def recent_cases(centre_id: int, counsellor_id: int, limit: int = 10) -> list[Migrant]:
    return list(
        db.session.scalars(
            sa.select(Migrant)
            .where(
                Migrant.centre_id == centre_id,
                Migrant.counsellor_id == counsellor_id,
                Migrant.merged_into_id.is_(None),
            )
            .order_by(Migrant.updated_at.desc())
            .limit(limit)
        )
    )


def recent_group_sessions(centre_id: int, limit: int = 50) -> list[GroupSession]:
    return list(
        db.session.scalars(
            sa.select(GroupSession)
            .where(GroupSession.centre_id == centre_id)
            .options(
                selectinload(GroupSession.topic_rows),
                selectinload(GroupSession.headcounts),
                selectinload(GroupSession.attendees),
            )
            .order_by(GroupSession.occurred_on.desc(), GroupSession.id.desc())
            .limit(limit)
        )
    )


def recent_walk_ins(centre_id: int, since: datetime, limit: int = 100) -> list[WalkIn]:
    return list(
        db.session.scalars(
            sa.select(WalkIn)
            .where(WalkIn.centre_id == centre_id, WalkIn.occurred_at >= since)
            .options(selectinload(WalkIn.topic_rows))
            .order_by(WalkIn.occurred_at.desc())
            .limit(limit)
        )
    )
