"""The fixed catalogue of research tables (no free-form filters: they allow differencing attacks).

Each table names its dimensions, its counting unit and the date that places a record in a period.
Only profiles whose legal basis covers anonymised statistics are counted; walk-ins and the head
counts of group sessions are anonymous by construction. Restricted fields never feed a table.
Ages are full years at the record's date; people under 15 are left out of age-banded tables.

Every table is counted twice over in this module, on purpose:

- `counts` (what releases use) lets the database do the work: one GROUP BY at the finest level of
  the table's dimensions; totals (`_T`) are summed in Python from those cells. Units add up across
  cells, and so do persons along a dimension that is an attribute of the person (sex, age band at
  registration). Where one person can fall in several cells (visits in two years, referrals with
  two outcomes) distinct persons do not add up: the same statement counts, for the few persons
  who do, how often summing the cells counts them more than once in each total (`_surplus`),
  and the tally subtracts it.
- `rows` is the straightforward reading: one `Unit` per counted record, aggregated in Python
  (`disclosure.aggregate`). It is the reference the tests hold `counts` to.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from msc.centres.models import Centre, Region
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
    topic_bits,
    visit_topic,
)

TOTAL = "_T"  # SDMX code for a total
OTHER = "_O"  # SDMX code for "other" (rare destinations grouped)
UNKNOWN = "_U"
# The reference areas a table can be broken down by (REF_AREA): the centre's country, or the
# region it serves, where the table allows it. Not the centre itself: a centre's research figures
# would be few persons in most cells, and its activity is in the supervisors' own pages.
GEOGRAPHIES = ("country", "region")
RESEARCH_BIND = "research"  # SQLALCHEMY_BINDS key of the read replica (MSC_RESEARCH_DATABASE_URL)
AGE_BANDS = [
    ("15-17", 15, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65+", 65, 200),
]
# The band of each age: looked up for every row counted (persons by destination, 100,000
# profiles: 11,500 rows; 7 ms through the bands one by one, 1 ms so).
_BAND_OF_AGE = {age: code for code, low, high in AGE_BANDS for age in range(low, high + 1)}


@dataclass(frozen=True)
class Dimension:
    id: str  # column name in the package, SDMX style
    codelist: str | None  # our code list for labels; None: ISO 3166 countries or periods
    additive: bool = True  # False when a record can fall in several categories (topics)
    fixed_codes: tuple[str, ...] | None = None  # the full list of categories, zeros included
    nested: bool = False  # codes "XX-..." are parts of code "XX" where both are present

    def parent(self, code: str, present: set | frozenset) -> str:
        """The code that `code` is a part of: a region's country (ISO 3166-2 "RS-00" in
        ISO 3166-1 "RS") when the table holds both, else the total."""
        if self.nested and "-" in code:
            prefix = code.split("-", 1)[0]
            if prefix in present:
                return prefix
        return TOTAL


@dataclass(frozen=True)
class Unit:
    """One counted record: its own key, the person behind it, its weight and its categories."""

    key: tuple
    person: object | None
    extra_persons: int
    weight: int
    categories: tuple  # per dimension: a code, or a tuple of codes for a non-additive dimension


@dataclass
class Counts:
    """A table before disclosure control: every cell that counts something, totals included."""

    categories: list[list[str]]  # per dimension, the codes seen (fixed codes included), unsorted
    cells: dict[tuple, tuple[int, int]]  # key -> (units, distinct persons)


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: object
    unit: object
    date_rule: object
    dimensions: tuple[Dimension, ...]
    rows: Callable[..., Iterator[Unit]]  # (connection, start, end, granularity): the reference
    counts: Callable[..., Counts]  # (connection, start, end, granularity, threshold): in SQL
    # The levels of REF_AREA the table offers, the default first; where there is more than one,
    # `rows` and `counts` take `geography=`.
    geographies: tuple[str, ...] = ("country",)
    # Each unit is a person of its own (distinct persons; anonymous walk-ins): a cell's count is
    # its persons, so a primary cell is known to hold 1 to k-1 (disclosure.known_range).
    units_are_persons: bool = False

    def area_position(self) -> int | None:
        """Where the nested dimension (REF_AREA) stands in the table's keys; None without one."""
        return next((n for n, d in enumerate(self.dimensions) if d.nested), None)

    def geography_for(self, requested: str) -> str:
        """The level this table is counted by: the one asked for where it offers it."""
        return requested if requested in self.geographies else self.geographies[0]


