"""Synthetic case data at any size: profiles with consents, visits, group sessions, walk-ins.

Rows go in with bulk inserts of the tables (no ORM objects, no audit rows), so that a million
profiles load in minutes. Everything comes from one seeded random generator: the same size gives
the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from msc.auth.models import User
from msc.centres.models import Centre
from msc.core.codelists import codelist
from msc.core.db import db
from msc.core.roles import Role
from msc.demo.people import DESTINATIONS, LANGUAGE_OF, NAMES
from msc.migrants.models import CaseSequence, Consent, Migrant, MigrantCode
from msc.migrants.names import search_key, to_latin
from msc.migrants.operations import phone_index
from msc.visits.models import (
    GroupSession,
    GroupSessionHeadcount,
    Visit,
    WalkIn,
    group_session_attendee,
    group_session_facilitator,
    group_session_topic,
    topic_bits,
    visit_topic,
    walk_in_topic,
)

BATCH = 5_000
SEED = 20261126
START = datetime(2024, 1, 8, tzinfo=UTC)


def weighted(rng: random.Random, pairs):
    codes, weights = zip(*pairs, strict=True)
    return rng.choices(codes, weights)[0]


class Inserter:
    """Buffers rows per table and writes them in batches."""

    def __init__(self):
        self.buffers: dict[sa.Table, list[dict]] = {}

    def add(self, table: sa.Table, row: dict) -> None:
        buffer = self.buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= BATCH:
            self.flush(table)

    def flush(self, table: sa.Table | None = None) -> None:
        # Parents before children: the tables in dependency order.
        for each in db.metadata.sorted_tables:
            if (table is None or each is table) and self.buffers.get(each):
                db.session.execute(each.insert(), self.buffers[each])
                self.buffers[each] = []
        if table is not None:
            return


def next_id(model) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1


def generate_cases(profiles: int, progress: Callable[[str], None] = lambda _m: None) -> dict:
    rng = random.Random(SEED)
    centres = db.session.scalars(sa.select(Centre).order_by(Centre.id)).all()
    staff = {
        c.id: db.session.scalars(
            sa.select(User.id)
            .where(User.centre_id == c.id, User.role == Role.COUNSELLOR)
            .order_by(User.id)
        ).all()
        for c in centres
    }
    centres = [c for c in centres if staff[c.id]]
    if not centres or profiles <= 0:
        return {}
    now = datetime.now(UTC)
    span = (now - START).total_seconds()
    out = Inserter()
    migrant_id, visit_id = next_id(Migrant), next_id(Visit)
    walk_in_id, session_id = next_id(WalkIn), next_id(GroupSession)
    sequences: dict[tuple[int, int], int] = {}
    members: dict[int, list[int]] = {c.id: [] for c in centres}
    counts = {"profiles": 0, "visits": 0, "walk_ins": 0, "group_sessions": 0}
    topics = codelist("visit_topic").codes
    bits = topic_bits(db.session)
    isco_sub = [c for c in codelist("isco08").codes if len(c) == 2 and not c.startswith("0")]
    for n in range(profiles):
        centre = centres[n % len(centres)]
        country = centre.country_code
        counsellor = staff[centre.id][n // len(centres) % len(staff[centre.id])]
        registered = START + timedelta(seconds=span * (n / profiles) + rng.random() * 3600)
        year = registered.year
        sequence = sequences.get((centre.id, year), 0) + 1
        sequences[(centre.id, year)] = sequence
        row = _profile(rng, n, country, isco_sub)
        row.update(
            id=migrant_id,
            centre_id=centre.id,
            counsellor_id=counsellor,
            created_by_id=counsellor,
            case_number=f"{country}-{centre.code}-{year}-{sequence:06d}",
            created_at=registered,
            updated_at=registered,
            version_id=1,
        )
        codes = row.pop("_codes")
        out.add(Migrant.__table__, row)
        for kind, code in codes:
            out.add(MigrantCode.__table__, {"migrant_id": migrant_id, "kind": kind, "code": code})
        for purpose, share in (
            ("service", 1.0),
            ("referral", 0.8),
            ("statistics", 0.88),
            ("follow_up", 0.6),
        ):
            if rng.random() < share:
                out.add(
                    Consent.__table__,
                    {
                        "migrant_id": migrant_id,
                        "purpose": purpose,
                        "basis": "vital_interest"
                        if purpose == "referral" and rng.random() < 0.01
                        else "consent",
                        "given_on": registered.date(),
                        "informed_language": row["preferred_language"],
                        "recorded_by_id": counsellor,
                        "created_at": registered,
                        "updated_at": registered,
                    },
                )
        moment = registered
        for number in range(rng.choice([1, 1, 2, 3, 3, 3, 4, 5])):
            gap = timedelta(
                days=rng.randint(0 if number == 0 else 1, 40), minutes=rng.randint(0, 600)
            )
            moment = moment + gap
            if moment > now:  # no visits in the future
                break
            follow_up = (
                (moment + timedelta(days=rng.randint(7, 30))).date()
                if rng.random() < 0.35
                else None
            )
            visit = {
                "id": visit_id,
                "migrant_id": migrant_id,
                "centre_id": centre.id,
                "counsellor_id": counsellor,
                "occurred_at": moment,
                "mode": weighted(
                    rng, [("in_person", 70), ("phone", 18), ("online", 8), ("outreach", 4)]
                ),
                "duration_minutes": rng.choice([15, 20, 30, 30, 45, 60]),
                "material": None,
                "notes": None,
                "follow_up_on": follow_up,
                "follow_up_done": follow_up is not None and follow_up < now.date(),
                "created_at": moment,
                "updated_at": moment,
                "version_id": 1,
            }
            chosen = rng.sample(topics, rng.randint(1, 3))
            # The topic set as the triggers would make it, so they find nothing to change.
            visit["topic_set"] = sum(1 << bits[topic] for topic in chosen)
            out.add(Visit.__table__, visit)
            for topic in chosen:
                out.add(visit_topic, {"visit_id": visit_id, "topic": topic})
            visit_id += 1
            counts["visits"] += 1
        members[centre.id].append(migrant_id)
        if rng.random() < 0.3:
            _walk_in(out, rng, walk_in_id, centre.id, counsellor, registered, topics)
            walk_in_id += 1
            counts["walk_ins"] += 1
        if (n + 1) % 200 == 0:
            session_id = _group_session(
                out,
                rng,
                session_id,
                centre,
                staff[centre.id],
                members[centre.id],
                registered,
                topics,
            )
            counts["group_sessions"] += 1
        migrant_id += 1
        counts["profiles"] += 1
        if (n + 1) % 50_000 == 0:
            out.flush()
            progress(f"{n + 1:,} profiles")
    out.flush()
    for (centre_id, year), last in sequences.items():
        db.session.merge(CaseSequence(centre_id=centre_id, year=year, last_value=last))
    reset_sequences(Migrant, Visit, WalkIn, GroupSession, Consent)
    return counts


def _profile(rng: random.Random, n: int, country: str, isco_sub: list[str]) -> dict:
    female_names, male_names, family_names = NAMES[country]
    if country == "RS":  # one script per person: Cyrillic for most, Latin for some
        cyrillic = rng.random() < 0.7
        female_names = [n for n in female_names if _is_cyrillic(n) == cyrillic]
        male_names = [n for n in male_names if _is_cyrillic(n) == cyrillic]
        family_names = [n for n in family_names if _is_cyrillic(n) == cyrillic]
    sex = weighted(rng, [("F", 48), ("M", 50), ("O", 1), ("U", 1)])
    given = rng.choice(
        female_names if sex == "F" else male_names if sex == "M" else female_names + male_names
    )
    family = rng.choice(family_names)
    age = weighted(
        rng,
        [
            (rng.randint(15, 17), 4),
            (rng.randint(18, 24), 24),
            (rng.randint(25, 34), 32),
            (rng.randint(35, 44), 20),
            (rng.randint(45, 54), 12),
            (rng.randint(55, 64), 6),
            (rng.randint(65, 75), 2),
        ],
    )
    birth_year = 2026 - age
    birth_date = (
        date(birth_year, rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.9 else None
    )
    education = weighted(
        rng, [("1", 5), ("2", 15), ("3", 45), ("4", 8), ("5", 5), ("6", 15), ("7", 6), ("8", 1)]
    )
    intention = weighted(rng, [("none", 30), ("considering", 40), ("planning", 30)])
    category = weighted(
        rng,
        [
            ("intending_emigrant", 60),
            ("returned_migrant", 25),
            ("immigrant", 8),
            ("transit_migrant", 4),
            ("other", 3),
        ],
    )
    language = LANGUAGE_OF[country]
    codes = [("citizenship", country)]
    if rng.random() < 0.06:
        codes.append(("citizenship", rng.choice(["HR", "BG", "RO", "DE", "AT", "TR"])))
    codes.append(("language", language))
    for extra in rng.sample(["en", "de", "it", "sr", "sq", "tr", "fr"], rng.randint(0, 2)):
        if extra != language:
            codes.append(("language", extra))
    if intention != "none":
        for destination in {weighted(rng, DESTINATIONS) for _ in range(rng.randint(1, 2))}:
            codes.append(("destination", destination))
    sought = rng.choice(isco_sub) if rng.random() < 0.8 else None
    phone = (
        f"+{rng.choice(['355', '387', '383', '382', '389', '381'])} "
        f"6{rng.randint(0, 9)} {rng.randint(100000, 9999999)}"
        if rng.random() < 0.85
        else None
    )
    return {
        "given_name": given,
        "family_name": family,
        "given_name_latin": to_latin(given),
        "family_name_latin": to_latin(family),
        "name_key": search_key(f"{family} {given}"),
        "sex": sex,
        "birth_date": birth_date,
        "birth_year": birth_date.year if birth_date else birth_year,
        "birth_country": country,
        "residence_country": country,
        "residence_region_id": None,
        "phone": phone,
        "phone_index": phone_index(phone),
        "email": None,
        "preferred_language": language,
        "education": education,
        "occupation_current": rng.choice(isco_sub) if rng.random() < 0.6 else None,
        "occupation_sought": sought,
        "labour_status": weighted(
            rng, [("unemployed", 45), ("employed", 30), ("outside", 15), ("student", 10)]
        ),
        "experience_years": max(0, min(age - 18, rng.randint(0, 25))),
        "category": category,
        "intention": intention,
        "intention_purpose": weighted(
            rng, [("work", 75), ("study", 10), ("family", 10), ("other", 5)]
        )
        if intention != "none"
        else None,
        "job_offer": rng.random() < 0.15 if intention == "planning" else None,
        "heard_from": weighted(
            rng,
            [
                ("nes_office", 40),
                ("friends_family", 20),
                ("social_media", 15),
                ("media", 8),
                ("partner", 7),
                ("outreach", 5),
                ("school", 3),
                ("other", 2),
            ],
        ),
        "protection_indicators": ["recruitment_fee"] if rng.random() < 0.02 else [],
        "notes": None,
        "submission_token": None,
        "merged_into_id": None,
        "merged_at": None,
        "_codes": codes,
    }


def _is_cyrillic(name: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in name)


def _walk_in(out, rng, walk_in_id, centre_id, counsellor, when, topics):
    out.add(
        WalkIn.__table__,
        {
            "id": walk_in_id,
            "centre_id": centre_id,
            "counsellor_id": counsellor,
            "occurred_at": when + timedelta(hours=rng.randint(1, 200)),
            "sex": weighted(rng, [("F", 45), ("M", 53), ("U", 2)]),
            "age_band": weighted(
                rng,
                [
                    ("15-17", 5),
                    ("18-24", 30),
                    ("25-34", 32),
                    ("35-44", 18),
                    ("45-54", 10),
                    ("55-64", 4),
                    ("65+", 1),
                ],
            ),
            "citizenship": None,
            "submission_token": None,
            "created_at": when,
            "updated_at": when,
        },
    )
    for topic in rng.sample(topics, rng.randint(1, 2)):
        out.add(walk_in_topic, {"walk_in_id": walk_in_id, "topic": topic})


def _group_session(out, rng, session_id, centre, staff, members, when, topics) -> int:
    out.flush()  # the attendees must exist before the roster rows
    out.add(
        GroupSession.__table__,
        {
            "id": session_id,
            "centre_id": centre.id,
            "occurred_on": when.date(),
            "title": rng.choice(
                [
                    "Working legally in the EU",
                    "Risks of irregular migration",
                    "Seasonal work schemes",
                    "Starting a business at home",
                ]
            ),
            "venue": centre.host_office[:200],
            "created_by_id": staff[0],
            "submission_token": None,
            "created_at": when,
            "updated_at": when,
            "version_id": 1,
        },
    )
    out.add(group_session_facilitator, {"group_session_id": session_id, "user_id": staff[0]})
    for topic in rng.sample(topics, 2):
        out.add(group_session_topic, {"group_session_id": session_id, "topic": topic})
    for migrant_id in rng.sample(members[-400:], min(len(members[-400:]), rng.randint(5, 15))):
        out.add(group_session_attendee, {"group_session_id": session_id, "migrant_id": migrant_id})
    for sex in ("F", "M"):
        for band in rng.sample(["18-24", "25-34", "35-44"], 2):
            out.add(
                GroupSessionHeadcount.__table__,
                {
                    "group_session_id": session_id,
                    "sex": sex,
                    "age_band": band,
                    "count": rng.randint(1, 8),
                },
            )
    return session_id + 1


def reset_sequences(*models) -> None:
    """Explicit ids bypass PostgreSQL's sequences: move each one past the rows now there."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__table__
        highest = sa.select(sa.func.coalesce(sa.func.max(table.c.id), 1)).scalar_subquery()
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        db.session.execute(sa.select(sa.func.setval(sequence, highest)))
