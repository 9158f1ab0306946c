"""Loads demo data through the operations the pages use, so it is audited like real work."""

from __future__ import annotations

import random

import sqlalchemy as sa
from flask import current_app

from msc.auth import operations as accounts
from msc.auth.models import User
from msc.centres import operations as centres
from msc.core.db import db
from msc.core.roles import Role
from msc.demo.cases import SEED, generate_cases
from msc.demo.data import ADMIN, CENTRES, REGIONS, RESEARCHERS, STAFF
from msc.demo.referrals import generate_referrals


def database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def load_demo_data(profiles: int = 0, progress=lambda _message: None) -> dict:
    """Regions, centres, users of every role and `profiles` synthetic cases; returns counts."""
    password = current_app.config["DEMO_PASSWORD"]
    regions = {}
    for country, code, name in REGIONS:
        regions[code] = centres.save_region(None, country_code=country, code=code, name=name)
    made_users = 0
    for country, code, name, region_code, host, tz in CENTRES:
        centre = centres.save_centre(
            None,
            code=code,
            name=name,
            country_code=country,
            region_id=regions[region_code].id,
            host_office=host,
            timezone=tz,
            active=True,
        )
        for role, (full_name, locale) in zip(
            (Role.COUNSELLOR, Role.SUPERVISOR), STAFF[code], strict=True
        ):
            _demo_user(f"{role.value}.{code.lower()}", full_name, role, locale, password, centre.id)
            made_users += 1
    username, full_name, locale = ADMIN
    _demo_user(username, full_name, Role.ADMIN, locale, password, None)
    for username, full_name, locale in RESEARCHERS:
        _demo_user(username, full_name, Role.RESEARCHER, locale, password, None)
    made_users += 1 + len(RESEARCHERS)
    db.session.flush()
    made = {"regions": len(regions), "centres": len(CENTRES), "users": made_users}
    made.update(generate_cases(profiles, progress))
    made["referrals"] = generate_referrals(random.Random(SEED))
    return made


def _demo_user(username, full_name, role, locale, password, centre_id):
    return accounts.create_user(
        username=username,
        full_name=full_name,
        email=f"{username}@msc.example",
        role=role,
        centre_id=centre_id,
        locale=locale,
        password=password,
        must_change_password=False,
    )


def demo_logins() -> list[tuple[str, str]]:
    """A few logins to print: one of every role (all share the demo password)."""
    return [
        ("admin", "Administrator"),
        ("researcher", "Researcher"),
        ("counsellor.bg1", "Counsellor, MSC Belgrade"),
        ("supervisor.bg1", "Supervisor, MSC Belgrade"),
        ("counsellor.tir", "Counsellor, MSC Tirana"),
        ("supervisor.tir", "Supervisor, MSC Tirana"),
    ]
