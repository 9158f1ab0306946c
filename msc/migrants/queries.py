"""Reading profiles: the scoped loader, search across scripts, duplicate candidates."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_login import current_user
from rapidfuzz import fuzz
from sqlalchemy.orm import selectinload

from msc.core import audit
from msc.core.access import get_scoped_or_404
from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Migrant, MigrantCode, live_profiles_of
from msc.migrants.names import search_key
from msc.migrants.operations import PHONE_MATCH_DIGITS, phone_index

CASE_NUMBER = re.compile(r"^[A-Z]{2}-[A-Z0-9-]+-\d{4}-\d{1,6}$", re.IGNORECASE)
NAME_SCORE_MIN = 80  # rapidfuzz ratio (0-100) a name word must reach to match a typed word
NAME_MATCHES_SHOWN = 100  # a name search shows the best matches, up to this many
DUPLICATE_CANDIDATES = 50  # names most like a new registration's that the duplicate check scores


def get_migrant_or_404(
    migrant_id: int, action: str | None = "migrant.viewed", *, for_change: bool = False
) -> Migrant:
    """The profile if the user's centre holds it (404 otherwise); the read is audited.

    `for_change`: an anonymised profile cannot be changed or added to (that would identify the
    person again), so it answers 404 there too.
    """
    from flask import abort

    migrant = get_scoped_or_404(Migrant, migrant_id)
    if current_user.role not in {Role.COUNSELLOR, Role.SUPERVISOR}:
        abort(404)
    if for_change and migrant.anonymised_at is not None:
        abort(404)
    if action:
        audit.record(action, migrant)
    return migrant


def load_profile(migrant_id: int) -> Migrant:
    """The profile with its codes, stays and consents in a fixed number of queries."""
    return db.session.scalars(
        sa.select(Migrant)
        .where(Migrant.id == migrant_id)
        .options(
            selectinload(Migrant.codes), selectinload(Migrant.stays), selectinload(Migrant.consents)
        )
        .execution_options(populate_existing=True)
    ).one()


def can_see_restricted(migrant: Migrant) -> bool:
    """Protection indicators and notes: the profile's counsellor and the centre's supervisors."""
    if current_user.role == Role.SUPERVISOR:
        return migrant.centre_id == current_user.centre_id
    return current_user.role == Role.COUNSELLOR and migrant.counsellor_id == current_user.id


def active_consent(migrant: Migrant, purpose: str):
    return next((c for c in migrant.consents if c.purpose == purpose and c.active), None)


# --- search -------------------------------------------------------------------------------


@dataclass
class SearchRequest:
    text: str = ""
    birth: str = ""
    phone: str = ""
    sort: str = ""
    mine: bool = False

    @property
    def empty(self) -> bool:
        return not (self.text or self.birth or self.phone)


@dataclass
class SearchPage:
    items: list
    total: int
    page: int
    per_page: int
    scores: dict = field(default_factory=dict)
    more: bool = False  # a name search found more matches than it shows (NAME_MATCHES_SHOWN)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


SORTS = {
    "updated": Migrant.updated_at.desc(),
    "name": Migrant.family_name_latin,
    "case": Migrant.case_number,
    "birth": Migrant.birth_year,
}


def parse_birth(value: str) -> date | int | None:
    value = value.strip()
    if re.fullmatch(r"\d{4}", value):
        return int(value)
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def search(centre_id: int, request: SearchRequest, page: int, per_page: int) -> SearchPage:
    """Profiles of the centre matching every criterion given; two queries whatever the size."""
    merged_out = Migrant.merged_into_id.is_(None)
    # Anonymised profiles are statistics now: no list or search shows them.
    conditions = [Migrant.centre_id == centre_id, Migrant.anonymised_at.is_(None), merged_out]
    if request.mine:
        conditions.append(Migrant.counsellor_id == current_user.id)
    birth = parse_birth(request.birth) if request.birth else None
    if isinstance(birth, int):
        conditions.append(Migrant.birth_year == birth)
    elif isinstance(birth, date):
        conditions.append(Migrant.birth_date == birth)
    elif request.birth:
        return SearchPage([], 0, page, per_page)
    # Phones are encrypted: they are found by the blind index of their last seven digits.
    digits = "".join(ch for ch in request.phone if ch.isdigit())
    if request.phone:
        if len(digits) < PHONE_MATCH_DIGITS:
            return SearchPage([], 0, page, per_page)
        conditions.append(Migrant.phone_index == phone_index(digits))
    text = request.text.strip()
    if text and CASE_NUMBER.match(text):
        # A merged profile's old number still finds it; its page leads to the survivor.
        conditions = [c for c in conditions if c is not merged_out] + [
            Migrant.case_number == text.upper()
        ]
        text = ""
    elif text.isdigit() and len(text) <= 6:
        conditions.append(Migrant.case_number.like(f"%-{int(text):06d}"))
        text = ""
    if not text:
        return _page_by_sql(conditions, request.sort or "updated", page, per_page)
    return _page_by_name(conditions, search_key(text), request.sort or "relevance", page, per_page)


def _page_by_sql(conditions: list, sort: str, page: int, per_page: int) -> SearchPage:
    # count(*), not count(id): an index that holds the conditions' columns then answers alone.
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Migrant).where(*conditions))
    rows = db.session.scalars(
        sa.select(Migrant)
        .where(*conditions)
        .order_by(SORTS.get(sort, SORTS["updated"]), Migrant.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return SearchPage(rows, total, page, per_page)


def _page_by_name(conditions: list, key: str, sort: str, page: int, per_page: int) -> SearchPage:
    words = key.split()
    if not words:
        return SearchPage([], 0, page, per_page)
    # The name index gives the candidates most like the typed name (best_name_matches); rapidfuzz
    # then scores each typed word for spelling and typos. A name search shows the best
    # NAME_MATCHES_SHOWN: a common family name alone would otherwise match thousands of people,
    # whom nobody pages through, and fetching them all made a search slow at national scale.
    statement = sa.select(
        Migrant.id,
        Migrant.name_key,
        Migrant.updated_at,
        Migrant.family_name_latin,
        Migrant.case_number,
    ).where(*name_index_first(conditions))
    # Twice as many candidates as are shown: the index orders by likeness to the whole name, the
    # score by the weakest word, so a few candidates do not reach the score.
    rows = db.session.execute(best_name_matches(statement, key, 2 * NAME_MATCHES_SHOWN)).all()
    scored = []
    for row in rows:
        score = name_score(words, row.name_key.split())
        if score >= NAME_SCORE_MIN:
            scored.append((score, row))
    scored.sort(key=lambda item: (-item[0], item[1].name_key, item[1].id))
    more = len(scored) > NAME_MATCHES_SHOWN
    scored = scored[:NAME_MATCHES_SHOWN]
    order = {
        "name": lambda item: (item[1].family_name_latin.lower(), item[1].id),
        "case": lambda item: item[1].case_number,
        "updated": lambda item: (-item[1].updated_at.timestamp(), item[1].id),
    }
    if sort in order:
        scored.sort(key=order[sort])
    chosen = scored[(page - 1) * per_page : page * per_page]
    by_id = {
        m.id: m
        for m in db.session.scalars(
            sa.select(Migrant).where(Migrant.id.in_([r.id for _, r in chosen]))
        )
    }
    return SearchPage(
        [by_id[row.id] for _, row in chosen],
        len(scored),
        page,
        per_page,
        scores={row.id: round(score) for score, row in chosen},
        more=more,
    )


# --- the name index ------------------------------------------------------------------------

# Database objects of the name index that are not models (see the migrations 41e687dc7463 and
# 5c1f0e9a7b21): the PostgreSQL trigram index, and SQLite's FTS5 table with its shadow tables.
NAME_INDEX = "ix_migrant_centre_name_trgm"
NAME_FTS = "migrant_name_fts"


# pg_trgm's word similarity the typed name must reach with a stretch of a profile's name to be a
# candidate; the score (name_score), not this threshold, decides what is shown. The default, 0.6,
# misses a five-letter name with its first letter wrong ("narko" for "marko": 0.5); lower, the
# nearest-neighbour scan of a rare name walks further through the centre's names for nothing.
WORD_SIMILARITY_THRESHOLD = 0.5


@sa.event.listens_for(sa.engine.Engine, "connect")
def _set_word_similarity_threshold(dbapi_connection, _record):
    """Each PostgreSQL connection gets the threshold (a session setting: pg_trgm reads it)."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET pg_trgm.word_similarity_threshold = {WORD_SIMILARITY_THRESHOLD}")
    dbapi_connection.commit()  # SET is transactional: a later rollback would undo it


