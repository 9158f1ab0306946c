"""Name search goes through the trigram index (pg_trgm on PostgreSQL, FTS5 on SQLite)."""

import random
import re

import sqlalchemy as sa

from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Migrant
from msc.migrants.names import search_key
from msc.migrants.queries import NAME_INDEX, fts5_query
from tests.integration.test_search_and_visits import case_links

SYLLABLES = ["ko", "va", "pe", "tro", "mi", "la", "ni", "sto", "ja", "bu", "ra", "zi", "ste", "fu"]


def test_a_typo_in_the_first_letters_is_found(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    target = make_migrant(counsellor, given_name="Јелена", family_name="Ђорђевић")
    other = make_migrant(counsellor, given_name="Marko", family_name="Marković")
    # A wrong, an extra and a missing first letter, a wrong second letter, a given name with a
    # wrong first letter: a prefix of the first two letters (the previous rule) finds none.
    for query in ("Gordevic", "Dzordjevic", "Ordevic", "Dprdevic", "Gordevic Pelena"):
        links = case_links(client.get("/cases/", query_string={"q": query}).get_data(as_text=True))
        assert str(target.id) in links, query
        assert str(other.id) not in links, query


def test_duplicate_check_finds_a_name_with_a_typo_in_its_first_letter(make_migrant):
    from msc.migrants.queries import likely_duplicates

    target = make_migrant(given_name="Jelena", family_name="Đorđević", birth_year=1990)
    found = likely_duplicates(target.centre_id, "Jelena", "Gjorgjevic", None, 1990, ["RS"])
    assert [candidate.migrant.id for candidate in found] == [target.id]


def test_fts5_query_keeps_a_piece_that_survives_one_mistake():
    # Six letters or more: two halves, one of which a single mistake leaves whole.
    assert fts5_query(["dordevic"]) == '("dord" OR "evic")'
    # Shorter words: their trigrams; every typed word must be matched (AND).
    assert fts5_query(["ana", "jelen"]) == '("ana") AND ("jel" OR "ele" OR "len")'


def add_profiles(counsellor, n: int) -> None:
    """Many profiles in one centre, inserted in bulk, so the planner weighs a real choice."""
    rng = random.Random(8)
    rows = []
    for i in range(n):
        # Names of many spellings, as a country's population has: short trigram lists.
        given = "".join(rng.choices(SYLLABLES, k=3)).title()
        family = "".join(rng.choices(SYLLABLES, k=4)).title()
        rows.append(
            {
                "centre_id": counsellor.centre_id,
                "case_number": f"RS-IDX-2026-{i + 1:06d}",
                "counsellor_id": counsellor.id,
                "created_by_id": counsellor.id,
                "given_name": given,
                "family_name": family,
                "given_name_latin": given,
                "family_name_latin": family,
                "name_key": search_key(f"{family} {given}"),
                "sex": "F",
                "birth_year": 1990,
                "preferred_language": "sr",
                "category": "intending_emigrant",
                "intention": "considering",
                "protection_indicators": [],
            }
        )
    db.session.execute(sa.insert(Migrant), rows)
    db.session.commit()


def search_statements(client, query: str) -> list[tuple[str, object]]:
    """The SQL statements (with parameters) a name search sends that filter on the name."""
    sent = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if "name_key" in statement and ("%>" in statement or " MATCH " in statement):
            sent.append((statement, parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
    try:
        assert client.get("/cases/", query_string={"q": query}).status_code == 200
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)
    return sent


def test_name_search_uses_the_trigram_index_not_a_scan(client, login_as, make_migrant):
    counsellor = login_as(Role.COUNSELLOR)
    make_migrant(counsellor, given_name="Jelena", family_name="Đorđević")
    add_profiles(counsellor, 3000)
    statements = search_statements(client, "Gordevic Jelena")
    assert statements, "the search sent no statement through the name index"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("VACUUM ANALYZE migrant")
            for statement, parameters in statements:
                plan = "\n".join(
                    connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars()
                )
                # A nearest-neighbour scan of the centre's names: the index gives the order too.
                assert f"Index Scan using {NAME_INDEX}" in plan, plan
                assert "Order By: ((name_key)::text <->>" in plan, plan
                assert "Seq Scan on migrant" not in plan, plan
        else:
            for statement, parameters in statements:
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plan = "\n".join(row[-1] for row in rows)
                assert re.search(r"SCAN migrant_name_fts VIRTUAL TABLE", plan), plan
                assert not re.search(r"\bSCAN migrant\b", plan), plan  # no scan of profiles
                assert "SEARCH migrant USING INTEGER PRIMARY KEY" in plan, plan


def test_a_common_name_shows_the_best_matches_and_says_there_are_more(
    client, login_as, make_migrant, monkeypatch
):
    monkeypatch.setattr("msc.migrants.queries.NAME_MATCHES_SHOWN", 3)
    counsellor = login_as(Role.COUNSELLOR)
    exact = make_migrant(counsellor, given_name="Marko", family_name="Petrović")
    others = [
        make_migrant(counsellor, given_name=g, family_name="Petrović")
        for g in ("Ana", "Ivan", "Jelena", "Milan")
    ]

    def shown(query: str) -> tuple[list[str], str]:
        html = client.get("/cases/", query_string={"q": query}).get_data(as_text=True)
        return re.findall(r'href="/cases/(\d+)"', html), html

    links, html = shown("Petrovic Marko")
    assert links[0] == str(exact.id)  # the best match first
    links, html = shown("Petrovic")
    assert len(links) == 3
    assert "The best 3 matches" in html
    assert set(links) <= {str(m.id) for m in [exact, *others]}
    # Narrowed, the same search shows everyone it finds and no such message.
    links, html = shown("Petrovic Ivan")
    assert links == [str(others[1].id)]
    assert "The best" not in html
