"""Reading referrals: suggestions for a case, the review queue, follow-ups, supervisor figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from msc.auth.models import User
from msc.core.access import get_scoped_or_404
from msc.core.codelists import codelist
from msc.core.db import db
from msc.core.i18n import country_name
from msc.migrants.models import Migrant, MigrantCode, live_profiles_of
from msc.referrals.models import Channel, LocalOption, Referral, ReferralEvent
from msc.referrals.workflow import OPEN_STATES
from msc.visits.queries import TimelineEvent


def get_referral_or_404(referral_id: int) -> Referral:
    referral = get_scoped_or_404(Referral, referral_id)
    if not current_user.role.needs_centre:
        abort(404)
    return referral


def load_referral(referral_id: int) -> Referral:
    return db.session.scalars(
        sa.select(Referral)
        .where(Referral.id == referral_id)
        .options(
            joinedload(Referral.migrant),
            joinedload(Referral.created_by),
            joinedload(Referral.partner),
            joinedload(Referral.channel),
            joinedload(Referral.local_option),
            selectinload(Referral.events).joinedload(ReferralEvent.user),
        )
        .execution_options(populate_existing=True)
    ).one()


def _occupation_matches(wanted: str | None, offered: str | None) -> bool:
    # ISCO-08 is hierarchical: a major group (1 digit) covers its sub-major groups (2 digits).
    return bool(wanted and offered and (wanted.startswith(offered) or offered.startswith(wanted)))


@dataclass
class Suggestion:
    kind: str  # "channel" or "option"
    item: object
    reasons: list[str]

    @property
    def target(self) -> str:
        return f"{self.kind}:{self.item.id}"


def suggestions(migrant: Migrant, centre, today: date, limit: int = 5) -> list[Suggestion]:
    """Channels for the person's destinations and occupation; local options for their occupation
    and region; each with why it matched. Two queries."""
    destinations = migrant.coded(MigrantCode.DESTINATION)
    occupations = [code for code in (migrant.occupation_sought, migrant.occupation_current) if code]
    found = []
    if destinations:
        channels = db.session.scalars(
            sa.select(Channel)
            .where(
                Channel.active,
                Channel.destination.in_(destinations),
                sa.or_(Channel.valid_to.is_(None), Channel.valid_to >= today),
            )
            .order_by(Channel.name)
        ).all()
        for channel in channels:
            reasons = [_("Destination: %(country)s", country=country_name(channel.destination))]
            if not channel.occupations:
                reasons.append(_("Open to every occupation"))
            else:
                match = next(
                    (
                        o
                        for o in channel.occupations
                        for w in occupations
                        if _occupation_matches(w, o)
                    ),
                    None,
                )
                if match is None:
                    continue
                reasons.append(
                    _("Occupation: %(occupation)s", occupation=codelist("isco08").label(match))
                )
            found.append(Suggestion("channel", channel, reasons))
    region_ids = {rid for rid in (migrant.residence_region_id, centre.region_id) if rid}
    options = db.session.scalars(
        sa.select(LocalOption)
        .where(
            LocalOption.active,
            LocalOption.country_code == centre.country_code,
            sa.or_(LocalOption.closing_on.is_(None), LocalOption.closing_on >= today),
            sa.or_(LocalOption.region_id.is_(None), LocalOption.region_id.in_(region_ids)),
        )
        .options(joinedload(LocalOption.region))
        .order_by(LocalOption.closing_on)
    ).all()
    local = []
    for option in options:
        if not any(_occupation_matches(w, option.occupation) for w in occupations):
            continue
        reasons = [
            _("Occupation: %(occupation)s", occupation=codelist("isco08").label(option.occupation))
        ]
        reasons.append(
            _("Region: %(region)s", region=option.region.name) if option.region else _("Nationwide")
        )
        local.append(Suggestion("option", option, reasons))
    return found[:limit] + local[:limit]


def referral_timeline(migrant: Migrant) -> list[TimelineEvent]:
    referrals = db.session.scalars(
        sa.select(Referral)
        .where(Referral.migrant_id == migrant.id)
        .options(
            joinedload(Referral.partner),
            joinedload(Referral.channel),
            joinedload(Referral.local_option),
        )
    ).all()
    return [TimelineEvent("referral", r.created_at, r) for r in referrals]


def awaiting_review() -> sa.TextClause:
    """Submitted, or sent without review: the predicate of the queue's partial index
    (models.AWAITING_REVIEW_SQL), written as the index writes it, so that both planners see that
    the index holds every row asked for (SQLAlchemy would send `needs_review = 1` to SQLite,
    which SQLite does not match to the index)."""
    return sa.text("(referral.status = 'submitted' OR referral.needs_review)")


def queue(
    centre_id: int,
    category: str = "",
    counsellor_id: int | None = None,
    urgency: str = "",
    waiting_days: int | None = None,
    now=None,
) -> sa.Select:
    """Referrals of the centre awaiting review, those sent without review first, then oldest
    first: a statement, which the queue page pages and the home page cuts to a few."""
    statement = (
        sa.select(Referral)
        .where(Referral.centre_id == centre_id, awaiting_review())
        .options(
            joinedload(Referral.migrant),
            joinedload(Referral.created_by),
            joinedload(Referral.partner),
            joinedload(Referral.channel),
            joinedload(Referral.local_option),
        )
        .order_by(Referral.needs_review.desc(), Referral.submitted_at, Referral.id)
    )
    if category:
        statement = statement.where(Referral.category == category)
    if counsellor_id:
        statement = statement.where(Referral.created_by_id == counsellor_id)
    if urgency:
        statement = statement.where(Referral.urgency == urgency)
    if waiting_days and now is not None:
        statement = statement.where(Referral.submitted_at <= now - timedelta(days=waiting_days))
    return statement


def queue_count(centre_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(Referral.centre_id == centre_id, awaiting_review())
    )


def overdue(centre_id: int, today: date, created_by_id: int | None = None) -> list[Referral]:
    """Sent or accepted referrals without an outcome past their follow-up date."""
    statement = (
        sa.select(Referral)
        .where(
            Referral.centre_id == centre_id,
            Referral.status.in_(["sent", "accepted"]),
            Referral.due_on < today,
        )
        .options(
            joinedload(Referral.migrant),
            joinedload(Referral.partner),
            joinedload(Referral.channel),
            joinedload(Referral.local_option),
        )
        .order_by(Referral.due_on)
        .limit(100)
    )
    if created_by_id is not None:
        statement = statement.where(Referral.created_by_id == created_by_id)
    return list(db.session.scalars(statement))


def referral_list(centre_id: int, status: str = "", mine: bool = False) -> sa.Select:
    """The centre's referrals, last changed first (a statement: the list page pages it)."""
    statement = (
        sa.select(Referral)
        .where(Referral.centre_id == centre_id)
        .options(
            joinedload(Referral.migrant),
            joinedload(Referral.partner),
            joinedload(Referral.channel),
            joinedload(Referral.local_option),
        )
        .order_by(Referral.updated_at.desc(), Referral.id.desc())
    )
    if status == "open":
        statement = statement.where(Referral.status.in_(OPEN_STATES))
    elif status:
        statement = statement.where(Referral.status == status)
    if mine:
        statement = statement.where(Referral.created_by_id == current_user.id)
    return statement