def include_name(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Alembic autogenerate filter: the name index objects are made by hand, not by models."""
    if type_ == "table":
        return not (name or "").startswith(NAME_FTS)
    if type_ == "index":
        return name != NAME_INDEX
    return True


def best_name_matches(statement: sa.Select, key: str, limit: int) -> sa.Select:
    """The statement narrowed to profiles whose name may match the typed key, through the index.

    PostgreSQL: the GiST trigram index on (centre, name) gives the centre's names in order of
    word similarity to the whole key (`<->>`, a nearest-neighbour scan), the `limit` nearest
    above pg_trgm's threshold, so the work does not grow with how common a name is; word order
    does not matter, and a typo anywhere, even in a first letter, is found. SQLite: the FTS5
    trigram table gives the names that contain a piece of each word (fts5_query); it has no
    similarity order, so every match is returned and the caller's score ranks them. The score
    that decides (name_score) is computed afterwards, in Python. The statement's conditions
    must include live_profiles_of's: the PostgreSQL index covers live profiles only.
    """
    words = key.split()
    if db.session.get_bind().dialect.name == "postgresql":
        return (
            statement.where(Migrant.name_key.op("%>")(key))
            .order_by(Migrant.name_key.op("<->>")(key))
            .limit(limit)
        )
    long_words = [word for word in words if len(word) >= 3]
    # FTS5 trigrams cannot find a piece shorter than three letters: one- and two-letter words
    # fall back to a prefix of a name word, checked on the rows the index found.
    short = [
        sa.or_(Migrant.name_key.like(f"{word}%"), Migrant.name_key.like(f"% {word}%"))
        for word in words
        if len(word) < 3
    ]
    if not long_words:
        return statement.where(*short)
    match = sa.text(f"{NAME_FTS} MATCH :fts_query").bindparams(fts_query=fts5_query(long_words))
    matches = sa.select(sa.column("rowid")).select_from(sa.table(NAME_FTS)).where(match)
    return statement.where(Migrant.id.in_(matches.scalar_subquery()), *short)


def name_index_first(conditions: list) -> list:
    """The other conditions of a name search, marked so that the name index leads on SQLite.

    SQLite's planner, without statistics, would walk the centre's index and test each row
    against the name matches (a scan of the centre); likely() tells it these conditions hold for
    most rows, so it starts from the FTS5 matches instead. PostgreSQL weighs its statistics.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return conditions
    return [sa.func.likely(condition) for condition in conditions]


def fts5_query(words: list[str]) -> str:
    """An FTS5 query: every word must be matched by one of its pieces.

    A word typed with one mistake (a letter wrong, missing or extra) still contains, unchanged,
    at least one of two halves when it has six letters or more (the mistake falls in one half),
    and most of its trigrams when shorter. Search keys hold only the letters a-z and spaces
    (names.search_key), so quoting each piece is enough.
    """
    groups = []
    for word in words:
        if len(word) >= 6:
            half = len(word) // 2
            pieces = [word[:half], word[half:]]
        else:
            pieces = [word[i : i + 3] for i in range(len(word) - 2)]
        groups.append("(" + " OR ".join(f'"{piece}"' for piece in pieces) + ")")
    return " AND ".join(groups)


def name_score(typed: list[str], name_words: list[str]) -> float:
    """Every typed word must match some word of the name; the weakest match is the score."""
    if not name_words:
        return 0.0
    best = []
    for word in typed:
        scores = [
            100.0 if len(word) >= 2 and candidate.startswith(word) else fuzz.ratio(word, candidate)
            for candidate in name_words
        ]
        best.append(max(scores))
    return min(best)


# --- duplicates ---------------------------------------------------------------------------


@dataclass
class DuplicateCandidate:
    migrant: Migrant
    score: int
    reasons: list[str]


def likely_duplicates(
    centre_id: int,
    given: str,
    family: str,
    birth_date: date | None,
    birth_year: int | None,
    citizenships: list[str],
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[DuplicateCandidate]:
    """Profiles of the centre that may be the same person, best first, with the reasons."""
    key = search_key(f"{family} {given}")
    words = key.split()
    if not words:
        return []
    statement = (
        sa.select(Migrant)
        .where(*name_index_first(live_profiles_of(centre_id)))
        .options(selectinload(Migrant.codes))
    )
    if exclude_id:
        statement = statement.where(Migrant.id != exclude_id)
    statement = best_name_matches(statement, key, DUPLICATE_CANDIDATES)
    year = birth_date.year if birth_date else birth_year
    found = []
    for migrant in db.session.scalars(statement):
        name = fuzz.token_sort_ratio(key, migrant.name_key)
        if name < NAME_SCORE_MIN:
            continue
        reasons = [_("Name similar (%(score)d%%)", score=round(name))]
        birth_points = 0
        if birth_date and migrant.birth_date == birth_date:
            birth_points = 100
            reasons.append(_("Same date of birth"))
        elif year and abs(migrant.birth_year - year) <= 1:
            birth_points = 60
            reasons.append(_("Born within a year of each other"))
        shared = set(citizenships) & set(migrant.coded(MigrantCode.CITIZENSHIP))
        if shared:
            reasons.append(_("Same citizenship"))
        score = round(0.6 * name + 0.3 * birth_points + (10 if shared else 0))
        if score >= 60:
            found.append(DuplicateCandidate(migrant, score, reasons))
    found.sort(key=lambda candidate: -candidate.score)
    return found[:limit]
