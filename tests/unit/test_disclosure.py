"""Property tests of disclosure control over generated populations."""

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc.research.audit import _audit_table
from msc.research.catalogue import TABLES, Unit
from msc.research.disclosure import (
    FREE,
    PRIMARY,
    SECONDARY,
    protect,
    protection_level,
    round_to_base,
    table_rows,
)

SPEC = TABLES["persons_category"]  # three additive dimensions: category x labour status x sex
K, BASE = 10, 5
LEVEL = protection_level(K)

person = st.tuples(
    st.sampled_from(["intending_emigrant", "returned_migrant", "immigrant"]),
    st.sampled_from(["employed", "unemployed", "student"]),
    st.sampled_from(["F", "M"]),
)
population = st.lists(person, min_size=0, max_size=120)


def units_of(people):
    return [Unit(("m", i), i, 0, 1, categories) for i, categories in enumerate(people)]


def rows_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().encode()


SETTINGS = settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(population)
def test_no_published_cell_counts_1_to_k_minus_1_persons(people):
    table = protect(SPEC, units_of(people), K, BASE)
    for cell in table.cells.values():
        if cell.status == FREE:
            assert cell.persons == 0 or cell.persons >= K
            assert cell.value % BASE == 0
        else:
            assert cell.value is None
        if 1 <= cell.persons < K:
            assert cell.status == PRIMARY


