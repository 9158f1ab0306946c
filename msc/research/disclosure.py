"""Statistical disclosure control for the research tables.

Method (after the Handbook on Statistical Disclosure Control, Hundepool et al., ch. 4, and
tau-ARGUS; cf. Statistics Norway's GaussSuppression):

1. Threshold rule (primary suppression, SDMX CONF_STATUS "A"): every cell, margins included,
   counting 1 to k-1 distinct persons is suppressed, whatever the table's counting unit.
2. Complementary suppression ("D"): the table with its margins is a system of linear equations
   (each total is the sum of its categories, for every additive dimension). Cells are suppressed
   until (a) no equation holds exactly one suppressed cell, and (b) a linear-programming audit
   (HiGHS, through scipy.optimize.linprog) finds, for every primary cell, an interval of feasible
   values at least `protection` wide given everything published.
3. Published counts are rounded to a base (5 by default); zeros are published as zeros.
4. A row in which all persons but fewer than k fall in one category is flagged ("G"): publishing
   it tells that (nearly) everyone in the row shares the attribute.
Non-additive dimensions (a visit with two topics counts under both) give no equations; their
totals count each record once.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

from msc.research.catalogue import OTHER, TOTAL, Counts, Dimension, TableSpec, Unit

FREE, PRIMARY, SECONDARY = "F", "A", "D"
MIN_THRESHOLD = 5


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
        for total in itertools.product(*others):
            parts = [total[:j] + (code,) + total[j + 1 :] for code in categories[j]]
            equations.append([total, *parts])
    return equations


def protect(
    spec: TableSpec,
    units: list[Unit] | Counts,
    threshold: int,
    rounding_base: int,
    protection: int | None = None,
) -> ProtectedTable:
    """Disclosure control of one table, from its records (`Unit`s) or its counts (`Counts`)."""
    threshold = max(threshold, MIN_THRESHOLD)
    counts = units if isinstance(units, Counts) else aggregate(spec, units, threshold)
    categories, cells = _cells(counts)
    table = ProtectedTable(
        spec, categories, cells, equations_of(spec.dimensions, categories), threshold, rounding_base
    )
    for cell in cells.values():
        if 1 <= cell.persons < threshold:
            cell.status = PRIMARY
    protection = protection or threshold
    # More suppression only widens intervals, so a cell that passed once stays safe: each round
    # re-audits just the cells that were still too narrow.
    to_check = None
    for _round in range(len(cells) + 1):
        _close_singletons(table)
        weak = audit_intervals(table, protection, only=to_check)
        if not weak:
            break
        grew = [_suppress_partner(table, key) for key in weak]  # every weak cell, no short cut
        if not any(grew):
            break  # nothing left to suppress around them; the release audit will refuse the table
        to_check = weak
    _round_and_flag(table)
    return table


def _candidates(table: ProtectedTable, equation: list[tuple]) -> list[Cell]:
    cells = table.cells
    return [cells[k] for k in equation if cells[k].status == FREE and cells[k].units > 0]


def _close_singletons(table: ProtectedTable) -> None:
    """No equation may hold exactly one suppressed cell: it would equal total minus the rest."""
    changed = True
    while changed:
        changed = False
        for equation in table.equations:
            hidden = [k for k in equation if table.cells[k].status != FREE]
            if len(hidden) == 1:
                options = _candidates(table, equation)
                if options:
                    min(options, key=lambda c: _partner_cost(table, c)).status = SECONDARY
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
        equations = [e for e in table.equations if reach & set(e)]
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
    protection: int,
    published: dict | None = None,
    slack: float = 0.0,
    only: list[tuple] | None = None,
) -> list[tuple]:
    """Primary cells whose feasible interval, given what is published, is narrower than
    `protection`. `published` maps keys to published values (default: the true counts), and
    `slack` widens each published value to ±slack (the rounding an outsider must allow for)."""
    hidden = [k for k, c in table.cells.items() if c.status != FREE]
    if not hidden:
        return []
    index = {k: i for i, k in enumerate(hidden)}
    known = published if published is not None else {k: c.units for k, c in table.cells.items()}
    rows, lower, upper = [], [], []
    for equation in table.equations:
        total, *parts = equation
        if not any(k in index for k in equation):
            continue
        coefficients = {}
        constant_low = constant_high = 0.0
        for k, sign in [(total, 1.0)] + [(p, -1.0) for p in parts]:
            if k in index:
                coefficients[index[k]] = coefficients.get(index[k], 0.0) + sign
            else:
                value = known[k]
                constant_low -= sign * value + abs(sign) * slack
                constant_high -= sign * value - abs(sign) * slack
        rows.append(coefficients)
        lower.append(min(constant_low, constant_high))
        upper.append(max(constant_low, constant_high))
    weak = []
    wanted = set(only) if only is not None else None
    primaries = [
        k for k in hidden if table.cells[k].status == PRIMARY and (wanted is None or k in wanted)
    ]
    if not rows:
        return []
    matrix = lil_matrix((2 * len(rows), len(hidden)))
    bounds_vector = []
    for r, coefficients in enumerate(rows):
        for column, coefficient in coefficients.items():
            matrix[2 * r, column] = coefficient
            matrix[2 * r + 1, column] = -coefficient
        bounds_vector += [upper[r], -lower[r]]
    matrix = matrix.tocsr()
    b = np.array(bounds_vector)
    for key in primaries:
        objective = np.zeros(len(hidden))
        objective[index[key]] = 1.0
        low = linprog(objective, A_ub=matrix, b_ub=b, bounds=(0, None), method="highs")
        high = linprog(-objective, A_ub=matrix, b_ub=b, bounds=(0, None), method="highs")
        if low.status != 0:
            continue  # infeasible only if the published figures contradict each other
        if high.status == 3:  # unbounded above: well protected
            continue
        if high.status == 0 and (-high.fun) - low.fun < protection - 1e-6:
            weak.append(key)
    return weak


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
