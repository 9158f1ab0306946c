"""The research tables counted in SQL equal a straightforward count of the records in Python.

The population is the demo generator's, with the cases that make counting hard added by hand:
merged profiles, withdrawn consent, visits in a second country and in several years, visits and
group sessions without topics, rare destinations, empty head counts and referral outcomes.
"""

import datetime
import itertools

import pytest
import sqlalchemy as sa

from msc.core.db import db
from msc.research.catalogue import CATALOGUE, TABLES, TOTAL, Counts, Tally, research_connection
from msc.research.disclosure import aggregate, protect, table_rows

K = 10


def _population():
    from msc.centres.models import Centre
    from msc.demo.generate import load_demo_data
    from msc.migrants.models import Consent, Migrant, MigrantCode
    from msc.referrals.models import Referral
    from msc.visits.models import (
        GroupSession,
        GroupSessionHeadcount,
        Visit,
        group_session_topic,
        visit_topic,
    )

    load_demo_data(profiles=600)
    session = db.session
    migrants = session.scalars(sa.select(Migrant.id).order_by(Migrant.id)).all()
    # Merged tombstones and withdrawn consent are not counted.
    session.execute(
        sa.update(Migrant)
        .where(Migrant.id.in_(migrants[1:40:3]))
        .values(merged_into_id=migrants[0])
    )
    session.execute(
        sa.update(Consent)
        .where(Consent.migrant_id.in_(migrants[2:60:5]), Consent.purpose == "statistics")
        .values(withdrawn_on=datetime.date(2025, 1, 1))
    )
    # Visits in another country and years apart, so that persons fall in several cells.
    centres = session.execute(sa.select(Centre.id, Centre.country_code)).all()
    foreign = {country: next(i for i, c in centres if c != country) for _i, country in centres}
    visits = session.execute(
        sa.select(Visit.id, Centre.country_code)
        .join(Centre, Centre.id == Visit.centre_id)
        .order_by(Visit.id)
    ).all()
    for visit_id, country in visits[::7]:
        session.execute(
            sa.update(Visit).where(Visit.id == visit_id).values(centre_id=foreign[country])
        )
    for visit_id, _country in visits[3::11]:
        when = session.scalar(sa.select(Visit.occurred_at).where(Visit.id == visit_id))
        session.execute(
            sa.update(Visit)
            .where(Visit.id == visit_id)
            .values(occurred_at=when - datetime.timedelta(days=400))
        )
    # Visits and a group session without topics.
    session.execute(
        sa.delete(visit_topic).where(visit_topic.c.visit_id.in_([v for v, _c in visits[::13]]))
    )
    first_session = session.scalar(sa.select(sa.func.min(GroupSession.id)))
    session.execute(
        sa.delete(group_session_topic).where(
            group_session_topic.c.group_session_id == first_session
        )
    )
    session.execute(
        sa.delete(GroupSessionHeadcount).where(
            GroupSessionHeadcount.group_session_id == first_session
        )
    )
    session.add(
        GroupSessionHeadcount(group_session_id=first_session, sex="F", age_band="18-24", count=0)
    )
    # A person naming two rare destinations is one person in "other".
    for code in ("TV", "NR"):
        session.add(MigrantCode(migrant_id=migrants[-1], kind="destination", code=code))
    session.execute(
        sa.update(Migrant).where(Migrant.id == migrants[-1]).values(intention="emigrate")
    )
    # A region whose code lacks its country's ISO 3166-2 prefix is given one.
    from msc.centres.models import Region

    session.execute(sa.update(Region).where(Region.code == "RS-06").values(code="06"))
    # An empty outcome counts as no outcome.
    session.execute(
        sa.update(Referral)
        .where(Referral.id.in_(session.scalars(sa.select(Referral.id).limit(5)).all()))
        .values(outcome="")
    )
    session.commit()


REQUESTS = [
    ("year", None, None),
    ("quarter", datetime.date(2024, 4, 1), datetime.date(2026, 1, 1)),
    ("month", None, None),
]


