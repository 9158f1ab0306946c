"""Property tests of disclosure control over generated populations."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc.research.audit import _audit_table
from msc.research.catalogue import TABLES, Unit
from msc.research.disclosure import FREE, PRIMARY, SECONDARY, protect, table_rows

SPEC = TABLES["persons_category"]  # three additive dimensions: category x labour status x sex
K, BASE = 10, 5

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
    problems = _audit_table(SPEC.id, rows_csv(rows), K, BASE)
    assert any("can be narrowed" in p for p in problems)
    rows[0]["OBS_VALUE"] = 7  # not a multiple of the base, and below k
    assert any("not a multiple" in p for p in _audit_table(SPEC.id, rows_csv(rows), K, BASE))


def test_everyone_in_one_category_is_flagged():
    people = [("returned_migrant", "employed", "F")] * 20 + [
        ("returned_migrant", "student", "F")
    ] * 2
    table = protect(SPEC, units_of(people), K, BASE)
    flagged = {key for key, cell in table.cells.items() if cell.flag == "G"}
    assert ("returned_migrant", "_T", "F") in flagged
