"""Statistical disclosure control for the research tables.

Method (after the Handbook on Statistical Disclosure Control, Hundepool et al., ch. 4, and
tau-ARGUS; cf. Statistics Norway's GaussSuppression):

1. Threshold rule (primary suppression, SDMX CONF_STATUS "A"): every cell, margins included,
   counting 1 to k-1 distinct persons is suppressed, whatever the table's counting unit.
2. Complementary suppression ("D"): the table with its margins is a system of linear equations
   (each total is the sum of its categories, for every additive dimension). Cells are suppressed
   until (a) no equation holds exactly one suppressed cell, and (b) a linear-programming audit
   (HiGHS, as shipped with scipy) finds, for every primary cell, an interval of feasible
   values at least `protection` wide given everything published. Most cells are settled by
   cheaper sound bounds first (`audit_intervals`); the cells found too narrow are the same.
   The cells that bound propagation alone proves too narrow get their partners before any
   linear program runs.
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
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

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
    _containing: dict | None = field(default=None, repr=False)
    _incidence: tuple | None = field(default=None, repr=False)

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

    def hidden_mask(self) -> np.ndarray:
        """Per key of `incidence`, whether the cell is suppressed."""
        return np.array([cell.status != FREE for cell in self.cells.values()], dtype=bool)

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
    protection = protection or threshold
    # First the cells that bound propagation alone shows too narrow (no linear program), then
    # the linear programs, over a table that is by then nearly as it will be released.
    for outer_only in (True, False):
        _complete_suppression(table, protection, outer_only)
    _round_and_flag(table)
    return table


def _complete_suppression(table: ProtectedTable, protection: float, outer_only: bool) -> None:
    """Suppress partners until the audit finds no cell too narrow. More suppression only
    widens intervals, so a cell that passed once stays safe: each round re-audits just the
    cells that were still too narrow."""
    to_check = None
    for _round in range(len(table.cells) + 1):
        _check_deadline()
        _close_singletons(table)
        weak = audit_intervals(table, protection, only=to_check, outer_only=outer_only)
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
    """Prefer a partner big enough to hide the cell (its value gives the interval its width),
    then the least information lost: the smallest such cell, interior before margins."""
    return (cell.units < table.threshold, TOTAL in cell.key, cell.units, cell.key)


def _suppress_partner(table: ProtectedTable, key: tuple) -> bool:
    """Widen a weak cell's interval: a partner in every equation it belongs to; when those hold
    no published cell any more, one step further out (the equations of its suppressed partners).
    Returns whether anything was suppressed."""
    reach, done = {key}, False
    for step in range(len(table.equations)):
        equations = table.equations_with(reach)
        if step == 0:  # the cell's own equations: a partner in each
            for equation in equations:
                options = _candidates(table, equation)
                if options:
                    min(options, key=lambda c: _partner_cost(table, c)).status = SECONDARY
                    done = True
        else:  # further out: the single cheapest cell, to lose as little as possible
            options = [c for e in equations for c in _candidates(table, e)]
            if options:
                min(options, key=lambda c: _partner_cost(table, c)).status = SECONDARY
                done = True
        if done:
            return True
        wider = {k for e in equations for k in e if table.cells[k].status != FREE}
        if wider <= reach:
            return False
        reach |= wider
    return False


def audit_intervals(
    table: ProtectedTable,
    protection: float,
    published: dict | None = None,
    slack: float = 0.0,
    only: list[tuple] | None = None,
    outer_only: bool = False,
) -> list[tuple]:
    """Primary cells whose feasible interval, given what is published, is narrower than
    `protection`. `published` maps keys to published values (default: the true counts), and
    `slack` widens each published value to ±slack (the rounding an outsider must allow for).

    The interval of a cell is what two linear programs (its minimum and its maximum over the
    table's equations, suppressed cells >= 0) give. Most cells are settled without them, by two
    sound bounds: an outer one by bound propagation (each equation bounds each of its cells by
    the bounds of the others; if even that interval is too narrow the cell is weak), and an inner
    one from feasible points (the true table, each linear program's solution, and the true table
    moved along a "hypercube" of suppressed cells, below; if those already span `protection` the
    cell is safe). Only the cells left in between get their linear programs."""
    keys, rows, columns, signs = table.incidence()
    is_hidden = table.hidden_mask()
    hidden = [key for key, h in zip(keys, is_hidden, strict=True) if h]
    if not hidden:
        return []
    index = {k: i for i, k in enumerate(hidden)}
    # The equations that hold a suppressed cell, renumbered in order; the published cells of
    # each move to its bounds: total - parts = 0, with published values (each ± slack) moved
    # to the right-hand side.
    entry_hidden = is_hidden[columns]
    used = np.zeros(len(table.equations), dtype=bool)
    used[rows[entry_hidden]] = True
    row_number = np.cumsum(used) - 1
    known = published if published is not None else {k: c.units for k, c in table.cells.items()}
    shown = ~entry_hidden & used[rows]
    values = np.array([known[keys[i]] for i in columns[shown]], dtype=float)
    constant = -np.bincount(row_number[rows[shown]], signs[shown] * values, used.sum())
    spread = slack * np.bincount(row_number[rows[shown]], minlength=used.sum())
    lower, upper = constant - spread, constant + spread
    position_in_hidden = np.cumsum(is_hidden) - 1
    row_of = row_number[rows[entry_hidden]]
    column_of = position_in_hidden[columns[entry_hidden]]
    coefficient_of = signs[entry_hidden]
    wanted = set(only) if only is not None else None
    primaries = [
        k for k in hidden if table.cells[k].status == PRIMARY and (wanted is None or k in wanted)
    ]
    if not len(lower) or not primaries:
        return []
    system = _System(len(hidden), row_of, column_of, coefficient_of, lower, upper)
    bounds = system.propagate()
    if bounds is None:  # the published figures contradict each other: nothing is proven safe
        return primaries
    outer_low, outer_high = bounds
    tolerance = protection - 1e-6
    weak = {k for k in primaries if outer_high[index[k]] - outer_low[index[k]] < tolerance}
    open_cells = [k for k in primaries if k not in weak]
    if not open_cells or outer_only:
        return [k for k in primaries if k in weak]
    if published is None and slack == 0:
        point = np.array([table.cells[k].units for k in hidden], dtype=float)
    else:
        point = system.solve(np.zeros(len(hidden)))  # any feasible point
        if not isinstance(point, np.ndarray):
            return primaries  # none, or the solver failed: nothing is proven safe
    down, up = _hypercube_reaches(table, index, point)
    inner_low, inner_high = point - down, point + up
    # Many cells per linear program: push the unsettled cells up, down, then in random
    # directions, each within [point - protection, point + protection] so that none runs off
    # alone; every solution is one more feasible point. (Only a speed-up: the cells these
    # leave unsettled get their own programs below.)
    signs = np.random.default_rng(len(hidden))
    # Auditing a large package (published values known to ± slack) a single program takes
    # ~250 ms and a box, an interior-point solve of its own, about as long while it settles many
    # cells: there boxes go on while each settles 2 % of the cells left (persons registered by
    # quarter and region, demo data, 3,502 cells: 369 singles and 96 s -> 12 singles and 10 s).
    # Protecting (true values known) the singles are cheap, and more boxes made it slower.
    many = len(hidden) >= INTERIOR_POINT_FROM and published is not None
    for attempt in range(40 if many else 8):
        unsettled = [
            index[k] for k in open_cells if inner_high[index[k]] - inner_low[index[k]] < tolerance
        ]
        if len(unsettled) < 4:
            break
        direction = {0: np.ones(len(unsettled)), 1: -np.ones(len(unsettled))}.get(
            attempt, signs.choice([-1.0, 1.0], len(unsettled))
        )
        objective = np.zeros(len(hidden))
        objective[unsettled] = -direction
        box = [(0.0, None)] * len(hidden)
        for i in unsettled:
            box[i] = (max(0.0, point[i] - protection), point[i] + protection)
        solution = system.solve(objective, box)
        if not isinstance(solution, np.ndarray):
            break
        inner_low = np.minimum(inner_low, solution)
        inner_high = np.maximum(inner_high, solution)
        settled = np.sum(inner_high[unsettled] - inner_low[unsettled] >= tolerance)
        if attempt >= 2 and settled < (
            max(2, len(unsettled) / 50) if many else len(unsettled) / 10
        ):
            break
    for key in open_cells:
        i = index[key]
        if inner_high[i] - inner_low[i] >= tolerance:
            continue  # two feasible points already this far apart
        objective = np.zeros(len(hidden))
        objective[i] = -1.0
        high = system.solve(objective)
        if high is UNBOUNDED:
            continue  # no greatest value: well protected
        if high is None:  # the solver failed: nothing is proven
            weak.add(key)
            continue
        inner_low, inner_high = np.minimum(inner_low, high), np.maximum(inner_high, high)
        if high[i] - inner_low[i] >= tolerance:
            continue
        objective[i] = 1.0
        low = system.solve(objective)
        if low is None or low is UNBOUNDED:  # x >= 0 bounds it below: the solver failed
            weak.add(key)
            continue
        inner_low, inner_high = np.minimum(inner_low, low), np.maximum(inner_high, low)
        if high[i] - low[i] < tolerance:
            weak.add(key)
    return [k for k in primaries if k in weak]


@dataclass
class _System:
    """lower <= A x <= upper, x >= 0, with A as coordinates (row, column, coefficient)."""

    columns: int
    row: np.ndarray
    column: np.ndarray
    coefficient: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def propagate(self, passes: int = 200):
        """Outer bounds on every variable (bound propagation, as LP presolvers do): in each
        equation a variable lies within the row's bounds minus the others' extreme activity.
        Any number of passes gives valid bounds; None when the system has no solution."""
        low = np.zeros(self.columns)
        high = np.full(self.columns, np.inf)
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

    def solve(self, objective: np.ndarray, bounds=(0, None)):
        """A solution minimising `objective`; UNBOUNDED when the solver proves there is no
        minimum; None when it finds no solution or fails (which proves nothing)."""
        _check_deadline()
        if _Highs is not None:
            # One solve at a time per process: a package prepared in the background and a
            # preview may protect tables in two threads, and HiGHS instances in separate
            # threads could crash through its shared scheduler (ERGO-Code/HiGHS#3141, fixed
            # after the HiGHS that scipy ships).
            with _ONE_SOLVE_AT_A_TIME:
                return self._solve_highs(objective, bounds)
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
        result = linprog(objective, **self._program, bounds=bounds, method="highs")
        return {0: result.x, 3: UNBOUNDED}.get(result.status)

    def _solve_highs(self, objective: np.ndarray, bounds):
        """The same program through the HiGHS model that scipy ships, kept between calls: each
        new objective starts from the last optimal basis (a few pivots instead of a solve from
        scratch; scipy's linprog rebuilds the model every time). A large system gets its
        first basis, and its boxes, from the interior-point method instead (`_solve_apart`)."""
        n = self.columns
        columns = np.arange(n, dtype=np.int32)
        boxed = not isinstance(bounds, tuple)
        if not hasattr(self, "_highs"):
            if n >= INTERIOR_POINT_FROM:
                solution, basis = self._solve_apart(objective, bounds)
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
        elif boxed and n >= INTERIOR_POINT_FROM:
            return self._solve_apart(objective, bounds)[0]
        solver = self._highs
        if not boxed:
            if self._boxed:
                solver.changeColsBounds(n, columns, np.zeros(n), np.full(n, self._infinity))
                self._boxed = False
        else:
            solver.changeColsBounds(n, columns, *self._box(bounds))
            self._boxed = True
        solver.changeColsCost(n, columns, np.asarray(objective, dtype=float))
        solver.run()
        solver.setOptionValue("simplex_strategy", 4)
        return self._outcome(solver)

    def _outcome(self, solver):
        status = solver.getModelStatus()
        if status == self._status.kOptimal:
            return np.array(solver.getSolution().col_value)
        return UNBOUNDED if status == self._status.kUnbounded else None

    def _solve_apart(self, objective: np.ndarray, bounds):
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
        if not isinstance(bounds, tuple):
            solver.changeColsBounds(n, columns, *self._box(bounds))
        solver.changeColsCost(n, columns, np.asarray(objective, dtype=float))
        solver.run()
        outcome = self._outcome(solver)
        return outcome, solver.getBasis() if isinstance(outcome, np.ndarray) else None

    def _box(self, bounds) -> tuple[np.ndarray, np.ndarray]:
        low = np.array([b[0] for b in bounds], dtype=float)
        high = np.array([self._infinity if b[1] is None else b[1] for b in bounds])
        return low, high

    def _model(self):
        """The program as a HiGHS model: lower <= A x <= upper, x >= 0, no objective yet."""
        from scipy.optimize._highspy import _core as highs

        n = self.columns
        matrix = csc_matrix((self.coefficient, (self.row, self.column)), shape=(len(self.lower), n))
        program = highs.HighsLp()
        program.num_col_, program.num_row_ = n, len(self.lower)
        program.col_cost_ = np.zeros(n)
        program.col_lower_ = np.zeros(n)
        program.col_upper_ = np.full(n, highs.kHighsInf)
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
    table: ProtectedTable, index: dict, point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How far a feasible `point` can move each suppressed cell down and up along hypercubes of
    suppressed cells (the directions of tau-ARGUS's hypercube method, Repsilber): pick in every
    additive dimension two codes; the 2^n cells that combine them, all suppressed, can move
    together by +t and -t so that every equation still holds (where one of the two codes is
    the total, both cells move alike; else oppositely), as far as each cell stays >= 0.
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
    where = [{code: n for n, code in enumerate(values)} for values in codes]
    values = np.full([len(c) for c in codes], np.nan)  # NaN: published, cannot move
    position = np.zeros(values.shape, dtype=np.int64)
    for key, i in index.items():
        at = tuple(where[n][key[j]] for n, j in enumerate(order))
        values[at], position[at] = point[i], i
    plus, minus = values, np.full(values.shape, np.inf)
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
        shape = [1] * values.ndim
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
    for corner in itertools.product((0, 1), repeat=len(additive)):
        at = [pairs[n][side][usable[n]] for n, side in enumerate(corner)]
        opposite = np.zeros(len(plus), dtype=bool)
        for n, side in enumerate(corner):
            if side:
                opposite ^= flips[n][usable[n]]
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