def age_band(birth_year: int | None, on: date | int) -> str | None:
    if birth_year is None:
        return None
    return _BAND_OF_AGE.get((on if isinstance(on, int) else on.year) - birth_year)


MONTHS_IN_PERIOD = {"year": 12, "quarter": 3, "month": 1}  # the periods a table is counted by


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


def _consents(person_column):
    """`statistics_consent()` as a correlated EXISTS: for a small table (attendees, referrals)
    an index look-up per row beats reading every consent."""
    return (
        sa.select(Consent.id)
        .where(
            Consent.migrant_id == person_column,
            Consent.purpose == "statistics",
            Consent.withdrawn_on.is_(None),
        )
        .exists()
    )


def _in_range(column, start: date | None, end: date | None):
    conditions = []
    if start:
        conditions.append(column >= start)
    if end:
        conditions.append(column < end)
    return conditions


def _as_datetime(value: date | None):
    return datetime.combine(value, time.min, tzinfo=UTC) if value else None


@contextmanager
def research_connection():
    """The connection research tables read through: the replica when one is configured
    (MSC_RESEARCH_DATABASE_URL), else a connection of its own to the database. Either way one
    snapshot for all the statements of a table (a table by region counts twice, and each
    country must be the sum of its regions): REPEATABLE READ on PostgreSQL, a read transaction
    on SQLite. Writes (the release ledger) never come here: they stay on the primary through
    db.session."""
    binds = current_app.config.get("SQLALCHEMY_BINDS") or {}
    engine = db.engines[RESEARCH_BIND] if RESEARCH_BIND in binds else db.engine
    options = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as connection:
        if engine.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            if not raw.in_transaction:  # pysqlite starts none for reads: statements would each
                raw.execute("BEGIN")  # see the database as it is at that moment
        try:
            yield _without_jit(connection)
        finally:
            connection.rollback()