@SETTINGS
@given(population)
def test_no_suppressed_cell_can_be_recovered_from_what_is_published(people):
    table = protect(SPEC, units_of(people), K, BASE)
    rows = table_rows(table)
    assert _audit_table(SPEC.id, rows_csv(rows), K, BASE) == []
    # An outsider who reads the statuses too (A: 1 to k-1 persons, D: at least k), by linear
    # programs written out apart from the audit's: no primary cell narrower than the level,
    # or than the statuses and zeros alone leave it.
    published = {k: c.value if c.status == FREE else 0 for k, c in table.cells.items()}
    assert linear_programs_for_every_cell(table, LEVEL, published, BASE // 2) == []


@SETTINGS
@given(population)
def test_the_same_data_gives_the_same_table(people):
    first = table_rows(protect(SPEC, units_of(people), K, BASE))
    second = table_rows(protect(SPEC, units_of(list(people)), K, BASE))
    assert first == second


def test_a_lone_small_cell_gets_a_complementary_partner():
    people = (
        [("returned_migrant", "employed", "F")] * 3
        + [("returned_migrant", "employed", "M")] * 30
        + [("intending_emigrant", "employed", "F")] * 30
        + [("intending_emigrant", "employed", "M")] * 30
    )
    table = protect(SPEC, units_of(people), K, BASE)
    small = table.cells[("returned_migrant", "employed", "F")]
    assert small.status == PRIMARY
    assert any(c.status == SECONDARY for c in table.cells.values())
    assert _audit_table(SPEC.id, rows_csv(table_rows(table)), K, BASE) == []


def test_the_audit_catches_a_tampered_table():
    people = (
        [("returned_migrant", "employed", "F")] * 3
        + [("returned_migrant", "employed", "M")] * 30
        + [("intending_emigrant", "employed", "F")] * 30
        + [("intending_emigrant", "employed", "M")] * 30
    )
    rows = table_rows(protect(SPEC, units_of(people), K, BASE))
    secondary = [r for r in rows if r["CONF_STATUS"] == SECONDARY]
    for row in secondary:  # publish the complementary cells: the primary one becomes computable
        row["CONF_STATUS"], row["OBS_VALUE"] = FREE, 30
    # Rounded to 5 they would still leave it anywhere in 1..9, as its status does; unrounded
    # (base 1) they give it away.
    problems = _audit_table(SPEC.id, rows_csv(rows), K, 1)
    assert any("can be narrowed" in p for p in problems)
    rows[0]["OBS_VALUE"] = 7  # not a multiple of the base, and below k
    assert any("not a multiple" in p for p in _audit_table(SPEC.id, rows_csv(rows), K, BASE))


def occupations(people) -> list[Unit]:
    return [Unit(("m", i), i, 0, 1, categories) for i, categories in enumerate(people)]


def test_a_complementary_status_does_not_let_a_primary_cell_be_narrowed():
    """A D cell could have been published, so it holds at least k: an outsider who knows that
    (and that an A cell holds 1 to k-1) must still not narrow the A cell. Modelled as >= 0 only,
    one person beside ten was published as a row of 10 and the D partner, giving it away as 1
    or 2 (an external review's case)."""
    spec = TABLES["occupation_sought"]
    people = [("2", "F")] + [("2", "M")] * 10
    for occupation in ("5", "7"):
        people += [(occupation, "F")] * 30 + [(occupation, "M")] * 30
    table = protect(spec, occupations(people), K, BASE)
    assert table.cells[("2", "F")].status == PRIMARY
    published = {k: c.value if c.status == FREE else 0 for k, c in table.cells.items()}
    low, high = feasible_intervals(table, published, BASE // 2, only=[("2", "F")])[("2", "F")]
    assert high >= LEVEL and high - low >= 1
    assert _audit_table(spec.id, rows_csv(table_rows(table)), K, BASE) == []


def test_the_audit_finds_a_complementary_cell_worked_out_from_the_figures():
    rows = [
        {"OCCUPATION": o, "SEX": sex, "OBS_VALUE": v, "CONF_STATUS": "D" if v is None else "F"}
        | {"FLAG": ""}
        for o, sex, v in [
            ("2", "F", None),
            ("2", "M", None),
            ("2", "O", 0),
            ("2", "U", 0),
            ("2", "_T", 20),
            ("5", "F", None),
            ("5", "M", 30),
            ("5", "O", 0),
            ("5", "U", 0),
            ("5", "_T", 60),
            ("_T", "F", 33),
            ("_T", "M", 47),
            ("_T", "O", 0),
            ("_T", "U", 0),
            ("_T", "_T", 80),
        ]  # fmt: skip
    ]
    problems = _audit_table("occupation_sought", rows_csv(rows), K, 1)  # unrounded: exact
    assert "occupation_sought: complementary cell ('5', 'F') can be computed exactly" in problems


def test_everyone_in_one_category_is_flagged():
    people = [("returned_migrant", "employed", "F")] * 20 + [
        ("returned_migrant", "student", "F")
    ] * 2
    table = protect(SPEC, units_of(people), K, BASE)
    flagged = {key for key, cell in table.cells.items() if cell.flag == "G"}
    assert ("returned_migrant", "_T", "F") in flagged


def known_bounds(table, key, statuses_only=False):
    """What an outsider knows of a cell before any linear program (written out here apart from
    `ProtectedTable.known_range`): an A cell holds 1 to k-1 persons, a D cell or (from the
    statuses alone) a published count at least k, a regional D cell at least 1."""
    status = table.cells[key].status
    if status == PRIMARY:
        return (1.0, K - 1.0 if table.spec.units_are_persons else None)
    if status == SECONDARY and table.regional:
        return (1.0, None)
    return (float(K), None)


def feasible_intervals(table, published=None, slack=0.0, only=None, statuses_only=False):
    """Every suppressed cell's (or those of `only`) least and greatest value given what is
    published: two linear programs per cell. A published zero is exact; any other published
    count is at least k and within ±slack of its value. With `statuses_only`, every count but
    the zeros is unknown: what the statuses and the zeros alone tell."""
    import numpy as np
    from scipy.optimize import linprog

    known = published if published is not None else {k: c.units for k, c in table.cells.items()}
    hidden = [
        k for k, c in table.cells.items() if c.status != FREE or (statuses_only and known[k] > 0)
    ]
    index = {k: i for i, k in enumerate(hidden)}
    rows, bounds = [], []
    for total, *parts in table.equations:
        if not any(k in index for k in (total, *parts)):
            continue
        row, least, most = np.zeros(len(hidden)), 0.0, 0.0  # of the published side
        for k, sign in [(total, 1.0)] + [(p, -1.0) for p in parts]:
            if k in index:
                row[index[k]] += sign
            elif known[k] > 0:
                low, high = (
                    (max(K, known[k] - slack), known[k] + slack) if slack else (known[k],) * 2
                )
                least += sign * (low if sign > 0 else high)
                most += sign * (high if sign > 0 else low)
        # row . x + published = 0, so -most <= row . x <= -least
        rows += [row, -row]
        bounds += [-least, most]
    variable_bounds = [known_bounds(table, k, statuses_only) for k in hidden]
    intervals = {}
    for key in hidden if only is None else only:
        if not rows:
            continue
        objective = np.zeros(len(hidden))
        objective[index[key]] = 1.0
        program = {"A_ub": np.array(rows), "b_ub": bounds, "bounds": variable_bounds}
        low = linprog(objective, **program, method="highs")
        high = linprog(-objective, **program, method="highs")
        if low.status == 0:
            intervals[key] = (low.fun, -high.fun if high.status == 0 else np.inf)
    return intervals


def linear_programs_for_every_cell(table, protection, published=None, slack=0.0):
    """The audit by definition, with no short cuts: two linear programs per suppressed cell. A
    primary cell is weak when what is published shows it to hold fewer than `protection`, or
    determines it, unless the statuses and zeros alone show that."""
    intervals = feasible_intervals(table, published, slack)
    alone = feasible_intervals(table, published, statuses_only=True)
    weak = []
    for key, (low, high) in intervals.items():
        if table.cells[key].status != PRIMARY:
            continue
        low_alone, high_alone = alone[key]
        reach, need = min(protection, high_alone), min(1.0, high_alone - low_alone)
        if high < reach - 1e-6 or high - low < need - 1e-6:
            weak.append(key)
    return weak


@SETTINGS
@given(population, st.booleans(), st.booleans())
def test_the_interval_audit_finds_exactly_the_cells_linear_programs_find(
    people, rounded, interior_point
):
    """Bound propagation, hypercubes and shared programs only save time: the cells found too
    narrow are those that a pair of linear programs per cell finds, before and after protection,
    with true or with rounded published values, whichever method solves the programs."""
    from unittest import mock

    from msc.research import disclosure

    switch = 0 if interior_point else disclosure.INTERIOR_POINT_FROM
    with mock.patch.object(disclosure, "INTERIOR_POINT_FROM", switch):
        _audit_agrees_with_linear_programs(people, rounded)


def _audit_agrees_with_linear_programs(people, rounded):
    from msc.research import disclosure
    from msc.research.disclosure import _close_singletons, audit_intervals

    table = protect(SPEC, units_of(people), K, BASE)
    for cell in table.cells.values():  # as in the first round: many cells are still weak
        if cell.status == SECONDARY:
            cell.status = FREE
    _close_singletons(table)
    published = {k: disclosure.round_to_base(c.units, BASE) for k, c in table.cells.items()}
    arguments = (published, BASE // 2) if rounded else (None, 0.0)
    expected = linear_programs_for_every_cell(table, LEVEL, *arguments)
    assert audit_intervals(table, LEVEL, *arguments) == expected


def test_without_the_highs_model_linprog_gives_the_same_table(monkeypatch):
    from msc.research import disclosure

    people = (
        [("returned_migrant", "employed", "F")] * 3
        + [("returned_migrant", "student", "M")] * 4
        + [("returned_migrant", "employed", "M")] * 30
        + [("intending_emigrant", "employed", "F")] * 30
        + [("intending_emigrant", "student", "M")] * 12
    )
    with_highs = table_rows(protect(SPEC, units_of(people), K, BASE))
    monkeypatch.setattr(disclosure, "_Highs", None)
    assert table_rows(protect(SPEC, units_of(people), K, BASE)) == with_highs


def registrations(count, seed=0):
    """Persons registered (period x country x sex x age band): four additive dimensions."""
    import random

    from msc.research.catalogue import AGE_BANDS

    rng = random.Random(seed)
    return [
        Unit(
            ("m", i),
            i,
            0,
            1,
            (
                rng.choice(["2024", "2025"]),
                rng.choice(["RS", "AL"]),
                rng.choices("FMOU", [45, 45, 6, 4])[0],
                rng.choice(AGE_BANDS)[0],
            ),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("interior_point", [False, True])
def test_the_interval_audit_agrees_with_linear_programs_on_a_four_way_table(
    interior_point, monkeypatch
):
    """Persons registered (period x country x sex x age band), as the first round sees it:
    dozens of primary cells, many too narrow, with true and with rounded published values;
    solved by simplex alone, or with the interior-point method of large systems. Protected
    either way, it passes the package's audit."""
    from msc.research import disclosure
    from msc.research.disclosure import _close_singletons, audit_intervals

    if interior_point:
        monkeypatch.setattr(disclosure, "INTERIOR_POINT_FROM", 0)
    spec = TABLES["persons_registered"]
    units = registrations(400)
    assert _audit_table(spec.id, rows_csv(table_rows(protect(spec, units, K, BASE))), K, BASE) == []
    table = protect(spec, units, K, BASE)
    for cell in table.cells.values():
        if cell.status == SECONDARY:
            cell.status = FREE
    _close_singletons(table)
    published = {k: disclosure.round_to_base(c.units, BASE) for k, c in table.cells.items()}
    weak = audit_intervals(table, LEVEL)
    assert len(weak) > 10 and weak == linear_programs_for_every_cell(table, LEVEL)
    assert audit_intervals(table, LEVEL, published, 2.0) == linear_programs_for_every_cell(
        table, LEVEL, published, 2.0
    )


def destinations(count, seed=0):
    """Persons by destination (not additive: one may name two) x sex x age band."""
    import random

    from msc.research.catalogue import AGE_BANDS

    rng = random.Random(seed)
    named = [rng.sample(["AT", "DE", "IT", "US"], rng.choice([1, 1, 2])) for _ in range(count)]
    return [
        Unit(
            ("m", i),
            i,
            0,
            1,
            (
                tuple(sorted(named[i])),
                rng.choices("FMOU", [45, 45, 6, 4])[0],
                rng.choice(AGE_BANDS)[0],
            ),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("table_id", "units"),
    [
        ("persons_registered", registrations(400, seed=3)),
        ("persons_destination", destinations(300)),
    ],
)
def test_hypercube_moves_stay_within_what_linear_programs_allow(table_id, units):
    """The hypercubes only give feasible points: no cell moves further down or up along them
    than its least and greatest feasible values, and they do move many cells; also where a
    dimension that is not additive (destinations) comes first."""
    import numpy as np

    from msc.research.disclosure import _hypercube_reaches

    table = protect(TABLES[table_id], units, K, BASE)
    hidden = [k for k, c in table.cells.items() if c.status != FREE]
    index = {k: i for i, k in enumerate(hidden)}
    point = np.array([table.cells[k].units for k in hidden], dtype=float)
    down, up = _hypercube_reaches(table, index, point, *table.known_range(hidden))
    intervals = feasible_intervals(table)
    for key, i in index.items():
        low, high = intervals[key]
        assert point[i] - down[i] >= low - 1e-6 and point[i] + up[i] <= high + 1e-6, key
    assert np.count_nonzero(down + up) > len(hidden) / 4


def test_cells_confirmed_short_by_feasible_points_are_short_of_their_exact_interval():
    """A cell whose interval falls short of what feasible points of the statuses alone reach
    falls short of what linear programs over the statuses give (programs that move many cells
    at once only save single programs): every cell so confirmed is one the reference confirms,
    and the short cut confirms some."""
    table = protect(TABLES["persons_registered"], registrations(400), K, BASE)
    for cell in table.cells.values():  # as in the first round: many cells are still weak
        if cell.status == SECONDARY:
            cell.status = FREE
    intervals = {
        k: v for k, v in feasible_intervals(table).items() if table.cells[k].status == PRIMARY
    }
    alone = feasible_intervals(table, statuses_only=True)
    expected = {
        key
        for key, (low, high) in intervals.items()
        if high < min(LEVEL, alone[key][1]) - 1e-6
        or high - low < min(1.0, alone[key][1] - alone[key][0]) - 1e-6
    }
    known = {k: c.units for k, c in table.cells.items()}
    table._from_statuses = None  # set up afresh, as a first round finds it
    surely = table.from_statuses(known, 0.0).short_of_inner(intervals, LEVEL)
    assert surely and surely <= expected


def test_a_cluster_with_no_partner_left_is_not_searched_again():
    """A weak cell whose linked suppressed cells have no published partner left in any of their
    equations is marked with all of them, and a search from any of them ends at once: each of
    those equations holds no candidate (a cell could only have been suppressed from one)."""
    from msc.research.disclosure import _candidates, _suppress_partner

    _national, linked = linked_release(300, seed=3)
    assert linked._cut_off
    for key in linked._cut_off:
        assert linked.cells[key].status != FREE
        assert not any(_candidates(linked, e) for e in linked.equations_with({key}))
    statuses = {k: c.status for k, c in linked.cells.items()}
    looked = []
    linked.equations_with = lambda keys: looked.append(keys) or []  # what a search reads first
    assert not _suppress_partner(linked, next(iter(linked._cut_off)))
    assert looked == [] and statuses == {k: c.status for k, c in linked.cells.items()}


def test_the_complementary_audit_starts_from_what_the_primary_audit_reached(monkeypatch):
    """The primary audit keeps how far its feasible points moved each suppressed cell: within
    each cell's interval (each within its status's range), so feasible in the complementary
    audit of the same suppression and published counts too (each merely >= 0). That audit
    starts from it: with no hypercube moves it needs no program, where it needs some without,
    and finds the same; so too with rounded published counts, as a package's audit reads them.
    Its own points are not kept (they need not be feasible the other way round)."""
    import numpy as np

    from msc.research import disclosure
    from msc.research.disclosure import _with_reached, audit_intervals

    table = protect(TABLES["persons_registered"], registrations(400), K, BASE)
    rounded = {k: round_to_base(c.units, BASE) for k, c in table.cells.items()}
    solves = []
    solve = disclosure._System.solve
    monkeypatch.setattr(
        disclosure._System, "solve", lambda *a, **k: solves.append(1) or solve(*a, **k)
    )
    hypercubes = disclosure._hypercube_reaches
    for published, slack in ((None, 0.0), (rounded, BASE // 2)):
        monkeypatch.setattr(disclosure, "_hypercube_reaches", hypercubes)
        table._reached = None
        assert audit_intervals(table, LEVEL, published, slack) == []
        given, least, greatest = table._reached
        assert given == ("".join(c.status for c in table.cells.values()), published, slack)
        assert np.all(greatest - least > 0)
        for i, (low, high) in enumerate(feasible_intervals(table, published, slack).values()):
            assert low - 1e-6 <= least[i] and greatest[i] <= high + 1e-6
        monkeypatch.setattr(
            disclosure, "_hypercube_reaches", lambda _t, index, *_a: (np.zeros(len(index)),) * 2
        )
        solves.clear()
        found = audit_intervals(table, LEVEL, published, slack, secondary=True)
        starting = len(solves)  # with published counts, one finds a feasible point first
        assert starting == (0 if published is None else 1) and table._reached[1] is least
        table._reached = None
        solves.clear()
        assert audit_intervals(table, LEVEL, published, slack, secondary=True) == found
        assert len(solves) > starting and table._reached is None
    audit_intervals(table, LEVEL, rounded, BASE // 2)
    given, inner = table._reached[0], (np.zeros(len(least)), np.zeros(len(least)))
    assert _with_reached(table, given, inner) is not inner
    # Only an audit given the same statuses (a complementary cell read as primary has other
    # bounds), the same published counts (a copy is kept: the caller's may change) and slack.
    swapped = given[0].replace(SECONDARY, PRIMARY, 1)
    rounded[next(iter(rounded))] += BASE
    for other in (
        (swapped, given[1], BASE // 2),
        (given[0], None, BASE // 2),
        (given[0], given[1], 1),
        (given[0], rounded, BASE // 2),
    ):
        assert _with_reached(table, other, inner) is inner
    # A complementary cell left alone in an equation is worked out from it: what the primary
    # audit reached (it holds that cell at its one value too) does not hide it.
    alone = next(k for k, c in table.cells.items() if c.status == SECONDARY)
    for key in table.equations_with({alone})[0]:
        if key != alone:
            table.cells[key].status = FREE
    table._reached = None
    audit_intervals(table, LEVEL)
    assert table._reached is not None
    assert audit_intervals(table, LEVEL, secondary=True) == [alone]


@pytest.mark.parametrize("must_rise", [True, False])
def test_boxes_never_push_down_a_cell_that_must_reach_higher(must_rise):
    """The programs that settle many cells at once push a cell that must reach higher up or
    leave it free, never down (it would only make room, which free it can too); a cell that
    must merely not be determined, up or down."""
    import numpy as np

    from msc.research.disclosure import _push_out, _System

    # Twelve cells of 1 to 9 that sum to 48, each at 4 and never settled: every program pushes
    # all twelve.
    n = 12
    system = _System(
        n,
        np.zeros(n, int),
        np.arange(n),
        np.ones(n),
        *[np.array([48.0])] * 2,
        np.ones(n),
        np.full(n, 9.0),
    )
    objectives, solve = [], system.solve
    system.solve = lambda objective, box: (
        objectives.append(objective.copy()) or solve(objective, box)
    )
    point = np.full(n, 4.0)
    _push_out(
        system,
        point,
        (point, point),
        np.arange(n),
        lambda at, _low, high: at[high[at] < 100],
        3,
        attempts=8,
        enough=lambda left: 0,
        rising=lambda at, _low, _high: np.full(len(at), must_rise),
    )
    assert len(objectives) == 8 and np.all(objectives[0] == -1)  # all up first
    pushed = np.concatenate(objectives[1:])
    assert np.any(pushed == -1) and np.any(pushed == (0 if must_rise else 1))
    assert not np.any(pushed == (1 if must_rise else 0))


REGIONS = {"RS": ["RS-00", "RS-06", "RS-20"], "AL": ["AL-11", "AL-02"]}


def registrations_by_region(count, seed=0):
    """The persons of `registrations`, each at a centre in one of their country's regions: the
    table by country, and the same persons by region."""
    import random

    rng = random.Random(seed)
    national, by_region = [], []
    for unit in registrations(count, seed):
        period, country, sex, band = unit.categories
        region = rng.choice(REGIONS[country])
        national.append(unit)
        by_region.append(Unit(unit.key, unit.person, 0, 1, (period, region, sex, band)))
    return national, by_region


def linked_release(count, seed):
    """The national release and the release by region of the same persons."""
    from msc.research.disclosure import aggregate
    from msc.research.package import nested_consistently, protect_by_area

    spec = TABLES["persons_registered"]
    national, by_region = registrations_by_region(count, seed)
    counted = aggregate(spec, national, K), aggregate(spec, by_region, K)
    assert nested_consistently(spec, *counted)
    return protect(spec, national, K, BASE), protect_by_area(spec, *counted, K, BASE)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10_000))
def test_a_release_by_region_keeps_the_national_release_and_protects_both(seed):
    """Regions beside their countries: each country is the sum of its regions. The countries'
    cells are as the national release has them, and nothing suppressed in either release can be
    narrowed from what both publish (the audit reads the nesting from the codes)."""
    national, linked = linked_release(300, seed)
    for key, cell in national.cells.items():
        assert linked.cells[key].status == cell.status, key
        assert linked.cells[key].value == cell.value, key
    assert any("-" in key[1] and cell.status == FREE for key, cell in linked.cells.items())
    assert _audit_table("persons_registered", rows_csv(table_rows(linked)), K, BASE) == []


def test_the_audit_reads_each_country_as_the_sum_of_its_regions(monkeypatch):
    """A country with one region: the region's cell is the country's. Publishing the region's
    cell beside a suppressed country cell gives the country away, and the audit says so."""
    monkeypatch.setitem(REGIONS, "RS", ["RS-00"])
    _national, linked = linked_release(300, 1)
    for key, cell in linked.cells.items():  # the one region is its country, status and all
        if key[1] == "RS-00":
            assert cell.status == linked.cells[(key[0], "RS", *key[2:])].status, key
    rows = table_rows(linked)
    assert _audit_table("persons_registered", rows_csv(rows), K, BASE) == []
    by_key = {tuple(row[d] for d in ("TIME_PERIOD", "REF_AREA", "SEX", "AGE")): row for row in rows}
    country = next(
        key for key, row in by_key.items() if key[1] == "RS" and row["CONF_STATUS"] == PRIMARY
    )
    region = by_key[(country[0], "RS-00", *country[2:])]
    region.update(OBS_VALUE=round_to_base(linked.cells[country].units, BASE), CONF_STATUS=FREE)
    problems = _audit_table("persons_registered", rows_csv(rows), K, BASE)
    assert any(str(country) in problem for problem in problems), problems


def test_hypercube_moves_stay_within_what_linear_programs_allow_in_a_nested_table():
    """Only two regions of one country move against each other: a country with its regions
    moves with them or not at all. The moves stay feasible."""
    import numpy as np

    from msc.research.disclosure import _hypercube_reaches

    _national, table = linked_release(300, 3)
    hidden = [k for k, c in table.cells.items() if c.status != FREE]
    index = {k: i for i, k in enumerate(hidden)}
    point = np.array([table.cells[k].units for k in hidden], dtype=float)
    down, up = _hypercube_reaches(table, index, point, *table.known_range(hidden))
    moved = [key for key, i in index.items() if down[i] + up[i] > 0]
    regions = [key for key in moved if "-" in key[1]]
    countries = [key for key in moved if "-" not in key[1]]
    assert regions and not countries
    checked = regions[:: max(1, len(regions) // 40)]  # two linear programs a cell: a sample
    intervals = feasible_intervals(table, only=checked)
    for key in checked:
        i, (low, high) = index[key], intervals[key]
        assert point[i] - down[i] >= low - 1e-6 and point[i] + up[i] <= high + 1e-6, key


def test_countries_that_are_not_the_sums_of_their_regions_are_caught():
    """Two counts that disagree (a write between them, a region under another country) would
    give equations with no solution, which proves nothing: they are refused before protection,
    and an audit that meets contradicting figures proves no cell safe."""
    from msc.research.disclosure import aggregate, audit_intervals
    from msc.research.package import nested_consistently

    spec = TABLES["persons_registered"]
    national, by_region = registrations_by_region(300, 2)
    moved = [
        Unit(u.key, u.person, 0, 1, (u.categories[0], "AL-11", *u.categories[2:]))
        for u in by_region[:1]
    ]
    skewed = aggregate(spec, moved + by_region[1:], K)
    assert not nested_consistently(spec, aggregate(spec, national, K), skewed)
    one_more = aggregate(spec, by_region + [Unit(("m", -1), -1, 0, 1, by_region[0].categories)], K)
    assert not nested_consistently(spec, aggregate(spec, national, K), one_more)

    _national, linked = linked_release(1000, 2)  # enough persons for published totals
    published = {k: c.units for k, c in linked.cells.items()}
    cells = linked.cells
    total = next(  # a published cell in an equation with suppressed cells
        equation[0]
        for equation in linked.equations
        if cells[equation[0]].status == FREE and any(cells[k].status != FREE for k in equation)
    )
    published[total] = -1000  # less than its parts can be: no solution
    primaries = [k for k, c in linked.cells.items() if c.status == PRIMARY]
    assert sorted(audit_intervals(linked, LEVEL, published, 0.0)) == sorted(primaries)


def test_a_solver_that_fails_proves_no_cell_safe(monkeypatch):
    """Only an optimum or a proven unbounded program settles a cell: when the solver fails on a
    cell's own programs, the audit calls that cell too narrow instead of passing it."""
    import numpy as np

    from msc.research import disclosure
    from msc.research.disclosure import audit_intervals

    table = protect(TABLES["persons_registered"], registrations(400), K, BASE)
    assert audit_intervals(table, LEVEL) == []
    real_solve, failed = disclosure._System.solve, set()
    hidden = [k for k, c in table.cells.items() if c.status != FREE]

    def failing_on_single_cells(system, objective, box=None):
        if box is None and np.count_nonzero(objective) == 1:
            if system.columns == len(hidden):  # the table's, not the statuses' alone
                failed.add(hidden[np.flatnonzero(objective)[0]])
            return None
        return real_solve(system, objective, box)

    monkeypatch.setattr(disclosure._System, "solve", failing_on_single_cells)
    table._reached = None  # as a first audit finds it: nothing reached before
    weak = audit_intervals(table, LEVEL)
    assert failed and set(weak) == failed


def test_protection_and_its_audit_stop_at_the_deadline_set_for_them():
    from msc.research.disclosure import TooLong, audit_intervals, deadline

    units = registrations(400)
    with deadline(0), pytest.raises(TooLong):
        protect(TABLES["persons_registered"], units, K, BASE)
    table = protect(TABLES["persons_registered"], units, K, BASE)  # no deadline after the block
    table._reached = None  # as a first audit finds it: with programs to solve
    with deadline(0), pytest.raises(TooLong):
        audit_intervals(table, LEVEL)
    with deadline(600):
        assert audit_intervals(table, LEVEL) == []


def test_a_deadline_inside_another_never_extends_it():
    from msc.research.disclosure import TooLong, deadline

    units = registrations(400)
    with deadline(0), deadline(600), pytest.raises(TooLong):  # a report's table, out of time
        protect(TABLES["persons_registered"], units, K, BASE)
    with deadline(600), deadline(600):
        protect(TABLES["persons_registered"], units, K, BASE)
