"""The fixed catalogue of research tables (no free-form filters: they allow differencing attacks).

Each table names its dimensions, its counting unit and the date that places a record in a period.
Only profiles whose legal basis covers anonymised statistics are counted; walk-ins and the head
counts of group sessions are anonymous by construction. Restricted fields never feed a table.
Ages are full years at the record's date; people under 15 are left out of age-banded tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from msc.centres.models import Centre
from msc.core.db import db
from msc.migrants.models import Consent, Migrant, MigrantCode
from msc.referrals.models import Referral
from msc.visits.models import (
    GroupSession,
    GroupSessionHeadcount,
    Visit,
    WalkIn,
    group_session_attendee,
    group_session_topic,
    visit_topic,
)

TOTAL = "_T"  # SDMX code for a total
OTHER = "_O"  # SDMX code for "other" (rare destinations grouped)
AGE_BANDS = [
    ("15-17", 15, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65+", 65, 200),
]


@dataclass(frozen=True)
class Dimension:
    id: str  # column name in the package, SDMX style
    codelist: str | None  # our code list for labels; None: ISO 3166 countries or periods
    additive: bool = True  # False when a record can fall in several categories (topics)
    fixed_codes: tuple[str, ...] | None = None  # the full list of categories, zeros included


@dataclass(frozen=True)
class Unit:
    """One counted record: its own key, the person behind it, its weight and its categories."""

    key: tuple
    person: object | None
    extra_persons: int
    weight: int
    categories: tuple  # per dimension: a code, or a tuple of codes for a non-additive dimension


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: object
    unit: object
    date_rule: object
    dimensions: tuple[Dimension, ...]
    rows: Callable[[date | None, date | None, str], Iterator[Unit]]


def age_band(birth_year: int | None, on: date) -> str | None:
    if birth_year is None:
        return None
    age = on.year - birth_year
    return next((code for code, low, high in AGE_BANDS if low <= age <= high), None)


def period(on: date, granularity: str) -> str:
    if granularity == "month":
        return f"{on.year}-{on.month:02d}"
    if granularity == "quarter":
        return f"{on.year}-Q{(on.month - 1) // 3 + 1}"
    return str(on.year)


def statistics_consent():
    """Profiles whose basis covers anonymised statistics (and not withdrawn), not merged away."""
    return sa.select(Consent.migrant_id).where(
        Consent.purpose == "statistics", Consent.withdrawn_on.is_(None)
    )


def _in_range(column, start: date | None, end: date | None):
    conditions = []
    if start:
        conditions.append(column >= start)
    if end:
        conditions.append(column < end)
    return conditions


def _profiles(start, end, columns):
    created = Migrant.created_at
    return db.session.execute(
        sa.select(Migrant.id, Migrant.created_at, *columns)
        .join(Centre, Centre.id == Migrant.centre_id)
        .where(
            Migrant.merged_into_id.is_(None),
            Migrant.id.in_(statistics_consent()),
            *_in_range(created, _as_datetime(start), _as_datetime(end)),
        )
        .execution_options(yield_per=10_000)
    )


def _as_datetime(value: date | None):
    from datetime import UTC, datetime, time

    return datetime.combine(value, time.min, tzinfo=UTC) if value else None


def persons_registered(start, end, granularity) -> Iterator[Unit]:
    for row in _profiles(start, end, [Centre.country_code, Migrant.sex, Migrant.birth_year]):
        band = age_band(row.birth_year, row.created_at.date())
        if band:
            yield Unit(
                ("m", row.id),
                row.id,
                0,
                1,
                (period(row.created_at.date(), granularity), row.country_code, row.sex, band),
            )


def persons_education(start, end, granularity) -> Iterator[Unit]:
    for row in _profiles(start, end, [Migrant.education, Migrant.sex, Migrant.intention]):
        yield Unit(("m", row.id), row.id, 0, 1, (row.education or "_U", row.sex, row.intention))


def persons_destination(start, end, granularity) -> Iterator[Unit]:
    destinations: dict[int, list[str]] = {}
    for migrant_id, code in db.session.execute(
        sa.select(MigrantCode.migrant_id, MigrantCode.code).where(
            MigrantCode.kind == MigrantCode.DESTINATION
        )
    ):
        destinations.setdefault(migrant_id, []).append(code)
    for row in _profiles(start, end, [Migrant.sex, Migrant.birth_year, Migrant.intention]):
        band = age_band(row.birth_year, row.created_at.date())
        if band and row.intention != "none" and row.id in destinations:
            yield Unit(
                ("m", row.id), row.id, 0, 1, (tuple(sorted(destinations[row.id])), row.sex, band)
            )


def persons_category(start, end, granularity) -> Iterator[Unit]:
    for row in _profiles(start, end, [Migrant.category, Migrant.labour_status, Migrant.sex]):
        yield Unit(("m", row.id), row.id, 0, 1, (row.category, row.labour_status or "_U", row.sex))


def occupation_sought(start, end, granularity) -> Iterator[Unit]:
    for row in _profiles(start, end, [Migrant.occupation_sought, Migrant.sex]):
        major = row.occupation_sought[0] if row.occupation_sought else "_U"
        yield Unit(("m", row.id), row.id, 0, 1, (major, row.sex))


def visits_by_topic(start, end, granularity) -> Iterator[Unit]:
    topics: dict[int, list[str]] = {}
    rows = db.session.execute(
        sa.select(Visit.id, Visit.migrant_id, Visit.occurred_at, Centre.country_code)
        .join(Centre, Centre.id == Visit.centre_id)
        .where(
            Visit.migrant_id.in_(statistics_consent()),
            *_in_range(Visit.occurred_at, _as_datetime(start), _as_datetime(end)),
        )
    ).all()
    wanted = {row.id for row in rows}
    for visit_id, topic in db.session.execute(
        sa.select(visit_topic.c.visit_id, visit_topic.c.topic)
    ):
        if visit_id in wanted:
            topics.setdefault(visit_id, []).append(topic)
    for row in rows:
        yield Unit(
            ("v", row.id),
            row.migrant_id,
            0,
            1,
            (
                tuple(sorted(topics.get(row.id, ["other"]))),
                period(row.occurred_at.date(), granularity),
                row.country_code,
            ),
        )


def group_participants(start, end, granularity) -> Iterator[Unit]:
    sessions = db.session.execute(
        sa.select(GroupSession.id, GroupSession.occurred_on).where(
            *_in_range(GroupSession.occurred_on, start, end)
        )
    ).all()
    wanted = {s.id for s in sessions}
    topics: dict[int, list[str]] = {}
    for session_id, topic in db.session.execute(
        sa.select(group_session_topic.c.group_session_id, group_session_topic.c.topic)
    ):
        if session_id in wanted:
            topics.setdefault(session_id, []).append(topic)
    consenting = set(db.session.scalars(statistics_consent()))
    for session_id, migrant_id, sex in db.session.execute(
        sa.select(group_session_attendee.c.group_session_id, Migrant.id, Migrant.sex).join(
            Migrant, Migrant.id == group_session_attendee.c.migrant_id
        )
    ):
        if session_id in wanted and migrant_id in consenting:
            yield Unit(
                ("a", session_id, migrant_id),
                migrant_id,
                0,
                1,
                (tuple(sorted(topics.get(session_id, []))), sex),
            )
    for count in db.session.scalars(sa.select(GroupSessionHeadcount)):
        if count.group_session_id in wanted and count.count:
            yield Unit(
                ("h", count.group_session_id, count.sex, count.age_band),
                None,
                count.count,
                count.count,
                (tuple(sorted(topics.get(count.group_session_id, []))), count.sex),
            )


def referrals_by_outcome(start, end, granularity) -> Iterator[Unit]:
    for row in db.session.execute(
        sa.select(
            Referral.id,
            Referral.migrant_id,
            Referral.category,
            Referral.status,
            Referral.outcome,
            Referral.created_at,
        ).where(
            Referral.migrant_id.in_(statistics_consent()),
            Referral.status != "draft",
            *_in_range(Referral.created_at, _as_datetime(start), _as_datetime(end)),
        )
    ):
        outcome = row.outcome or ("declined" if row.status == "declined" else "open")
        if row.status in {"rejected", "cancelled"}:
            outcome = row.status
        yield Unit(
            ("r", row.id),
            row.migrant_id,
            0,
            1,
            (row.category, outcome, period(row.created_at.date(), granularity)),
        )


def walk_ins(start, end, granularity) -> Iterator[Unit]:
    for row in db.session.execute(
        sa.select(WalkIn.id, WalkIn.sex, WalkIn.age_band, WalkIn.occurred_at).where(
            *_in_range(WalkIn.occurred_at, _as_datetime(start), _as_datetime(end))
        )
    ):
        yield Unit(
            ("w", row.id),
            ("w", row.id),
            0,
            1,
            (row.sex, row.age_band, period(row.occurred_at.date(), granularity)),
        )


def _codes(name):
    from msc.core.codelists import codelist

    return tuple(codelist(name).codes)


SEX = Dimension("SEX", "sex", fixed_codes=("F", "M", "O", "U"))
AGE = Dimension("AGE", "age_band", fixed_codes=tuple(code for code, _l, _h in AGE_BANDS))
PERIOD = Dimension("TIME_PERIOD", None)
COUNTRY = Dimension("REF_AREA", None)

CATALOGUE = [
    TableSpec(
        "persons_registered",
        _l("Persons registered by period, country, sex and age band"),
        _l("distinct persons"),
        _l("the date of registration"),
        (PERIOD, COUNTRY, SEX, AGE),
        persons_registered,
    ),
    TableSpec(
        "persons_education",
        _l("Persons by education, sex and migration intention"),
        _l("distinct persons"),
        _l("the date of registration"),
        (
            Dimension("EDUCATION", "isced"),
            SEX,
            Dimension("INTENTION", "intention", fixed_codes=_codes("intention")),
        ),
        persons_education,
    ),
    TableSpec(
        "persons_destination",
        _l("Persons intending to emigrate by destination country, sex and age band"),
        _l("distinct persons"),
        _l("the date of registration"),
        (Dimension("DESTINATION", None, additive=False), SEX, AGE),
        persons_destination,
    ),
    TableSpec(
        "persons_category",
        _l("Persons by migrant category, labour-market status and sex"),
        _l("distinct persons"),
        _l("the date of registration"),
        (
            Dimension("CATEGORY", "migrant_category"),
            Dimension("LABOUR_STATUS", "labour_status"),
            SEX,
        ),
        persons_category,
    ),
    TableSpec(
        "occupation_sought",
        _l("Persons by occupation sought (ISCO-08 major group) and sex"),
        _l("distinct persons"),
        _l("the date of registration"),
        (Dimension("OCCUPATION", "isco08"), SEX),
        occupation_sought,
    ),
    TableSpec(
        "visits_by_topic",
        _l("Visits by topic, period and country"),
        _l("visits"),
        _l("the date of the visit"),
        (Dimension("TOPIC", "visit_topic", additive=False), PERIOD, COUNTRY),
        visits_by_topic,
    ),
    TableSpec(
        "group_participants",
        _l("Group-session participants by topic and sex"),
        _l("participants"),
        _l("the date of the session"),
        (Dimension("TOPIC", "visit_topic", additive=False), SEX),
        group_participants,
    ),
    TableSpec(
        "referrals_by_outcome",
        _l("Referrals by category, outcome and period"),
        _l("referrals"),
        _l("the date the referral was made"),
        (Dimension("CATEGORY", "referral_category"), Dimension("OUTCOME", None), PERIOD),
        referrals_by_outcome,
    ),
    TableSpec(
        "walk_ins",
        _l("Anonymous walk-ins by sex, age band and period"),
        _l("walk-ins"),
        _l("the date of the walk-in"),
        (SEX, AGE, PERIOD),
        walk_ins,
    ),
]
TABLES = {table.id: table for table in CATALOGUE}