def _without_jit(connection):
    """No JIT compilation on PostgreSQL for the rest of the transaction. Research statements
    are aggregates with many expressions (a sum per topic): compiling them took longer than
    running them (visits_by_topic: 0.45 s of 1.5 s at 100,000 profiles, 2.5 s of 15 s at a
    million)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")
    return connection


# --- Categories of one record, shared by the reference and the SQL counts ----------------------


def _registered(period_code, year, country, sex, birth_year):
    band = age_band(birth_year, year)
    return (period_code, country, sex, band) if band else None


def _education(education, sex, intention):
    return (education or UNKNOWN, sex, intention)


def _category(category, labour_status, sex):
    return (category, labour_status or UNKNOWN, sex)


def _occupation(occupation_sought, sex):
    return (occupation_sought[0] if occupation_sought else UNKNOWN, sex)


def _outcome(status, outcome):
    if status in {"rejected", "cancelled"}:
        return status
    return outcome or ("declined" if status == "declined" else "open")


def _area(geography: str):
    """The REF_AREA code of a record's centre: its country (ISO 3166-1 alpha-2) or its region
    (ISO 3166-2). A region code without the centre's country as prefix gets it (`Region.
    area_code`), so that each region is a part of the country its centres count under, and
    codes stay unique when a regional hub merges the packages of several countries."""
    if geography != "region":
        return Centre.country_code
    prefix = Centre.country_code.concat("-")
    return sa.case(
        (sa.func.substr(Region.code, 1, 3) == prefix, Region.code),
        else_=prefix.concat(Region.code),
    )


def region_names(connection) -> dict[str, tuple[str, str]]:
    """Each region's REF_AREA code: its name and its country, for the codebook."""
    query = sa.select(_area("region"), Region.name, Centre.country_code).join(
        Region, Region.id == Centre.region_id
    )
    return {code: (name, country) for code, name, country in connection.execute(query)}


def _in_area(query, geography: str):
    """`query` (which joins the centre) joined with what `_area(geography)` reads."""
    if geography != "region":
        return query
    return query.join(Region, Region.id == Centre.region_id)


# --- The reference: one Unit per record, read straightforwardly --------------------------------


def _profiles(connection, start, end, columns, geography="country"):
    created = Migrant.created_at
    query = sa.select(Migrant.id, Migrant.created_at, *columns).join(
        Centre, Centre.id == Migrant.centre_id
    )
    return connection.execute(
        _in_area(query, geography).where(
            Migrant.merged_into_id.is_(None),
            Migrant.id.in_(statistics_consent()),
            *_in_range(created, _as_datetime(start), _as_datetime(end)),
        )
    )


def persons_registered(connection, start, end, granularity, geography="country") -> Iterator[Unit]:
    columns = [_area(geography).label("area"), Migrant.sex, Migrant.birth_year]
    for row in _profiles(connection, start, end, columns, geography):
        on = row.created_at.date()
        categories = _registered(
            period(on, granularity), on.year, row.area, row.sex, row.birth_year
        )
        if categories:
            yield Unit(("m", row.id), row.id, 0, 1, categories)


def persons_education(connection, start, end, granularity) -> Iterator[Unit]:
    columns = [Migrant.education, Migrant.sex, Migrant.intention]
    for row in _profiles(connection, start, end, columns):
        yield Unit(("m", row.id), row.id, 0, 1, _education(row.education, row.sex, row.intention))


def persons_destination(connection, start, end, granularity) -> Iterator[Unit]:
    destinations: dict[int, list[str]] = {}
    for migrant_id, code in connection.execute(
        sa.select(MigrantCode.migrant_id, MigrantCode.code).where(
            MigrantCode.kind == MigrantCode.DESTINATION
        )
    ):
        destinations.setdefault(migrant_id, []).append(code)
    columns = [Migrant.sex, Migrant.birth_year, Migrant.intention]
    for row in _profiles(connection, start, end, columns):
        band = age_band(row.birth_year, row.created_at.date())
        if band and row.intention != "none" and row.id in destinations:
            yield Unit(
                ("m", row.id), row.id, 0, 1, (tuple(sorted(destinations[row.id])), row.sex, band)
            )


def persons_category(connection, start, end, granularity) -> Iterator[Unit]:
    columns = [Migrant.category, Migrant.labour_status, Migrant.sex]
    for row in _profiles(connection, start, end, columns):
        categories = _category(row.category, row.labour_status, row.sex)
        yield Unit(("m", row.id), row.id, 0, 1, categories)


def occupation_sought(connection, start, end, granularity) -> Iterator[Unit]:
    for row in _profiles(connection, start, end, [Migrant.occupation_sought, Migrant.sex]):
        yield Unit(("m", row.id), row.id, 0, 1, _occupation(row.occupation_sought, row.sex))


def visits_by_topic(connection, start, end, granularity, geography="country") -> Iterator[Unit]:
    topics: dict[int, list[str]] = {}
    query = sa.select(
        Visit.id, Visit.migrant_id, Visit.occurred_at, _area(geography).label("area")
    ).join(Centre, Centre.id == Visit.centre_id)
    rows = connection.execute(
        _in_area(query, geography).where(
            Visit.migrant_id.in_(statistics_consent()),
            *_in_range(Visit.occurred_at, _as_datetime(start), _as_datetime(end)),
        )
    ).all()
    wanted = {row.id for row in rows}
    for visit_id, topic in connection.execute(
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
                row.area,
            ),
        )


def group_participants(connection, start, end, granularity) -> Iterator[Unit]:
    sessions = connection.execute(
        sa.select(GroupSession.id, GroupSession.occurred_on).where(
            *_in_range(GroupSession.occurred_on, start, end)
        )
    ).all()
    wanted = {s.id for s in sessions}
    topics: dict[int, list[str]] = {}
    for session_id, topic in connection.execute(
        sa.select(group_session_topic.c.group_session_id, group_session_topic.c.topic)
    ):
        if session_id in wanted:
            topics.setdefault(session_id, []).append(topic)
    consenting = set(connection.scalars(statistics_consent()))
    for session_id, migrant_id, sex in connection.execute(
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
    headcount = GroupSessionHeadcount.__table__.c
    for session_id, sex, band, people in connection.execute(
        sa.select(headcount.group_session_id, headcount.sex, headcount.age_band, headcount["count"])
    ):
        if session_id in wanted and people:
            yield Unit(
                ("h", session_id, sex, band),
                None,
                people,
                people,
                (tuple(sorted(topics.get(session_id, []))), sex),
            )


def referrals_by_outcome(connection, start, end, granularity) -> Iterator[Unit]:
    for row in connection.execute(
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
        yield Unit(
            ("r", row.id),
            row.migrant_id,
            0,
            1,
            (
                row.category,
                _outcome(row.status, row.outcome),
                period(row.created_at.date(), granularity),
            ),
        )


def walk_ins(connection, start, end, granularity) -> Iterator[Unit]:
    for row in connection.execute(
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


# --- Counting in SQL ------------------------------------------------------------------------------


def _text(function, *arguments):
    return function(*arguments, type_=sa.String)


def _period_sql(column, granularity: str, dialect: str):
    """The record's period, as `period()` writes it, from a UTC timestamp column."""
    if dialect == "postgresql":
        utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
        pattern = {"month": "YYYY-MM", "quarter": 'YYYY-"Q"Q'}.get(granularity, "YYYY")
        return _text(sa.func.to_char, utc, sa.literal_column(f"'{pattern}'"))
    # SQLite stores UTC timestamps as text, 'YYYY-MM-DD HH:MM:SS.ffffff'.
    if granularity == "month":
        return _text(sa.func.substr, column, 1, 7)
    year = _text(sa.func.substr, column, 1, 4)
    if granularity == "quarter":
        month = sa.cast(_text(sa.func.substr, column, 6, 2), sa.Integer)
        return year.concat("-Q").concat(sa.cast((month + 2) // 3, sa.String))
    return year


def _year_sql(column, dialect: str):
    if dialect == "postgresql":
        utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
        return sa.cast(sa.extract("year", utc), sa.Integer)
    return sa.cast(_text(sa.func.substr, column, 1, 4), sa.Integer)


def _bytewise(dialect: str):
    """Codes compared byte by byte (COLLATE "C" on PostgreSQL) where the database groups by
    sorting: a sort under the database's locale costs more (visits_by_topic at 100,000
    profiles, when it sorted for COUNT(DISTINCT): 1,250 -> 1,075 ms). The order of codes
    means nothing here."""
    if dialect == "postgresql":
        return lambda expression: sa.collate(expression, "C")
    return lambda expression: expression


def _count_distinct(column):
    return sa.func.count(sa.distinct(column))


class Tally:
    """Finest cells in, every cell with its totals out.

    Units always add up. Persons add up too, except for a person whose records fall in several
    cells: such a person is counted once in each of them, so in a total that covers k of them
    they are counted k times. `surplus` holds the k - 1 to subtract from each total (the
    database computes it: `_surplus`)."""

    def __init__(self, spec: TableSpec):
        self.spec = spec
        self.additive = [j for j, d in enumerate(spec.dimensions) if d.additive]
        self.finest: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        self.surplus: Counter = Counter()

    def add(self, key: tuple, units: int, persons: int) -> None:
        cell = self.finest[key]
        cell[0] += units
        cell[1] += persons

    def _totals(self, key: tuple) -> Iterator[tuple]:
        """The key and every total above it along the additive dimensions."""
        options = [(code, TOTAL) if j in self.additive else (code,) for j, code in enumerate(key)]
        return itertools.product(*options)

    def counts(self) -> Counts:
        categories = [set(d.fixed_codes or ()) for d in self.spec.dimensions]
        cells: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for key, (units, persons) in self.finest.items():
            if not units and not persons:
                continue
            for j, code in enumerate(key):
                if code != TOTAL:
                    categories[j].add(code)
            for total in self._totals(key):
                cell = cells[total]
                cell[0] += units
                cell[1] += persons
        for total, surplus in self.surplus.items():
            cells[total][1] -= surplus
        return Counts(
            [list(values) for values in categories],
            {key: (units, persons) for key, (units, persons) in cells.items()},
        )


def _profiles_where(start, end):
    return [
        Migrant.merged_into_id.is_(None),
        Migrant.id.in_(statistics_consent()),
        *_in_range(Migrant.created_at, _as_datetime(start), _as_datetime(end)),
    ]


def _grouped(query):
    """Count the rows of `query` by all its columns. Through a subquery, so that PostgreSQL
    sees each expression (and its bound parameters) once."""
    base = query.subquery()
    return sa.select(*base.c, sa.func.count()).group_by(*base.c)


def persons_registered_counts(
    connection, start, end, granularity, threshold, geography="country"
) -> Counts:
    dialect = connection.dialect.name
    created = Migrant.created_at
    year = _year_sql(created, dialect).label("y")
    person = [_area(geography).label("a"), Migrant.sex, Migrant.birth_year]
    by_year = granularity == "year"  # the period is the year itself: grouped once, not twice
    period = [] if by_year else [_period_sql(created, granularity, dialect).label("p")]
    tally = Tally(TABLES["persons_registered"])
    query = sa.select(*period, year, *person).join(Centre, Centre.id == Migrant.centre_id)
    query = _in_area(query, geography).where(*_profiles_where(start, end))
    for *values, n in connection.execute(_grouped(query)):
        period_code = str(values[0]) if by_year else values.pop(0)
        categories = _registered(period_code, *values)
        if categories:
            tally.add(categories, n, n)  # one record per person: persons add up
    return tally.counts()


def _simple_profile_counts(table_id, columns, categorise):
    def counts(connection, start, end, granularity, threshold) -> Counts:
        tally = Tally(TABLES[table_id])
        labelled = [c.label(f"c{j}") for j, c in enumerate(columns)]
        query = _grouped(sa.select(*labelled).where(*_profiles_where(start, end)))
        for *values, n in connection.execute(query):
            tally.add(categorise(*values), n, n)
        return tally.counts()

    return counts


persons_education_counts = _simple_profile_counts(
    "persons_education", [Migrant.education, Migrant.sex, Migrant.intention], _education
)
persons_category_counts = _simple_profile_counts(
    "persons_category", [Migrant.category, Migrant.labour_status, Migrant.sex], _category
)
occupation_sought_counts = _simple_profile_counts(
    "occupation_sought", [Migrant.occupation_sought, Migrant.sex], _occupation
)


def persons_destination_counts(connection, start, end, granularity, threshold) -> Counts:
    """Destinations are not additive (a person may name several). One GROUP BY over (person,
    destination) pairs gives each destination's cells and, grouped also by how many
    destinations the person named (k), the total: the pairs of k-destination persons, summed
    over destinations, are k times those persons. "Other" (destinations named by fewer than k
    persons in all) comes from a small read of the persons who named a rare one."""
    dialect = connection.dialect.name
    created = Migrant.created_at
    person = [
        _year_sql(created, dialect).label("y"),
        Migrant.sex.label("s"),
        Migrant.birth_year.label("b"),
    ]
    conditions = [*_profiles_where(start, end), Migrant.intention != "none"]
    named_one = sa.select(MigrantCode.migrant_id).where(MigrantCode.kind == MigrantCode.DESTINATION)
    pairs = (
        sa.select(MigrantCode.code.label("d"), *person)
        .join(Migrant, Migrant.id == MigrantCode.migrant_id)
        .where(MigrantCode.kind == MigrantCode.DESTINATION, *conditions)
    )
    if dialect == "postgresql":
        # k by a window over the pairs: a grouped subquery is built again by every parallel
        # worker (100,000 profiles: 167 -> 127 ms).
        pairs = pairs.add_columns(
            sa.func.count().over(partition_by=MigrantCode.migrant_id).label("k")
        )
    else:  # SQLite groups by the primary key in its order; a window would sort (190 -> 220 ms)
        named = (
            named_one.add_columns(sa.func.count().label("k"))
            .group_by(MigrantCode.migrant_id)
            .subquery()
        )
        pairs = pairs.add_columns(named.c.k).join(named, named.c.migrant_id == Migrant.id)
    pairs = pairs.subquery()
    by_code: dict[tuple, int] = defaultdict(int)
    pairs_of: dict[tuple, int] = defaultdict(int)  # (sex, band, k) -> pairs
    for destination, year, sex, birth_year, k, n in connection.execute(
        sa.select(*pairs.c, sa.func.count()).group_by(*pairs.c)
    ):
        band = age_band(birth_year, year)
        if band:
            by_code[(destination, sex, band)] += n
            pairs_of[(sex, band, k)] += n
    for (sex, band, k), n in pairs_of.items():
        by_code[(TOTAL, sex, band)] += n // k  # exactly divisible: k pairs per person
    people: dict[str, int] = defaultdict(int)
    for (destination, _sex, _band), n in by_code.items():
        people[destination] += n
    rare = sorted(d for d, n in people.items() if n < threshold and d != TOTAL)
    tally = Tally(TABLES["persons_destination"])
    for (destination, sex, band), n in by_code.items():
        if destination not in rare and n:
            tally.add((destination, sex, band), n, n)
    if rare:
        who = named_one.where(MigrantCode.code.in_(rare))
        base = sa.select(*person).where(*conditions, Migrant.id.in_(who)).subquery()
        for year, sex, birth_year, n in connection.execute(
            sa.select(*base.c, sa.func.count()).group_by(*base.c)
        ):
            band = age_band(birth_year, year)
            if band:
                tally.add((OTHER, sex, band), n, n)
    return tally.counts()


def visits_by_topic_counts(
    connection, start, end, granularity, threshold, geography="country"
) -> Counts:
    """Visits by topic, period and country. Topics are not additive; a visit without topics
    counts as "other". One statement reads the visits once: their topics are the bits of
    `Visit.topic_set`. The visits grouped by person, period and country, with each topic's
    visits, give every cell: a topic's persons are the groups with a visit on it. For the
    persons who visited in more than one period or country, the same groups give how often
    summing the cells counts them twice in a total (`_surplus`)."""
    dialect = connection.dialect.name
    code = _bytewise(dialect)
    bits = topic_bits(connection)
    on_topic = {
        f"t{bit}": _has_topic(Visit.topic_set, bit, topic == "other") for topic, bit in bits.items()
    }
    records = sa.select(
        Visit.migrant_id.label("m"),
        code(_period_sql(Visit.occurred_at, granularity, dialect)).label("p"),
        code(_area(geography)).label("c"),
        *(visits.label(name) for name, visits in on_topic.items()),
    ).join(Centre, Centre.id == Visit.centre_id)
    records = _in_area(records, geography).where(
        Visit.migrant_id.in_(statistics_consent()),
        *_in_range(Visit.occurred_at, _as_datetime(start), _as_datetime(end)),
    )
    per_person = _per_person(records, summed=tuple(on_topic))
    cell = (per_person.c.p, per_person.c.c)
    counted = [sa.func.sum(per_person.c.n), sa.func.count()]
    for name in on_topic:
        visits = per_person.c[name]
        counted += [sa.func.sum(visits), sa.func.sum(sa.case((visits > 0, 1), else_=0))]
    of_several = _materialized(sa.select(per_person).where(per_person.c.cells > 1), "of_several")
    person_cell = (of_several.c.m, of_several.c.p, of_several.c.c)
    topic_cells = [sa.select(*person_cell, sa.literal(TOTAL).label("t"))]
    topic_cells += [
        sa.select(*person_cell, sa.literal(topic)).where(of_several.c[f"t{bit}"] > 0)
        for topic, bit in bits.items()
    ]
    # One statement, so that the visits are grouped once: the surplus rows padded to the width
    # of the cell rows (a row per period and country, its topics side by side).
    by_period_country = sa.select(sa.literal(TOTAL).label("t"), *cell, *counted).group_by(*cell)
    padding = [sa.null()] * (len(counted) - 2)
    surplus = _surplus(sa.union_all(*topic_cells), ("t", "p", "c"), ("p", "c"))
    tally = Tally(TABLES["visits_by_topic"])
    for t, p, c, units, persons, *by_topic in connection.execute(
        sa.union_all(by_period_country, *(margin.add_columns(*padding) for margin in surplus))
    ):
        if units is None:
            tally.surplus[(t, p, c)] += persons
            continue
        tally.add((t, p, c), int(units), persons)
        for topic, units, persons in zip(bits, by_topic[::2], by_topic[1::2], strict=True):
            if units:
                tally.add((topic, p, c), int(units), int(persons))
    return tally.counts()


def _has_topic(topic_set, bit: int, or_none: bool):
    """1 for a visit on the topic of `bit` (or, with `or_none`, on no topic at all), else 0."""
    on_it = topic_set.op("&")(1 << bit) != 0
    return sa.case((sa.or_(on_it, topic_set == 0) if or_none else on_it, 1), else_=0)


def _materialized(query, name: str):
    """A common table expression computed once, however often the statement reads it."""
    return query.cte(name).prefix_with("MATERIALIZED")


def _per_person(records, summed: tuple[str, ...] = ()):
    """`records` (a person "m", then the columns of a cell, then the columns named `summed`)
    grouped by person and cell, with their number "n", the sums of the `summed` columns and
    the number of cells the person is found in ("cells"), by a window over the groups (on
    PostgreSQL they come out in the person's order: the window sorts nothing). Computed once."""
    rows = records.subquery()
    key = [column for column in rows.c if column.name not in summed]
    sums = [sa.func.sum(rows.c[name]).label(name) for name in summed]
    grouped = sa.select(*key, sa.func.count().label("n"), *sums).group_by(*key).subquery()
    cells = sa.func.count().over(partition_by=grouped.c.m).label("cells")
    return _materialized(sa.select(*grouped.c, cells), "per_person")


def _add_counted(tally: Tally, rows) -> None:
    """Rows (*key, units, persons) into the tally; a row without units is a `_surplus` row."""
    for *key, units, persons in rows:
        if units is None:
            tally.surplus[tuple(key)] += persons
        else:
            tally.add(tuple(key), int(units), persons)


def _surplus(rows, key: tuple[str, ...], additive: tuple[str, ...]) -> list:
    """`rows` are distinct (a person "m", the columns of one of their cells). In a total along
    the `additive` columns, summing the cells counts a person in k of them k times: k - 1 too
    many. Summed over persons, that is the rows under the total less its distinct persons.
    Selects rows (the total's key, by the column names in `key`, TOTAL where summed; NULL; its
    surplus) for every total where it is not zero: the shape of a count row without units."""
    cells = _materialized(rows, "person_cells")
    surplus = sa.func.count() - _count_distinct(cells.c.m)
    margins = []
    for size in range(1, len(additive) + 1):
        for summed in itertools.combinations(additive, size):
            columns = [sa.literal(TOTAL) if n in summed else cells.c[n] for n in key]
            kept = [cells.c[n] for n in key if n not in summed]
            margins.append(
                sa.select(*columns, sa.null(), surplus).group_by(*kept).having(surplus > 0)
            )
    return margins


def group_participants_counts(connection, start, end, granularity, threshold) -> Counts:
    """Participants by topic and sex, in one statement: each session in range counts once for
    the topic total and once for each of its topics (a session without topics counts in the
    total only); attendees are counted by topic and sex with COUNT(DISTINCT) persons (a person
    attending two sessions on a topic counts once), head counts add their numbers."""
    in_range = _in_range(GroupSession.occurred_on, start, end)
    sessions = sa.select(GroupSession.id.label("session"), sa.literal(TOTAL).label("topic"))
    topics = sa.select(
        group_session_topic.c.group_session_id.label("session"), group_session_topic.c.topic
    ).join(GroupSession, GroupSession.id == group_session_topic.c.group_session_id)
    attendee = group_session_attendee.c
    headcount = GroupSessionHeadcount.__table__.c
    # The attendee's sex by a look-up per attendee (a join reads every profile in the country);
    # each consenting attendee looked up once, before the topics multiply them.
    sex = sa.select(Migrant.sex).where(Migrant.id == attendee.migrant_id).scalar_subquery()
    attending = _materialized(
        sa.select(
            attendee.group_session_id.label("session"), attendee.migrant_id, sex.label("sex")
        ).where(_consents(attendee.migrant_id)),
        "attending",
    )
    people = sa.func.sum(headcount["count"])
    counts = []
    for topic_of in (sessions.where(*in_range).subquery(), topics.where(*in_range).subquery()):
        # A join per kind, not one with their union: SQLite then looks sessions and topics up
        # by their keys instead of materialising the union (100,000 profiles: 19.7 -> 18.1 ms).
        counts += [
            sa.select(
                topic_of.c.topic,
                attending.c.sex,
                sa.func.count(),
                _count_distinct(attending.c.migrant_id),
            )
            .join(topic_of, topic_of.c.session == attending.c.session)
            .group_by(topic_of.c.topic, attending.c.sex),
            sa.select(topic_of.c.topic, headcount.sex, people, people)
            .join(topic_of, topic_of.c.session == headcount.group_session_id)
            .group_by(topic_of.c.topic, headcount.sex),
        ]
    tally = Tally(TABLES["group_participants"])
    for topic, sex, units, persons in connection.execute(sa.union_all(*counts)):
        tally.add((topic, sex), int(units), int(persons))  # one sex each: persons add up along it
    return tally.counts()


def referrals_by_outcome_counts(connection, start, end, granularity, threshold) -> Counts:
    dialect = connection.dialect.name
    outcome = sa.case(
        (Referral.status.in_(["rejected", "cancelled"]), Referral.status),
        (sa.and_(Referral.outcome.is_not(None), Referral.outcome != ""), Referral.outcome),
        (Referral.status == "declined", "declined"),
        else_="open",
    )
    records = sa.select(
        Referral.migrant_id.label("m"),
        Referral.category.label("k"),
        outcome.label("o"),
        _period_sql(Referral.created_at, granularity, dialect).label("p"),
    ).where(
        Referral.migrant_id.in_(statistics_consent()),
        Referral.status != "draft",
        *_in_range(Referral.created_at, _as_datetime(start), _as_datetime(end)),
    )
    tally = Tally(TABLES["referrals_by_outcome"])
    _add_counted(tally, connection.execute(_counted_by_cell(records, ("k", "o", "p"))))
    return tally.counts()


def _counted_by_cell(records, additive: tuple[str, ...]):
    """`records` (a person "m", then the columns of a cell) counted by cell: records and
    distinct persons, and the `_surplus` rows of the persons found in several cells."""
    per_person = _per_person(records)
    cell = [column for column in per_person.c if column.name not in ("m", "n", "cells")]
    finest = sa.select(*cell, sa.func.sum(per_person.c.n), sa.func.count()).group_by(*cell)
    of_several = sa.select(per_person.c.m, *cell).where(per_person.c.cells > 1)
    names = tuple(column.name for column in cell)
    return sa.union_all(finest, *_surplus(of_several, names, additive))


def walk_ins_counts(connection, start, end, granularity, threshold) -> Counts:
    dialect = connection.dialect.name
    columns = [
        WalkIn.sex.label("s"),
        WalkIn.age_band.label("a"),
        _period_sql(WalkIn.occurred_at, granularity, dialect).label("p"),
    ]
    base = (
        sa.select(*columns)
        .where(*_in_range(WalkIn.occurred_at, _as_datetime(start), _as_datetime(end)))
        .subquery()
    )
    tally = Tally(TABLES["walk_ins"])
    for s, a, p, n in connection.execute(sa.select(*base.c, sa.func.count()).group_by(*base.c)):
        tally.add((s, a, p), n, n)  # anonymous: each walk-in is its own person
    return tally.counts()


def _codes(name):
    from msc.core.codelists import codelist

    return tuple(codelist(name).codes)


SEX = Dimension("SEX", "sex", fixed_codes=("F", "M", "O", "U"))
AGE = Dimension("AGE", "age_band", fixed_codes=tuple(code for code, _l, _h in AGE_BANDS))
PERIOD = Dimension("TIME_PERIOD", None)
AREA = Dimension("REF_AREA", None, nested=True)

CATALOGUE = [
    TableSpec(
        "persons_registered",
        _l("Persons registered by period, country, sex and age band"),
        _l("distinct persons"),
        _l("the date of registration"),
        (PERIOD, AREA, SEX, AGE),
        persons_registered,
        persons_registered_counts,
        GEOGRAPHIES,
        units_are_persons=True,
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
        persons_education_counts,
        units_are_persons=True,
    ),
    TableSpec(
        "persons_destination",
        _l("Persons intending to emigrate by destination country, sex and age band"),
        _l("distinct persons"),
        _l("the date of registration"),
        (Dimension("DESTINATION", None, additive=False), SEX, AGE),
        persons_destination,
        persons_destination_counts,
        units_are_persons=True,
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
        persons_category_counts,
        units_are_persons=True,
    ),
    TableSpec(
        "occupation_sought",
        _l("Persons by occupation sought (ISCO-08 major group) and sex"),
        _l("distinct persons"),
        _l("the date of registration"),
        (Dimension("OCCUPATION", "isco08"), SEX),
        occupation_sought,
        occupation_sought_counts,
        units_are_persons=True,
    ),
    TableSpec(
        "visits_by_topic",
        _l("Visits by topic, period and country"),
        _l("visits"),
        _l("the date of the visit"),
        (Dimension("TOPIC", "visit_topic", additive=False), PERIOD, AREA),
        visits_by_topic,
        visits_by_topic_counts,
        GEOGRAPHIES,
    ),
    TableSpec(
        "group_participants",
        _l("Group-session participants by topic and sex"),
        _l("participants"),
        _l("the date of the session"),
        (Dimension("TOPIC", "visit_topic", additive=False), SEX),
        group_participants,
        group_participants_counts,
    ),
    TableSpec(
        "referrals_by_outcome",
        _l("Referrals by category, outcome and period"),
        _l("referrals"),
        _l("the date the referral was made"),
        (Dimension("CATEGORY", "referral_category"), Dimension("OUTCOME", None), PERIOD),
        referrals_by_outcome,
        referrals_by_outcome_counts,
    ),
    TableSpec(
        "walk_ins",
        _l("Anonymous walk-ins by sex, age band and period"),
        _l("walk-ins"),
        _l("the date of the walk-in"),
        (SEX, AGE, PERIOD),
        walk_ins,
        walk_ins_counts,
        units_are_persons=True,
    ),
]
TABLES = {table.id: table for table in CATALOGUE}
