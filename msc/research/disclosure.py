"""Statistical disclosure control for the research tables.

Method (after the Handbook on Statistical Disclosure Control, Hundepool et al., ch. 4, and
tau-ARGUS; cf. Statistics Norway's GaussSuppression):

1. Threshold rule (primary suppression, SDMX CONF_STATUS "A"): every cell, margins included,
   counting 1 to k-1 distinct persons is suppressed, whatever the table's counting unit.
2. Complementary suppression ("D"): the table with its margins is a system of linear equations
   (each total is the sum of its categories, for every additive dimension). Cells are suppressed
   until (a) no equation holds exactly one suppressed cell, (b) a linear-programming audit
   (HiGHS, as shipped with scipy) finds that every primary cell, given everything the release
   tells, may still hold `protection_level` (k/2) persons and is not determined, unless the
   statuses and zeros alone show otherwise, and (c) no complementary cell is determined by the
   published cells. What the release tells an outsider includes the
   statuses (SDMX CONF_STATUS, as the package explains them): an A cell holds 1 to k-1 persons,
   a D cell at least k (it was publishable); a published zero is exact, any other published
   count at least k. Modelled as mere non-negative unknowns, a D partner of 10 beside a total
   of 10 published gave its one-person A cell away (an external review's case). Most cells are
   settled by cheaper sound bounds first (`audit_intervals`); the cells found too narrow are
   the same. The cells that bound propagation alone proves too narrow get their partners
   before any linear program runs.
3. Published counts are rounded to a base (5 by default); zeros are published as zeros.
4. A row in which all persons but fewer than k fall in one category is flagged ("G"): publishing
   it tells that (nearly) everyone in the row shares the attribute.
Non-additive dimensions (a visit with two topics counts under both) give no equations; their
totals count each record once. A nested dimension (REF_AREA with countries and their ISO 3166-2
regions) gives an equation per country as well: it is the sum of its regions.

Linked tables (protected together, as the Handbook and tau-ARGUS treat them): a table by region
is released with the same table by country (`package.protect_by_area`). The countries' cells keep
the status the national release gave them (`pinned`); only the regions' cells are suppressed
further, until the audit over both levels passes. The package holds both levels, so that its own
audit sees everything the two releases publish.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csc_matrix, csr_matrix
from scipy.sparse import vstack as sp_vstack

from msc.research.catalogue import OTHER, TOTAL, Counts, Dimension, TableSpec, Unit

try:  # the HiGHS model inside scipy (1.15 and later); else scipy.optimize.linprog
    from scipy.optimize._highspy._core import _Highs
except ImportError:  # pragma: no cover - older scipy
    _Highs = None

FREE, PRIMARY, SECONDARY = "F", "A", "D"
MIN_THRESHOLD = 5
# From this many suppressed cells, a system's first basis and its boxes come from HiGHS's
# interior-point method (with crossover) rather than from simplex: measured at 100,000 profiles,
# persons registered by month (6,284 cells) audited in 23 s instead of 77 (the first basis took
# 7 s by dual simplex, 0.7 s so; a box 5 s, 0.65 s), by quarter and region 151 s instead of 418;
# referrals by month (1,298) 0.33 s instead of 0.58. Below it simplex wins: persons registered by
# year (549 cells) takes 5 ms a box by simplex and 15 ms by interior point.
INTERIOR_POINT_FROM = 1000
UNBOUNDED = "unbounded"  # what `_System.solve` gives when a program has no optimum
_ONE_SOLVE_AT_A_TIME = threading.Lock()


@dataclass
class Cell:
    key: tuple
    units: int = 0
    persons: int = 0
    status: str = FREE
    flag: str = ""
    value: int | None = None  # the published (rounded) value; None when suppressed


@dataclass
class ProtectedTable:
    spec: TableSpec
    categories: list[list[str]]
    cells: dict[tuple, Cell]
    equations: list[list[tuple]] = field(default_factory=list)  # [total, *parts]
    threshold: int = 10
    rounding_base: int = 5
    pinned: frozenset = frozenset()  # cells whose status another release decided: never suppressed
    regional: bool = False  # a regional merge: its D cells are sums that hold a national A
    _containing: dict | None = field(default=None, repr=False)
    # Suppressed cells whose every equation, and every equation of the suppressed cells linked
    # to them, holds no candidate partner: none can be found for them however often one looks
    # (statuses only go from free to suppressed, and a candidate would have been found).
    _cut_off: set = field(default_factory=set, repr=False)
    _incidence: tuple | None = field(default=None, repr=False)
    _from_statuses: _FromStatuses | None = field(default=None, repr=False)
    # How far feasible points of the last audit of the primary cells moved each suppressed cell
    # (which cells were suppressed, the published counts and their slack; least, greatest):
    # `audit_intervals` starts from it (`_with_reached`).
    _reached: tuple | None = field(default=None, repr=False)
    _layout: dict | None = field(default=None, repr=False)

    def incidence(self) -> tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray]:
        """The equations as arrays, one entry per cell of each: its equation's number, the
        cell's position in the returned keys, and its sign (+1 the total, -1 a part)."""
        if self._incidence is None:
            keys = list(self.cells)
            position = {key: i for i, key in enumerate(keys)}
            rows, columns, signs = [], [], []
            for n, equation in enumerate(self.equations):
                rows += [n] * len(equation)
                columns += [position[key] for key in equation]
                signs += [1.0] + [-1.0] * (len(equation) - 1)
            self._incidence = (keys, np.array(rows), np.array(columns), np.array(signs))
        return self._incidence

    def layout(self) -> tuple[list[int], dict[tuple, int]]:
        """The table as an array: its shape (an axis per dimension, the codes in `categories`
        order and the total last), and each cell's position in it, flattened."""
        shape = [len(values) + 1 for values in self.categories]
        if self._layout is None:
            where = [
                {code: n for n, code in enumerate([*values, TOTAL])} for values in self.categories
            ]
            strides = [math.prod(shape[j + 1 :]) for j in range(len(shape))]
            self._layout = {
                key: sum(where[j][code] * strides[j] for j, code in enumerate(key))
                for key in self.cells
            }
        return shape, self._layout

    def hidden_mask(self) -> np.ndarray:
        """Per key of `incidence`, whether the cell is suppressed."""
        return np.array([cell.status != FREE for cell in self.cells.values()], dtype=bool)

    def known_range(self, keys: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        """What an outsider knows of each suppressed cell from its status alone (the package
        says what A and D mean, SDMX CONF_STATUS): a primary cell counts 1 to k-1 persons, so
        it holds at least 1, and at most k-1 where each unit is a person; a complementary cell
        could have been published, so it holds at least k (zeros are published). In a regional
        merge a D cell may be a sum holding a national primary cell: at least 1."""
        primary = np.array([self.cells[k].status == PRIMARY for k in keys], dtype=bool)
        floor = 1.0 if self.regional else float(self.threshold)
        low = np.where(primary, 1.0, floor)
        ceiling = self.threshold - 1.0 if self.spec.units_are_persons else np.inf
        return low, np.where(primary, ceiling, np.inf)

    def from_statuses(self, known: dict, slack: float) -> _FromStatuses:
        """What the statuses and the zeros alone tell (`_FromStatuses`); suppressing a cell
        leaves it as it was (published or D, a count is at least k), so it is set up once."""
        if self._from_statuses is None:
            self._from_statuses = _FromStatuses(self, known, slack)
        return self._from_statuses

    def equation_numbers_with(self, keys: set[tuple]) -> list[int]:
        """The numbers of the equations that hold any of `keys`, in order."""
        if self._containing is None:
            self._containing = defaultdict(list)
            for n, equation in enumerate(self.equations):
                for key in equation:
                    self._containing[key].append(n)
        return sorted({n for key in keys for n in self._containing.get(key, ())})

    def equations_with(self, keys: set[tuple]) -> list[list[tuple]]:
        """The equations that hold any of `keys`, in the table's order."""
        return [self.equations[n] for n in self.equation_numbers_with(keys)]


def sort_code(code: str):
    return (code == TOTAL, code == OTHER, code)


def aggregate(spec: TableSpec, units: list[Unit], threshold: int) -> Counts:
    """The reference count: every cell, totals included, straight from the records."""
    units = _group_rare(spec, units, threshold)
    dimensions = spec.dimensions
    observed = [set(d.fixed_codes or ()) for d in dimensions]
    for unit in units:
        for j, value in enumerate(unit.categories):
            observed[j].update(value if isinstance(value, tuple) else (value,))
    persons: dict[tuple, set] = defaultdict(set)
    extra: dict[tuple, int] = defaultdict(int)
    counts: dict[tuple, int] = defaultdict(int)
    for unit in units:
        choices = [value if isinstance(value, tuple) else (value,) for value in unit.categories]
        keys = set()
        for mask in range(2 ** len(dimensions)):
            options = [(TOTAL,) if mask >> j & 1 else choices[j] for j in range(len(dimensions))]
            keys.update(itertools.product(*options))
        for key in keys:
            counts[key] += unit.weight
            if unit.person is not None:
                persons[key].add(unit.person)
            extra[key] += unit.extra_persons
    cells = {
        key: (units, len(persons.get(key, ())) + extra.get(key, 0)) for key, units in counts.items()
    }
    return Counts([list(values) for values in observed], cells)


def _cells(counts: Counts) -> tuple[list[list[str]], dict[tuple, Cell]]:
    """Every cell of the table (zeros included), from the cells that count something."""
    categories = [sorted(values, key=sort_code) for values in counts.categories]
    cells = {}
    for key in itertools.product(*[values + [TOTAL] for values in categories]):
        units, persons = counts.cells.get(key, (0, 0))
        cells[key] = Cell(key, units, persons)
    return categories, cells


def _group_rare(spec: TableSpec, units: list[Unit], threshold: int) -> list[Unit]:
    """Destinations with fewer than k persons in all are grouped as "other" (_O)."""
    rare_dims = [j for j, d in enumerate(spec.dimensions) if d.id == "DESTINATION"]
    if not rare_dims:
        return units
    j = rare_dims[0]
    people: dict[str, set] = defaultdict(set)
    for unit in units:
        for code in unit.categories[j]:
            people[code].add(unit.person)
    rare = {code for code, who in people.items() if len(who) < threshold}
    grouped = []
    for unit in units:
        codes = tuple(sorted({OTHER if code in rare else code for code in unit.categories[j]}))
        categories = unit.categories[:j] + (codes,) + unit.categories[j + 1 :]
        grouped.append(Unit(unit.key, unit.person, unit.extra_persons, unit.weight, categories))
    return grouped


def equations_of(
    dimensions: tuple[Dimension, ...], categories: list[list[str]]
) -> list[list[tuple]]:
    equations = []
    all_codes = [values + [TOTAL] for values in categories]
    for j, dimension in enumerate(dimensions):
        if not dimension.additive:
            continue
        others = [codes if i != j else [TOTAL] for i, codes in enumerate(all_codes)]
        for whole, parts in families(dimension, categories[j]):
            for total in itertools.product(*others):
                equations.append([total[:j] + (code,) + total[j + 1 :] for code in (whole, *parts)])
    return equations


def families(dimension: Dimension, codes: list[str]) -> list[tuple[str, list[str]]]:
    """Each code that is the sum of others, with those parts: the total, of the codes that are
    part of nothing else; in a nested dimension also each country, of its regions."""
    present = frozenset(codes)
    parts: dict[str, list[str]] = {TOTAL: []}
    for code in codes:
        parts.setdefault(dimension.parent(code, present), []).append(code)
    return list(parts.items())


class TooLong(Exception):
    """Protecting or auditing went on past the deadline its caller set (`deadline`)."""


_DEADLINE: ContextVar[float | None] = ContextVar("research_deadline", default=None)


@contextmanager
def deadline(seconds: float):
    """Within the block, protection and audit stop with TooLong once `seconds` have passed:
    a preview must answer before the web server's timeout, and a package must not hold its
    preparer for hours. Checked before each linear program and each round of suppression. A
    deadline inside another never extends it (the report's tables share the report's time)."""
    at, outer = time.monotonic() + seconds, _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _check_deadline() -> None:
    at = _DEADLINE.get()
    if at is not None and time.monotonic() > at:
        raise TooLong


def protect(
    spec: TableSpec,
    units: list[Unit] | Counts,
    threshold: int,
    rounding_base: int,
    protection: int | None = None,
    pinned: dict[tuple, str] | None = None,
) -> ProtectedTable:
    """Disclosure control of one table, from its records (`Unit`s) or its counts (`Counts`).
    `pinned` gives the status of cells another release has published or suppressed already
    (linked tables): they keep it, are audited with the rest, and are never chosen as partners."""
    threshold = max(threshold, MIN_THRESHOLD)
    counts = units if isinstance(units, Counts) else aggregate(spec, units, threshold)
    categories, cells = _cells(counts)
    pinned = pinned or {}
    table = ProtectedTable(
        spec,
        categories,
        cells,
        equations_of(spec.dimensions, categories),
        threshold,
        rounding_base,
        frozenset(pinned),
    )
    for cell in cells.values():
        if 1 <= cell.persons < threshold:
            cell.status = PRIMARY
        elif cell.key in pinned:  # suppressed there stays suppressed; a primary stays one
            cell.status = pinned[cell.key]
    protection = protection or protection_level(threshold)
    # First the cells that bound propagation alone shows too narrow (no linear program), then
    # the linear programs, over a table that is by then nearly as it will be released; last,
    # that no complementary cell is determined (more suppression only widens intervals).
    for outer_only, secondary in ((True, False), (False, False), (False, True)):
        _complete_suppression(table, protection, outer_only, secondary)
    _round_and_flag(table)
    return table


def protection_level(threshold: int) -> int:
    """How many a primary cell must possibly hold, whatever an outsider works out: half the
    threshold, rounded up (5 for k = 10). Its status already tells that it holds 1 to k-1
    persons; what identifies is a count shown to be smaller still (one person, two). The
    published counts may not show it to hold fewer than this, nor determine it, unless the
    statuses and zeros alone already do (`_targets`)."""
    return -(-threshold // 2)


def _complete_suppression(
    table: ProtectedTable, protection: float, outer_only: bool, secondary: bool = False
) -> None:
    """Suppress partners until the audit finds no cell too narrow. More suppression only
    widens intervals, so a cell that passed once stays safe: each round re-audits just the
    cells that were still too narrow."""
    to_check = None
    for _round in range(len(table.cells) + 1):
        _check_deadline()
        _close_singletons(table)
        weak = audit_intervals(
            table, protection, only=to_check, outer_only=outer_only, secondary=secondary
        )
        if not weak:
            return
        grew = [_suppress_partner(table, key) for key in weak]  # every weak cell, no short cut
        if not any(grew):
            return  # nothing left to suppress around them; the release audit will refuse it
        to_check = weak


def _candidates(table: ProtectedTable, equation: list[tuple]) -> list[Cell]:
    cells, pinned = table.cells, table.pinned
    return [
        cells[k]
        for k in equation
        if cells[k].status == FREE and cells[k].units > 0 and k not in pinned
    ]


def _close_singletons(table: ProtectedTable) -> None:
    """No equation may hold exactly one suppressed cell: it would equal total minus the rest.
    (Equations in order, again until none changes; how many cells each hides is counted once
    with numpy and kept up to date, not recounted per equation.)"""
    _keys, rows, columns, _signs = table.incidence()
    hides = np.bincount(rows, table.hidden_mask()[columns], len(table.equations)).astype(int)
    changed = True
    while changed:
        changed = False
        for n, equation in enumerate(table.equations):
            if hides[n] == 1:
                options = _candidates(table, equation)
                if options:
                    partner = min(options, key=lambda c: _partner_cost(table, c))
                    partner.status = SECONDARY
                    for m in table.equation_numbers_with({partner.key}):
                        hides[m] += 1
                    changed = True


def _partner_cost(table: ProtectedTable, cell: Cell) -> tuple:
    """Prefer the least information lost: the smallest cell, interior before margins. (Each
    is known to hold at least k, as it was publishable; a partner too small to let the cell it
    hides range far enough leaves that cell weak, and the next round adds another.)"""
    return (TOTAL in cell.key, cell.units, cell.key)


def _suppress_partner(table: ProtectedTable, key: tuple) -> bool:
    """Widen a weak cell's interval: a partner in every equation it belongs to; when those hold
    no published cell any more, one step further out (the equations of its suppressed partners)
    at a time, each equation looked at once. Returns whether anything was suppressed."""
    if key in table._cut_off:
        return False
    cost = partial(_partner_cost, table)
    frontier, done = table.equations_with({key}), False
    for equation in frontier:  # the cell's own equations: a partner in each
        options = _candidates(table, equation)
        if options:
            min(options, key=cost).status = SECONDARY
            done = True
    reach, looked = {key}, set(table.equation_numbers_with({key}))
    while not done:
        _check_deadline()  # on a large table this search alone can take long
        wider = {k for e in frontier for k in e if table.cells[k].status != FREE} - reach
        if not wider:
            table._cut_off |= reach
            return False
        reach |= wider
        numbers = [n for n in table.equation_numbers_with(wider) if n not in looked]
        looked.update(numbers)
        frontier = [table.equations[n] for n in numbers]
        # Further out: the single cheapest cell, to lose as little as possible.
        options = [c for e in frontier for c in _candidates(table, e)]
        if options:
            min(options, key=cost).status = SECONDARY
            done = True
    return True


class _FromStatuses:
    """Each cell's interval from the statuses and the zeros alone, every other count unknown
    but at least k: the narrowing no suppression can undo, which the published counts must not
    add to. The parts of a primary total are primary too, so in a table of persons each holds
    at most k-1 less the others (nine persons in nine categories: each is 1, whatever else is
    published). In a release linked to another (`pinned`: by region, beside the national
    release by country), the other's published counts are known too: no suppression here can
    hide them. Bound propagation gives outer bounds for every cell at once; a cell found too
    narrow against them gets its two linear programs (`exact`), as its interval may be less."""

    def __init__(self, table: ProtectedTable, known: dict, slack: float):
        keys, rows, columns, signs = table.incidence()
        unknown = np.array(
            [table.cells[k].status != FREE or known[k] > 0 for k in keys], dtype=bool
        )
        self.keys = [k for k, u in zip(keys, unknown, strict=True) if u]
        self.index = {k: i for i, k in enumerate(self.keys)}
        low, high = table.known_range(self.keys)
        published = np.array([table.cells[k].status == FREE for k in self.keys], dtype=bool)
        low[published] = table.threshold  # all a published count is known to be here
        # ...but for the linked release's (the country cells beside their regions): it is out.
        for n, key in enumerate(self.keys):
            if published[n] and key in table.pinned:
                low[n] = max(table.threshold, known[key] - slack) if slack else known[key]
                high[n] = known[key] + slack
        entry = unknown[columns]
        zero = np.zeros(len(table.equations))
        self.system = _System(
            len(self.keys),
            rows[entry],
            (np.cumsum(unknown) - 1)[columns[entry]],
            signs[entry],
            zero,
            zero,
            low,
            high,
            interior_point_scale=4,
        )
        bounds = self.system.propagate()
        self.low, self.high = (low, np.full(len(low), np.inf)) if bounds is None else bounds
        self._exact: dict[tuple, tuple[float, float]] = {}
        # Inner bounds, where the true table is known (protecting): it and its hypercube moves
        # are feasible, so the true interval reaches at least this far (no linear program).
        self.inner: tuple | None = None
        if not slack and all(known.get(k) == table.cells[k].units for k in self.keys):
            self.point = np.array([known[k] for k in self.keys], dtype=float)
            down, up = _hypercube_reaches(table, self.index, self.point, low, high)
            self.inner = (self.point - down, self.point + up)

    def outer(self, keys: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        at = [self.index[k] for k in keys]
        return self.low[at], self.high[at]

    def short_of_inner(self, intervals: dict, protection: float) -> set:
        """The cells whose interval (`intervals`, from the release) falls short even of what
        feasible points of the statuses alone reach: then it falls short of their exact
        interval too, and needs no programs of its own. The inner bounds are pushed out first,
        many cells a program (`_push_out`): pinned country cells by month and region, demo
        data, took 2,589 single cells' programs (40 s) before."""
        if self.inner is None or not intervals:
            return set()
        keys = list(intervals)
        at = np.array([self.index[k] for k in keys], dtype=int)
        given_low, given_high = np.zeros(len(self.keys)), np.zeros(len(self.keys))
        given_low[at], given_high[at] = np.array(list(intervals.values())).T

        def short(at: np.ndarray, inner_low: np.ndarray, inner_high: np.ndarray) -> np.ndarray:
            reach, need = _targets(protection, inner_low[at], inner_high[at])
            return (given_high[at] < reach) | (given_high[at] - given_low[at] < need)

        self.inner = _push_out(
            self.system,
            self.point,
            self.inner,
            at,
            lambda at, low, high: at[~short(at, low, high)],
            protection,
            attempts=8,
            enough=lambda n: n / 10,
        )
        return {key for key, s in zip(keys, short(at, *self.inner), strict=True) if s}

    def exact(self, key: tuple) -> tuple[float, float]:
        """The cell's least and greatest value by linear programs (the outer bounds where the
        solver fails: the stricter need stands)."""
        if key not in self._exact:
            i = self.index[key]
            low, high = self.low[i], self.high[i]
            objective = np.zeros(len(self.keys))
            objective[i] = -1.0
            greatest = self.system.solve(objective)
            objective[i] = 1.0
            least = self.system.solve(objective)
            if isinstance(least, np.ndarray):
                low = max(low, least[i])
            if isinstance(greatest, np.ndarray):
                high = min(high, greatest[i])
            self._exact[key] = (low, high)
        return self._exact[key]


def audit_intervals(
    table: ProtectedTable,
    protection: float,
    published: dict | None = None,
    slack: float = 0.0,
    only: list[tuple] | None = None,
    outer_only: bool = False,
    secondary: bool = False,
) -> list[tuple]:
    """Primary cells that what the release tells shows to hold fewer than `protection`, or
    determines (an interval narrower than 1), beyond what the statuses and zeros alone show
    (`_FromStatuses`). What the release tells: `published` maps keys to published values
    (default: the true counts), each known to ±`slack` (the rounding an outsider must allow
    for), a published zero exactly and any other published count at least k; and each
    suppressed cell's `known_range`.
    With `secondary`, instead: complementary cells determined from the published cells and
    margins alone, every suppressed cell >= 0: none may be worked out from the figures, though
    one could be from its status (it is at least k, a count that could have been published;
    the primary cells' intervals allow for that).

    The interval of a cell is what two linear programs (its minimum and its maximum over the
    table's equations, each suppressed cell within its bounds) give. Most cells are settled
    without them, by two sound bounds: an outer one by bound propagation (each equation bounds
    each of its cells by the bounds of the others; if even that interval falls short the cell is
    weak), and an inner one from feasible points (the true table, each linear program's
    solution, and the true table moved along a "hypercube" of suppressed cells, below; if those
    already reach far enough the cell is safe). Only the cells left in between get their linear
    programs."""
    keys, rows, columns, signs = table.incidence()
    is_hidden = table.hidden_mask()
    hidden = [key for key, h in zip(keys, is_hidden, strict=True) if h]
    if not hidden:
        return []
    index = {k: i for i, k in enumerate(hidden)}
    # The equations that hold a suppressed cell, renumbered in order; the published cells of
    # each move to its bounds: total - parts = 0, with published values (each ± slack, at least
    # k unless zero) moved to the right-hand side.
    entry_hidden = is_hidden[columns]
    used = np.zeros(len(table.equations), dtype=bool)
    used[rows[entry_hidden]] = True
    row_number = np.cumsum(used) - 1
    known = published if published is not None else {k: c.units for k, c in table.cells.items()}
    shown = ~entry_hidden & used[rows]
    values = np.array([known[keys[i]] for i in columns[shown]], dtype=float)
    least = np.where(values > 0, np.maximum(values - slack, table.threshold), 0.0)
    most = np.where(values > 0, values + slack, 0.0)
    if secondary:
        least, most = values - slack, values + slack
    elif not slack:
        least = most = values
    shown_row, shown_sign = row_number[rows[shown]], signs[shown]
    lower = -np.bincount(shown_row, np.where(shown_sign > 0, most, -least), used.sum())
    upper = -np.bincount(shown_row, np.where(shown_sign > 0, least, -most), used.sum())
    position_in_hidden = np.cumsum(is_hidden) - 1
    row_of = row_number[rows[entry_hidden]]
    column_of = position_in_hidden[columns[entry_hidden]]
    coefficient_of = signs[entry_hidden]
    wanted = set(only) if only is not None else None
    status = SECONDARY if secondary else PRIMARY
    checked = [
        k for k in hidden if table.cells[k].status == status and (wanted is None or k in wanted)
    ]
    if not len(lower) or not checked:
        return []
    from_statuses = None if secondary else table.from_statuses(known, slack)
    if secondary:
        low, high = np.zeros(len(hidden)), np.full(len(hidden), np.inf)
        reach, need = np.full(len(hidden), -np.inf), np.full(len(hidden), 1.0 - 1e-6)
    else:
        low, high = table.known_range(hidden)
        reach, need = _targets(protection, *from_statuses.outer(hidden))
    system = _System(len(hidden), row_of, column_of, coefficient_of, lower, upper, low, high)
    bounds = system.propagate()
    if bounds is None:  # the published figures contradict each other: nothing is proven safe
        return checked
    outer_low, outer_high = bounds
    short = (outer_high < reach) | (outer_high - outer_low < need)
    weak = {k for k in checked if short[index[k]]}
    open_cells = [k for k in checked if k not in weak]
    if not open_cells or outer_only:
        found = [k for k in checked if k in weak]
        return _short_of_statuses(found, index, protection, from_statuses, bounds)
    if published is None and slack == 0:
        point = np.array([table.cells[k].units for k in hidden], dtype=float)
    else:
        point = system.solve(np.zeros(len(hidden)))  # any feasible point
        if not isinstance(point, np.ndarray):
            return checked  # none, or the solver failed: nothing is proven safe
    down, up = _hypercube_reaches(table, index, point, low, high)
    # What this audit's system is made of: each cell's status (which are suppressed, and each
    # one's range), the published counts (a copy: the caller's may change) and their slack.
    statuses = "".join(cell.status for cell in table.cells.values())
    given = (statuses, None if published is None else dict(published), slack)
    inner = _with_reached(table, given, (point - down, point + up))
    # A box on a large system is an interior-point solve of its own: boxes go on while each
    # settles 2 % of the cells left where a single program costs about as much (auditing a
    # package, published values known to ± slack: ~250 ms), or where the system is so large
    # that boxes settle most cells (protecting, from 4 * INTERIOR_POINT_FROM); else while each
    # settles a tenth. Demo data: auditing persons registered by quarter and region (3,502
    # cells) 369 singles and 96 s -> 12 singles and 10 s; protecting visits by topic by month
    # and region (6,233) 7.8 s -> 4.9 s. At 100,000 profiles protecting persons registered by
    # quarter (2,570 cells) took 4.4 s so, 6.5 s boxing on (a box 116 ms, a single 6.6 ms).
    large = INTERIOR_POINT_FROM * (1 if published is not None else 4)
    many = len(hidden) >= large
    open_index = np.array([index[k] for k in open_cells], dtype=int)

    def unsettled_of(at: np.ndarray, inner_low: np.ndarray, inner_high: np.ndarray):
        return at[(inner_high[at] < reach[at]) | (inner_high[at] - inner_low[at] < need[at])]

    inner_low, inner_high = _push_out(
        system,
        point,
        inner,
        open_index,
        unsettled_of,
        protection,
        attempts=40 if many else 8,
        enough=(lambda n: max(2, n / 50)) if many else (lambda n: n / 10),
        rising=lambda at, _low, inner_high: inner_high[at] < reach[at],
    )
    solved = {}
    for key in open_cells:
        i = index[key]
        if inner_high[i] >= reach[i] and inner_high[i] - inner_low[i] >= need[i]:
            continue  # feasible points already reach that far
        points = []
        interval = _exact_interval(
            system, i, inner_low[i], inner_high[i], (reach[i], need[i]), points
        )
        for solution in points:  # feasible points too: they may settle cells further on
            inner_low, inner_high = (
                np.minimum(inner_low, solution),
                np.maximum(inner_high, solution),
            )
        solved[key] = interval  # a weak cell's whole interval (a safe one's may be less)
        if interval is None or interval[1] < reach[i] or interval[1] - interval[0] < need[i]:
            weak.add(key)
    if not secondary:  # its points are feasible in either audit (`_with_reached`)
        table._reached = (given, inner_low, inner_high)
    found = [k for k in checked if k in weak]
    return _short_of_statuses(found, index, protection, from_statuses, bounds, system, solved)


def _with_reached(table: ProtectedTable, given: tuple, inner: tuple) -> tuple:
    """`inner` widened by how far the table's last audit of its primary cells reached, when it
    was `given` the same: the same statuses, the same published counts known to the same
    slack. Its feasible points are feasible in either audit: the complementary one allows
    each suppressed cell any count >= 0 and each published count its slack whatever k, where
    the primary one holds each cell within its status's range (so not the other way round: that
    one's points are not kept). Persons registered at 100,000 profiles: the complementary
    audit's two programs (12 ms) went; a package by month and region, demo data: 2.4 s -> 0.7 s."""
    reached = table._reached
    if reached is None or reached[0] != given:
        return inner
    return np.minimum(inner[0], reached[1]), np.maximum(inner[1], reached[2])


def _push_out(system, point, inner, cells, unsettled_of, protection, attempts, enough, rising=None):
    """Inner bounds moved out with linear programs that settle many cells at once: the
    unsettled ones pushed up, then in random directions, each within [point - protection,
    point + protection] so that none runs off alone; every solution is one more feasible point.
    A cell that must reach higher (`rising`, by default all) is pushed up or left free, never
    down: pushed down it would only make room for the others, which left free it can too (when
    it must merely not be determined, up or down). Stops when fewer than four are left or a
    program settles fewer than `enough(left)`. (Only a speed-up: the cells these leave
    unsettled get their own programs.) Persons registered by month and region, demo data:
    with every cell up or down at random, 24 programs of 0.3 s; so, 15."""
    inner_low, inner_high = inner
    signs = np.random.default_rng(system.columns)
    low, high = system.low, system.high
    for attempt in range(attempts):
        unsettled = unsettled_of(cells, inner_low, inner_high)
        if len(unsettled) < 4:
            break
        direction = np.ones(len(unsettled))
        if attempt:
            up = rising(unsettled, inner_low, inner_high) if rising else direction > 0
            either = signs.choice([-1.0, 1.0], len(unsettled))
            direction = np.where(up, signs.choice([0.0, 1.0], len(unsettled)), either)
        objective = np.zeros(system.columns)
        objective[unsettled] = -direction
        box_low, box_high = low.copy(), high.copy()
        box_low[unsettled] = np.maximum(low[unsettled], point[unsettled] - protection)
        box_high[unsettled] = np.minimum(high[unsettled], point[unsettled] + protection)
        solution = system.solve(objective, (box_low, box_high))
        if not isinstance(solution, np.ndarray):
            break
        inner_low = np.minimum(inner_low, solution)
        inner_high = np.maximum(inner_high, solution)
        left = len(unsettled_of(unsettled, inner_low, inner_high))
        if attempt >= 2 and len(unsettled) - left < enough(len(unsettled)):
            break
    return inner_low, inner_high


def _targets(protection: float, low: np.ndarray, high: np.ndarray) -> tuple:
    """How far up a primary cell's interval must reach and how wide it must be, given its
    interval from the statuses alone: up to `protection` (no outsider can show that it holds
    fewer; a small count is what identifies), and not a single value, in both cases unless the
    statuses alone already show that."""
    return np.minimum(protection, high) - 1e-6, np.minimum(1.0, high - low) - 1e-6


def _exact_interval(
    system: _System,
    i: int,
    known_low: float,
    known_high: float,
    enough: tuple | None = None,
    points: list | None = None,
):
    """The least and greatest value of variable i by its two linear programs (a greatest value
    that no solution bounds: inf); None when the solver fails (which proves nothing). With
    `enough` (reach, width): once the greatest value reaches that far and lies that much above
    `known_low` (a value the variable can take), the least is not solved for. The solutions
    are added to `points`, when given."""
    points = [] if points is None else points
    objective = np.zeros(system.columns)
    objective[i] = -1.0
    greatest = system.solve(objective)
    if greatest is UNBOUNDED:
        return (known_low, np.inf)
    if not isinstance(greatest, np.ndarray):
        return None
    points.append(greatest)
    top = max(known_high, greatest[i])
    if enough is not None and top >= enough[0] and top - known_low >= enough[1]:
        return (known_low, top)
    objective[i] = 1.0
    least = system.solve(objective)
    if not isinstance(least, np.ndarray):
        return None
    points.append(least)
    return (min(known_low, least[i]), max(known_high, greatest[i]))


def _short_of_statuses(
    found: list[tuple],
    index: dict,
    protection: float,
    from_statuses: _FromStatuses | None,
    outer: tuple,
    system: _System | None = None,
    solved: dict | None = None,
) -> list[tuple]:
    """Of the primary cells found short against the outer bounds from the statuses, those that
    stay short against the exact ones. A cell whose `outer` interval falls short even of what
    feasible points from the statuses alone reach is short; the others get the exact bounds
    from the statuses alone, and then their own interval by linear programs (with no `system`,
    the outer one; `solved`: those worked out already). (Complementary cells: all.)"""
    if from_statuses is None:
        return found
    interval_of = {key: (outer[0][index[key]], outer[1][index[key]]) for key in found}
    surely = from_statuses.short_of_inner(interval_of, protection)
    confirmed = []
    for key in found:
        i, interval = index[key], interval_of[key]
        if key in surely:
            confirmed.append(key)  # short even of what surely can be: no program needed
            continue
        alone = from_statuses.exact(key)
        if _short(interval, protection, alone):
            confirmed.append(key)
            continue
        if system is not None:
            if key in (solved or {}):
                interval = solved[key]
            else:
                interval = _exact_interval(system, i, np.inf, -np.inf)
            if interval is None or _short(interval, protection, alone):
                confirmed.append(key)
    return confirmed


def _short(interval: tuple, protection: float, alone: tuple) -> bool:
    """Whether a primary cell's interval falls short of its targets (`_targets`), given its
    interval from the statuses alone."""
    reach, need = _targets(protection, np.array([alone[0]]), np.array([alone[1]]))
    return interval[1] < reach[0] or interval[1] - interval[0] < need[0]


@dataclass
class _System:
    """lower <= A x <= upper, low <= x <= high, with A as coordinates (row, column,
    coefficient); `high` is inf where there is no bound."""

    columns: int
    row: np.ndarray
    column: np.ndarray
    coefficient: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    low: np.ndarray
    high: np.ndarray
    # From how many times INTERIOR_POINT_FROM columns the system gets its first basis and boxes
    # by interior point: the statuses-alone system (every count a variable) stays with simplex
    # longer. Demo data, persons registered by month (2,760 columns), its phase took 1.6 s by
    # interior point and 1.0 s by simplex; beside the regions (5,679) 5.9 s and 7.3 s. At
    # 100,000 profiles by year (1,100) its programs took 25 ms and 4 ms.
    interior_point_scale: int = 1

    def propagate(self, passes: int = 200):
        """Outer bounds on every variable (bound propagation, as LP presolvers do): in each
        equation a variable lies within the row's bounds minus the others' extreme activity.
        Any number of passes gives valid bounds; None when the system has no solution."""
        low, high = self.low.copy(), self.high.copy()
        a, rows, n_rows = self.coefficient, self.row, len(self.lower)
        positive = a > 0
        for _pass in range(passes):
            # Each entry's least and greatest contribution a * x to its row.
            least = np.where(positive, a * low[self.column], a * high[self.column])
            most = np.where(positive, a * high[self.column], a * low[self.column])
            least_infinite, most_infinite = np.isinf(least), np.isinf(most)
            least_sum = np.bincount(rows, np.where(least_infinite, 0, least), n_rows)
            most_sum = np.bincount(rows, np.where(most_infinite, 0, most), n_rows)
            least_count = np.bincount(rows, least_infinite, n_rows)
            most_count = np.bincount(rows, most_infinite, n_rows)
            # The rest of the row, without this entry.
            rest_most = np.where(
                most_count[rows] - most_infinite > 0,
                np.inf,
                most_sum[rows] - np.where(most_infinite, 0, most),
            )
            rest_least = np.where(
                least_count[rows] - least_infinite > 0,
                -np.inf,
                least_sum[rows] - np.where(least_infinite, 0, least),
            )
            with np.errstate(invalid="ignore"):
                from_lower = (self.lower[rows] - rest_most) / a  # a * x >= lower - rest_most
                from_upper = (self.upper[rows] - rest_least) / a  # a * x <= upper - rest_least
            new_low = np.where(positive, from_lower, from_upper)
            new_high = np.where(positive, from_upper, from_lower)
            tighter_low, tighter_high = low.copy(), high.copy()
            np.maximum.at(tighter_low, self.column, np.nan_to_num(new_low, nan=-np.inf))
            np.minimum.at(tighter_high, self.column, np.nan_to_num(new_high, nan=np.inf))
            if np.any(tighter_low > tighter_high + 1e-7):
                return None
            changed = np.any(tighter_low > low + 1e-9) or np.any(tighter_high < high - 1e-9)
            low, high = tighter_low, tighter_high
            if not changed:
                break
        return low, high

    def solve(self, objective: np.ndarray, box: tuple | None = None):
        """A solution minimising `objective` (within `box`, bounds (low, high) narrower than the
        system's own, when given); UNBOUNDED when the solver proves there is no minimum; None
        when it finds no solution or fails (which proves nothing)."""
        _check_deadline()
        if _Highs is not None:
            # One solve at a time per process: a package prepared in the background and a
            # preview may protect tables in two threads, and HiGHS instances in separate
            # threads could crash through its shared scheduler (ERGO-Code/HiGHS#3141, fixed
            # after the HiGHS that scipy ships).
            with _ONE_SOLVE_AT_A_TIME:
                return self._solve_highs(objective, box)
        if not hasattr(self, "_program"):
            matrix = csr_matrix(
                (self.coefficient, (self.row, self.column)),
                shape=(len(self.lower), self.columns),
            )
            equal = self.lower == self.upper  # equations known exactly: A_eq, else two rows
            ranged = ~equal
            self._program = {
                "A_ub": sp_vstack([matrix[ranged], -matrix[ranged]]) if ranged.any() else None,
                "b_ub": np.concatenate([self.upper[ranged], -self.lower[ranged]])
                if ranged.any()
                else None,
                "A_eq": matrix[equal] if equal.any() else None,
                "b_eq": self.lower[equal] if equal.any() else None,
            }
        low, high = box or (self.low, self.high)
        bounds = [(a, None if np.isinf(b) else b) for a, b in zip(low, high, strict=True)]
        result = linprog(objective, **self._program, bounds=bounds, method="highs")
        return {0: result.x, 3: UNBOUNDED}.get(result.status)

    def _solve_highs(self, objective: np.ndarray, box):
        """The same program through the HiGHS model that scipy ships, kept between calls: each
        new objective starts from the last optimal basis (a few pivots instead of a solve from
        scratch; scipy's linprog rebuilds the model every time). A large system gets its
        first basis, and its boxes, from the interior-point method instead (`_solve_apart`)."""
        n = self.columns
        columns = np.arange(n, dtype=np.int32)
        boxed = box is not None
        if not hasattr(self, "_highs"):
            if self._large():
                solution, basis = self._solve_apart(objective, box)
                if boxed or (isinstance(solution, np.ndarray) and not np.any(objective)):
                    return solution  # a feasible point or a box: no basis for the singles
                if basis is not None:
                    self._highs = self._model()
                    # Optimal for this very program: the next goes on from it by primal simplex.
                    self._highs.setOptionValue("simplex_strategy", 4)
                    self._highs.setBasis(basis)
                    self._boxed = False
                    return solution
                # No optimum by interior point (unbounded, or it failed): simplex decides.
            self._highs = self._model()
            # The first solve starts from nothing: dual simplex (HiGHS: 1) gets there in a third
            # of primal's iterations. After it only the objective (and a batch's box) changes,
            # and primal simplex (4) goes on from the last basis: 5 ms -> 1.4 ms a solve on
            # persons_registered at 100,000 profiles, the same suppression on every table.
            self._highs.setOptionValue("simplex_strategy", 1)
            self._boxed = False
        elif boxed and self._large():
            return self._solve_apart(objective, box)[0]
        solver = self._highs
        if not boxed:
            if self._boxed:
                solver.changeColsBounds(n, columns, *self._bounds((self.low, self.high)))
                self._boxed = False
        else:
            solver.changeColsBounds(n, columns, *self._bounds(box))
            self._boxed = True
        solver.changeColsCost(n, columns, np.asarray(objective, dtype=float))
        solver.run()
        solver.setOptionValue("simplex_strategy", 4)
        return self._outcome(solver)

    def _large(self) -> bool:
        return self.columns >= INTERIOR_POINT_FROM * self.interior_point_scale

    def _outcome(self, solver):
        status = solver.getModelStatus()
        if status == self._status.kOptimal:
            return np.array(solver.getSolution().col_value)
        return UNBOUNDED if status == self._status.kUnbounded else None

    def _solve_apart(self, objective: np.ndarray, box):
        """One program in a model of its own, by the interior-point method with crossover (so
        the solution is a vertex, with its basis): on a large system far faster than simplex
        from nothing, or than simplex moving a box's many bounds from the last basis. A model
        never switches method: switching one model between simplex and interior point crashed
        scipy's HiGHS (2 runs in 7)."""
        n = self.columns
        columns = np.arange(n, dtype=np.int32)
        solver = self._model()
        solver.setOptionValue("solver", "ipm")
        solver.setOptionValue("run_crossover", "on")
        if box is not None:
            solver.changeColsBounds(n, columns, *self._bounds(box))
        solver.changeColsCost(n, columns, np.asarray(objective, dtype=float))
        solver.run()
        outcome = self._outcome(solver)
        return outcome, solver.getBasis() if isinstance(outcome, np.ndarray) else None

    def _bounds(self, box: tuple) -> tuple[np.ndarray, np.ndarray]:
        low, high = box
        return np.asarray(low, dtype=float), np.where(np.isinf(high), self._infinity, high)

    def _model(self):
        """The program as a HiGHS model: lower <= A x <= upper, low <= x <= high, no objective
        yet."""
        from scipy.optimize._highspy import _core as highs

        n = self.columns
        matrix = csc_matrix((self.coefficient, (self.row, self.column)), shape=(len(self.lower), n))
        program = highs.HighsLp()
        program.num_col_, program.num_row_ = n, len(self.lower)
        program.col_cost_ = np.zeros(n)
        program.col_lower_ = np.asarray(self.low, dtype=float)
        program.col_upper_ = np.where(np.isinf(self.high), highs.kHighsInf, self.high)
        program.row_lower_, program.row_upper_ = self.lower, self.upper
        program.a_matrix_.format_ = highs.MatrixFormat.kColwise
        program.a_matrix_.start_ = matrix.indptr
        program.a_matrix_.index_ = matrix.indices
        program.a_matrix_.value_ = matrix.data.astype(float)
        solver = _Highs()
        solver.setOptionValue("output_flag", False)
        solver.setOptionValue("presolve", "off")  # presolving would discard the basis
        solver.passModel(program)
        self._status = highs.HighsModelStatus
        self._infinity = highs.kHighsInf
        return solver


def _hypercube_reaches(
    table: ProtectedTable,
    index: dict,
    point: np.ndarray,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """How far a feasible `point` can move each suppressed cell down and up along hypercubes of
    suppressed cells (the directions of tau-ARGUS's hypercube method, Repsilber): pick in every
    additive dimension two codes; the 2^n cells that combine them, all suppressed, can move
    together by +t and -t so that every equation still holds (where one of the two codes is
    the total, both cells move alike; else oppositely), as far as each cell stays within its
    bounds (`low`, `high`: by default >= 0).
    Every hypercube of the table at once, with numpy: per hypercube the least value among the
    corners that move like the first one (P) and among the others (M); a corner moving like
    the first can go down by P and up by M, the others the other way round. In a nested
    dimension (countries and their regions) the two codes are two regions of one country: a
    country moves only with its regions, which no such move keeps. Returns, for every
    suppressed cell (by `index`), the best down and up over the hypercubes it is a corner of."""
    dimensions = table.spec.dimensions
    best_down, best_up = np.zeros(len(index)), np.zeros(len(index))
    additive = [j for j, d in enumerate(dimensions) if d.additive]
    if not additive or not index:
        return best_down, best_up
    # Additive dimensions first, then the others (a hypercube keeps their codes).
    order = additive + [j for j in range(len(dimensions)) if j not in additive]
    codes = [[*table.categories[j], TOTAL] for j in order]
    low = np.zeros(len(index)) if low is None else low
    high = np.full(len(index), np.inf) if high is None else high
    # How far each cell can go down (plus) and up (minus); NaN: published, cannot move.
    shape, layout = table.layout()
    at = np.fromiter((layout[key] for key in index), dtype=np.int64, count=len(index))
    cell = np.fromiter(index.values(), dtype=np.int64, count=len(index))
    plus, minus = np.full(math.prod(shape), np.nan), np.full(math.prod(shape), np.nan)
    position = np.zeros(math.prod(shape), dtype=np.int64)
    plus[at], minus[at], position[at] = point[cell] - low[cell], high[cell] - point[cell], cell
    plus, minus, position = (a.reshape(shape).transpose(order) for a in (plus, minus, position))
    pairs, flips = [], []
    for axis, axis_codes in enumerate(codes[: len(additive)]):
        first, second = np.triu_indices(len(axis_codes), 1)
        total = len(axis_codes) - 1  # TOTAL is the last code
        flip = (first != total) & (second != total)  # both categories: they move oppositely
        dimension = dimensions[order[axis]]
        present = frozenset(axis_codes[:-1])
        parent = np.array([dimension.parent(code, present) for code in axis_codes])
        if np.any(parent[:-1] != TOTAL):  # nested: two parts of one whole, neither a whole
            leaf = ~np.isin(np.array(axis_codes), parent[:-1])
            siblings = flip & (parent[first] == parent[second]) & leaf[first] & leaf[second]
            first, second, flip = first[siblings], second[siblings], flip[siblings]
        shape = [1] * plus.ndim
        shape[axis] = len(first)
        flip = flip.reshape(shape)
        plus_a, plus_b = plus.take(first, axis), plus.take(second, axis)
        minus_a, minus_b = minus.take(first, axis), minus.take(second, axis)
        plus, minus = (  # NaN spreads: a hypercube with a published corner is no direction
            np.where(flip, np.minimum(plus_a, minus_b), np.minimum(plus_a, plus_b)),
            np.where(flip, np.minimum(minus_a, plus_b), np.minimum(minus_a, minus_b)),
        )
        pairs.append((first, second))
        flips.append(flip.ravel())
    usable = np.nonzero(~(np.isnan(plus) | np.isnan(minus)))  # per axis, the usable hypercubes
    plus, minus = plus[usable], minus[usable]
    others = list(usable[len(additive) :])  # the codes kept along the other dimensions
    codes_of = [(first[usable[n]], second[usable[n]]) for n, (first, second) in enumerate(pairs)]
    flips = [flip[usable[n]] for n, flip in enumerate(flips)]
    for corner in itertools.product((0, 1), repeat=len(additive)):
        at = [codes_of[n][side] for n, side in enumerate(corner)]
        opposite = np.zeros(len(plus), dtype=bool)
        for n, side in enumerate(corner):
            if side:
                opposite ^= flips[n]
        cells = position[tuple(at + others)]
        np.maximum.at(best_down, cells, np.where(opposite, minus, plus))
        np.maximum.at(best_up, cells, np.where(opposite, plus, minus))
    return best_down, best_up


def round_to_base(value: int, base: int) -> int:
    return base * ((value + base // 2) // base) if base > 1 else value


def _round_and_flag(table: ProtectedTable) -> None:
    for cell in table.cells.values():
        cell.value = round_to_base(cell.units, table.rounding_base) if cell.status == FREE else None
    for equation in table.equations:
        total, *parts = equation
        total_persons = table.cells[total].persons
        if total_persons >= table.threshold:
            largest = max(table.cells[p].persons for p in parts)
            if total_persons - largest < table.threshold:
                for key in equation:
                    table.cells[key].flag = "G"


def table_rows(table: ProtectedTable) -> list[dict]:
    ids = [d.id for d in table.spec.dimensions]
    rows = []
    for key in sorted(table.cells, key=lambda k: tuple(sort_code(c) for c in k)):
        cell = table.cells[key]
        row = dict(zip(ids, key, strict=True))
        row.update(OBS_VALUE=cell.value, CONF_STATUS=cell.status, FLAG=cell.flag)
        rows.append(row)
    return rows