def test_every_table_counted_in_sql_equals_the_count_of_its_records():
    _population()
    with research_connection() as connection:
        for spec in CATALOGUE:
            for (granularity, start, end), geography in itertools.product(
                REQUESTS, spec.geographies
            ):
                area = {} if geography == "country" else {"geography": geography}
                counted = spec.counts(connection, start, end, granularity, K, **area)
                units = list(spec.rows(connection, start, end, granularity, **area))
                reference = aggregate(spec, units, K)
                assert counted.cells, spec.id
                where = (spec.id, granularity, geography)
                assert counted.cells == reference.cells, where
                assert list(map(sorted, counted.categories)) == list(
                    map(sorted, reference.categories)
                ), where
    # The population does reach the hard cases.
    with research_connection() as connection:
        visits = TABLES["visits_by_topic"].counts(connection, None, None, "year", K)
    totals = visits.cells[(TOTAL, TOTAL, TOTAL)]
    by_year = sum(
        persons
        for key, (_u, persons) in visits.cells.items()
        if key[0] == TOTAL and key[2] == TOTAL
    )
    assert by_year > totals[1]  # some persons have visits in several years: counted once


def test_the_tally_counts_a_person_in_several_cells_once_in_each_total():
    from msc.research.catalogue import _add_counted, _counted_by_cell

    spec = TABLES["referrals_by_outcome"]
    tally = Tally(spec)
    # Person 1: two referrals, different outcome and year; person 2: one referral.
    rows = [(1, "training", "open", "2024"), (1, "training", "placed", "2025")]
    rows += [(2, "training", "placed", "2025")]
    records = sa.union_all(
        *(
            sa.select(
                *(sa.literal(value).label(name) for value, name in zip(row, "mkop", strict=True))
            )
            for row in rows
        )
    )
    with research_connection() as connection:
        _add_counted(tally, connection.execute(_counted_by_cell(records, ("k", "o", "p"))))
    counts = tally.counts()
    assert counts.cells[("training", TOTAL, TOTAL)] == (3, 2)
    assert counts.cells[("training", "open", TOTAL)] == (1, 1)
    assert counts.cells[(TOTAL, TOTAL, "2025")] == (2, 2)
    units = [
        _unit(1, ("training", "open", "2024")),
        _unit(1, ("training", "placed", "2025")),
        _unit(2, ("training", "placed", "2025")),
    ]
    assert aggregate(spec, units, K).cells == counts.cells


def _unit(person, categories):
    from msc.research.catalogue import Unit

    return Unit(("r", person, categories), person, 0, 1, categories)


@pytest.mark.parametrize("table_id", ["persons_registered", "referrals_by_outcome"])
def test_protection_from_counts_equals_protection_from_records(table_id):
    _population()
    spec = TABLES[table_id]
    with research_connection() as connection:
        counts = spec.counts(connection, None, None, "year", K)
        units = list(spec.rows(connection, None, None, "year"))
    assert isinstance(counts, Counts)
    assert table_rows(protect(spec, counts, K, 5)) == table_rows(protect(spec, units, K, 5))


def test_tables_by_region_count_the_regions_of_the_centres():
    """REF_AREA by region: ISO 3166-2 codes, a prefix added where a code lacks it, and every
    region's cells add up to its country's."""
    _population()
    spec = TABLES["persons_registered"]
    with research_connection() as connection:
        by_country = spec.counts(connection, None, None, "year", K)
        by_region = spec.counts(connection, None, None, "year", K, geography="region")
    regions = set(by_region.categories[1])
    assert "RS-06" in regions and "RS-00" in regions and "06" not in regions
    assert all(code[:2] in by_country.categories[1] and code[2] == "-" for code in regions)
    for country in by_country.categories[1]:
        persons = sum(
            cell[1]
            for key, cell in by_region.cells.items()
            if key[1].startswith(country + "-") and key[0] == key[2] == key[3] == TOTAL
        )
        assert persons == by_country.cells[(TOTAL, country, TOTAL, TOTAL)][1]
    assert by_region.cells[(TOTAL,) * 4] == by_country.cells[(TOTAL,) * 4]


def test_the_statements_of_a_table_read_one_snapshot(make_user, make_migrant):
    """A table by region counts twice, and its countries must be the sums of its regions: what
    is saved meanwhile is not seen until the next table (on both databases)."""
    from msc.core.roles import Role

    counsellor = make_user(Role.COUNSELLOR)
    make_migrant(counsellor)
    spec = TABLES["persons_registered"]
    with research_connection() as connection:
        before = spec.counts(connection, None, None, "year", K)
        make_migrant(counsellor, given_name="Later")  # saved and committed by the session
        again = spec.counts(connection, None, None, "year", K, geography="region")
    with research_connection() as connection:
        after = spec.counts(connection, None, None, "year", K)
    assert again.cells[(TOTAL,) * 4] == before.cells[(TOTAL,) * 4] == (1, 1)
    assert after.cells[(TOTAL,) * 4] == (2, 2)
