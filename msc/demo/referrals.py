"""Demo partners, legal migration channels, local options, and referrals in every state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from msc.auth.models import User
from msc.centres.models import Centre, Region
from msc.core.db import db
from msc.core.roles import Role
from msc.demo.cases import reset_sequences
from msc.migrants.models import Consent, Migrant
from msc.referrals.models import Channel, LocalOption, Partner, Referral, ReferralEvent

PARTNERS = [  # (kind, name pattern, services)
    ("nes_office", "Employment office {city}", ["job_placement", "vocational_training"]),
    ("training_provider", "Vocational training centre {city}", ["vocational_training"]),
    (
        "recruitment_agency",
        "Licensed recruitment agency {city}",
        ["work_abroad", "visa_information"],
    ),
    ("anti_trafficking", "Anti-trafficking hotline", ["victim_support", "shelter", "legal_advice"]),
    ("legal_aid", "Legal aid office {city}", ["legal_advice"]),
    ("psychosocial", "Psychosocial support centre {city}", ["counselling"]),
]
CHANNELS = [  # (destination, name, kind, occupations)
    (
        "DE",
        "Western Balkans Regulation (employment of nationals of the Western Balkans)",
        "bilateral_agreement",
        [],
    ),
    (
        "DE",
        "Skilled-worker visa for recognised qualifications",
        "skilled_worker_visa",
        ["2", "3", "7"],
    ),
    ("DE", "Triple Win: nurses for Germany", "bilateral_agreement", ["22", "32"]),
    ("AT", "Red-White-Red Card for shortage occupations", "skilled_worker_visa", ["7", "8"]),
    ("HR", "Seasonal work in tourism", "seasonal_scheme", ["5", "9"]),
    ("SI", "Employment agreement with Slovenia", "bilateral_agreement", ["7", "9"]),
    ("IT", "Seasonal agricultural work (decreto flussi)", "seasonal_scheme", ["6", "92"]),
    ("CA", "Study permit for colleges and universities", "study", []),
]
OPTIONS = [  # (kind, title, occupation)
    ("vacancy", "Care worker, elderly home", "53"),
    ("vacancy", "Welder", "72"),
    ("vacancy", "Truck driver", "83"),
    ("vacancy", "Software developer", "25"),
    ("vacancy", "Cook", "51"),
    ("training", "Welding course (EU certificate)", "72"),
    ("training", "German language course A2–B1", None),
    ("training", "Nursing assistant training", "32"),
    ("almp", "Self-employment subsidy programme", None),
    ("almp", "Public works programme", "93"),
]
PATHS = {
    "draft": ["create"],
    "submitted": ["create", "submit"],
    "returned": ["create", "submit", "return"],
    "approved": ["create", "submit", "approve"],
    "rejected": ["create", "submit", "reject"],
    "sent": ["create", "submit", "approve", "send"],
    "accepted": ["create", "submit", "approve", "send", "accept"],
    "declined": ["create", "submit", "approve", "send", "decline"],
    "completed": ["create", "submit", "approve", "send", "accept", "complete"],
    "cancelled": ["create", "cancel"],
}
STATE_AFTER = {
    "create": "draft",
    "submit": "submitted",
    "return": "returned",
    "approve": "approved",
    "reject": "rejected",
    "send": "sent",
    "accept": "accepted",
    "decline": "declined",
    "complete": "completed",
    "cancel": "cancelled",
}
SUPERVISOR_ACTIONS = {"approve", "return", "reject"}


def generate_directory(rng: random.Random) -> dict:
    centres = db.session.scalars(sa.select(Centre).options(sa.orm.joinedload(Centre.region))).all()
    partners = []
    for country in sorted({c.country_code for c in centres}):
        city = next(c.region.name for c in centres if c.country_code == country)
        for kind, pattern, services in PARTNERS:
            partners.append(
                Partner(
                    name=pattern.format(city=city),
                    kind=kind,
                    country_code=country,
                    services=services,
                    countries_served=[country],
                    regions_served=[],
                    phone=f"+000 {rng.randint(1000000, 9999999)}",
                    email=None,
                )
            )
    db.session.add_all(partners)
    db.session.flush()
    recruiters = [p for p in partners if p.kind == "recruitment_agency"]
    today = datetime.now(UTC).date()
    channels = [
        Channel(
            destination=d,
            name=n,
            kind=k,
            occupations=o,
            partner_id=rng.choice(recruiters).id,
            requirements="Valid passport; a job offer or recognised qualification; German A2–B1.",
            how_to_apply="Through the employment office; the MSC counsellor helps with the papers.",
            valid_from=today - timedelta(days=700),
            valid_to=today + timedelta(days=700),
        )
        for d, n, k, o in CHANNELS
    ]
    db.session.add_all(channels)
    options = []
    for centre in centres:
        regions = db.session.scalars(
            sa.select(Region.id).where(Region.country_code == centre.country_code)
        ).all()
        for n, (kind, title, occupation) in enumerate(OPTIONS):
            options.append(
                LocalOption(
                    country_code=centre.country_code,
                    external_id=f"{centre.code}-{n:03d}",
                    kind=kind,
                    title=title,
                    provider=centre.host_office,
                    occupation=occupation,
                    region_id=centre.region_id if n % 3 else None,
                    closing_on=today + timedelta(days=rng.randint(-10, 90)),
                )
            )
        assert regions
    db.session.add_all(options)
    db.session.flush()
    return {"partners": partners, "channels": channels, "options": options}


def generate_referrals(rng: random.Random, share: float = 0.15) -> int:
    directory = generate_directory(rng)
    staff = {}
    for user in db.session.scalars(
        sa.select(User).where(User.role.in_([Role.COUNSELLOR, Role.SUPERVISOR]))
    ):
        staff.setdefault((user.centre_id, user.role), user.id)
    migrants = db.session.execute(
        sa.select(Migrant.id, Migrant.centre_id, Migrant.created_at, Migrant.intention)
        .where(Migrant.id.in_(sa.select(Consent.migrant_id).where(Consent.purpose == "referral")))
        .order_by(Migrant.id)
    ).all()
    consents = dict(
        db.session.execute(
            sa.select(Consent.migrant_id, sa.func.max(Consent.id))
            .where(Consent.purpose == "referral")
            .group_by(Consent.migrant_id)
        ).all()
    )
    now = datetime.now(UTC)
    referral_rows, event_rows = [], []
    next_id = (db.session.scalar(sa.select(sa.func.max(Referral.id))) or 0) + 1
    for migrant in migrants:
        if rng.random() > share:
            continue
        counsellor = staff.get((migrant.centre_id, Role.COUNSELLOR))
        supervisor = staff.get((migrant.centre_id, Role.SUPERVISOR))
        if counsellor is None or supervisor is None:
            continue
        state = rng.choice(list(PATHS))
        if migrant.intention == "none" or rng.random() < 0.4:
            category = rng.choice(["local_employment", "training", "self_employment", "protection"])
        else:
            category = "legal_migration"
        target = {}
        if category == "legal_migration":
            target["channel_id"] = rng.choice(directory["channels"]).id
        elif category == "protection":
            target["partner_id"] = next(
                p.id for p in directory["partners"] if p.kind == "anti_trafficking"
            )
        else:
            target["local_option_id"] = rng.choice(directory["options"]).id
        moment = migrant.created_at + timedelta(days=rng.randint(0, 20))
        moment = min(moment, now - timedelta(days=1))
        row = {
            "id": next_id,
            "migrant_id": migrant.id,
            "centre_id": migrant.centre_id,
            "created_by_id": counsellor,
            "category": category,
            "partner_id": None,
            "channel_id": None,
            "local_option_id": None,
            "reason": "Matches the person's occupation and plans.",
            "urgency": "normal",
            "shared_fields": ["birth", "language", "name"],
            "due_on": (moment + timedelta(days=30)).date(),
            "status": state,
            "consent_id": consents.get(migrant.id),
            "outcome": None,
            "needs_review": False,
            "sent_at": None,
            "submitted_at": None,
            "closed_at": None,
            "submission_token": None,
            "created_at": moment,
            "updated_at": moment,
            "version_id": len(PATHS[state]),
        }
        row.update(target)
        before = None
        for step, action in enumerate(PATHS[state]):
            at = moment + timedelta(days=step * rng.randint(1, 5))
            after = STATE_AFTER[action]
            comment = {
                "return": "Please add the person's language level.",
                "reject": "Not eligible for this channel.",
                "decline": "No places left.",
                "cancel": "The person changed plans.",
            }.get(action)
            event_rows.append(
                {
                    "referral_id": next_id,
                    "user_id": supervisor if action in SUPERVISOR_ACTIONS else counsellor,
                    "occurred_at": at,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "comment": comment,
                }
            )
            before = after
            if action == "submit":
                row["submitted_at"] = at
            if action == "send":
                row["sent_at"] = at
            if action == "complete":
                row["outcome"] = rng.choice(
                    [
                        "placed_home",
                        "started_training",
                        "migrated_legally",
                        "service_received",
                        "not_taken_up",
                        "lost_contact",
                    ]
                )
            if after in {"rejected", "declined", "completed", "cancelled"}:
                row["closed_at"] = at
            row["updated_at"] = at
        referral_rows.append(row)
        next_id += 1
    for start in range(0, len(referral_rows), 5000):
        db.session.execute(Referral.__table__.insert(), referral_rows[start : start + 5000])
    for start in range(0, len(event_rows), 5000):
        db.session.execute(ReferralEvent.__table__.insert(), event_rows[start : start + 5000])
    reset_sequences(Referral, ReferralEvent)
    return len(referral_rows)