def figures(centre_id: int, week_start, month_start) -> dict:
    """The supervisor's overview, in a fixed handful of GROUP BY queries."""
    from msc.visits.models import Visit

    by_status_category = db.session.execute(
        sa.select(Referral.status, Referral.category, sa.func.count())
        .where(Referral.centre_id == centre_id)
        .group_by(Referral.status, Referral.category)
    ).all()
    open_cases = dict(
        db.session.execute(
            sa.select(Migrant.counsellor_id, sa.func.count())
            .where(*live_profiles_of(centre_id))
            .group_by(Migrant.counsellor_id)
        ).all()
    )
    open_referrals = dict(
        db.session.execute(
            sa.select(Referral.created_by_id, sa.func.count())
            .where(Referral.centre_id == centre_id, Referral.status.in_(OPEN_STATES))
            .group_by(Referral.created_by_id)
        ).all()
    )
    staff = db.session.execute(
        sa.select(User.id, User.full_name)
        .where(User.centre_id == centre_id, User.active)
        .order_by(User.full_name)
    ).all()
    visits = db.session.execute(
        sa.select(
            sa.func.count().filter(Visit.occurred_at >= week_start),
            sa.func.count().filter(Visit.occurred_at >= month_start),
        ).where(Visit.centre_id == centre_id, Visit.occurred_at >= min(week_start, month_start))
    ).one()
    statuses = {}
    categories = {}
    for status, category, count in by_status_category:
        statuses[status] = statuses.get(status, 0) + count
        categories[category] = categories.get(category, 0) + count
    return {
        "statuses": statuses,
        "categories": categories,
        "staff": [
            (s.full_name, open_cases.get(s.id, 0), open_referrals.get(s.id, 0)) for s in staff
        ],
        "visits_week": visits[0],
        "visits_month": visits[1],
    }
