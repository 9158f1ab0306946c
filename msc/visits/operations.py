"""Visit, group-session and walk-in operations: change, flush, audit; the view commits."""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user

from msc.auth.models import User
from msc.core import audit
from msc.core.db import db
from msc.migrants.models import Migrant
from msc.visits.models import (
    GroupSession,
    GroupSessionHeadcount,
    GroupSessionTopic,
    Visit,
    VisitTopic,
    WalkIn,
    WalkInTopic,
)


def log_visit(migrant: Migrant, fields: dict, topics: list[str], token: str | None) -> Visit:
    # A new visit settles the follow-ups that earlier visits asked for.
    db.session.execute(
        sa.update(Visit)
        .where(
            Visit.migrant_id == migrant.id,
            Visit.follow_up_on.is_not(None),
            Visit.follow_up_done.is_(False),
        )
        .values(follow_up_done=True)
    )
    visit = Visit(
        migrant_id=migrant.id,
        centre_id=migrant.centre_id,
        counsellor_id=current_user.id,
        submission_token=token,
        topic_rows=[VisitTopic(topic=topic) for topic in sorted(set(topics))],
        **fields,
    )
    db.session.add(visit)
    migrant.updated_at = (
        visit.occurred_at if visit.occurred_at > migrant.updated_at else migrant.updated_at
    )
    audit.record("visit.created", visit)
    return visit


def record_group_session(
    centre_id: int,
    fields: dict,
    topics: list[str],
    facilitator_ids: list[int],
    attendees: list[Migrant],
    headcounts: dict[tuple[str, str], int],
    token: str | None,
) -> GroupSession:
    facilitators = db.session.scalars(sa.select(User).where(User.id.in_(facilitator_ids))).all()
    session = GroupSession(
        centre_id=centre_id,
        created_by_id=current_user.id,
        submission_token=token,
        topic_rows=[GroupSessionTopic(topic=topic) for topic in sorted(set(topics))],
        facilitators=list(facilitators),
        attendees=attendees,
        headcounts=[
            GroupSessionHeadcount(sex=sex, age_band=band, count=count)
            for (sex, band), count in sorted(headcounts.items())
            if count
        ],
        **fields,
    )
    db.session.add(session)
    audit.record("group_session.created", session)
    return session


def record_walk_in(centre_id: int, fields: dict, topics: list[str], token: str | None) -> WalkIn:
    walk_in = WalkIn(
        centre_id=centre_id,
        counsellor_id=current_user.id,
        submission_token=token,
        topic_rows=[WalkInTopic(topic=topic) for topic in sorted(set(topics))],
        **fields,
    )
    db.session.add(walk_in)
    audit.record("walk_in.created", walk_in)
    return walk_in
