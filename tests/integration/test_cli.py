import sqlalchemy as sa

from msc.auth.models import User
from msc.centres.models import Centre, Region
from msc.core.db import db
from msc.core.roles import Role
from msc.demo.data import CENTRES


def test_demo_data_makes_the_six_countries_with_centres_and_every_role(runner):
    result = runner.invoke(args=["msc", "demo-data", "--profiles", "60"])
    assert result.exit_code == 0, result.output
    countries = set(db.session.scalars(sa.select(Centre.country_code)))
    assert countries == {"AL", "BA", "XK", "ME", "MK", "RS"}
    for country in countries:
        assert (
            db.session.scalar(
                sa.select(sa.func.count(Centre.id)).where(Centre.country_code == country)
            )
            >= 2
        )
    roles = set(db.session.scalars(sa.select(User.role)))
    assert roles == set(Role)
    assert db.session.scalar(sa.select(sa.func.count(Region.id))) >= 12
    # Every counsellor and supervisor belongs to a centre.
    assert (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(
                User.centre_id.is_(None), User.role.in_([Role.COUNSELLOR, Role.SUPERVISOR])
            )
        )
        == 0
    )


def test_demo_data_is_deterministic_and_refuses_a_full_database(runner):
    runner.invoke(args=["msc", "demo-data", "--profiles", "60"])
    first = [
        (u.username, u.full_name, u.role, u.centre_id)
        for u in db.session.scalars(sa.select(User).order_by(User.username))
    ]
    again = runner.invoke(args=["msc", "demo-data", "--profiles", "60"])
    assert again.exit_code != 0 and "not empty" in again.output
    skipped = runner.invoke(args=["msc", "demo-data", "--if-empty"])
    assert skipped.exit_code == 0 and "not loaded" in skipped.output
    assert len(first) == 2 * len(CENTRES) + 2


def test_demo_logins_work(app, runner, client):
    runner.invoke(args=["msc", "demo-data", "--profiles", "60"])
    output = runner.invoke(args=["msc", "demo-logins"]).output
    password = app.config["DEMO_PASSWORD"]
    assert password in output
    for username in ("admin", "researcher", "counsellor.bg1", "supervisor.bg1"):
        assert username in output
        response = client.post_form("/login", {"username": username, "password": password})
        assert response.status_code == 302, username
        client.post_form("/logout")


def test_create_user_command(runner, make_centre):
    centre = make_centre("RS", code="BG9")
    result = runner.invoke(
        args=[
            "msc",
            "create-user",
            "--username",
            "milica",
            "--full-name",
            "Milica V.",
            "--role",
            "counsellor",
            "--centre",
            "rs-bg9",
        ],
        input="a long and private passphrase\na long and private passphrase\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "milica"))
    assert user.centre_id == centre.id and user.must_change_password


def test_create_user_command_refuses_bad_input(runner):
    weak = runner.invoke(
        args=["msc", "create-user", "--username", "x1", "--full-name", "X", "--role", "admin"],
        input="short\nshort\n",
    )
    assert weak.exit_code != 0 and "at least 12" in weak.output
    no_centre = runner.invoke(
        args=[
            "msc",
            "create-user",
            "--username",
            "x2",
            "--full-name",
            "X",
            "--role",
            "supervisor",
            "--password",
            "a long and private passphrase",
        ],
    )
    assert no_centre.exit_code != 0 and "needs --centre" in no_centre.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_demo_data_makes_realistic_cases_deterministically(runner, make_migrant):
    from msc.migrants.models import Consent, Migrant, MigrantCode
    from msc.visits.models import GroupSession, Visit, WalkIn

    result = runner.invoke(args=["msc", "demo-data", "--profiles", "450"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(sa.func.count(Migrant.id))) == 450
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) > 450
    assert db.session.scalar(sa.select(sa.func.count(WalkIn.id))) > 50
    assert db.session.scalar(sa.select(sa.func.count(GroupSession.id))) >= 2
    # Every profile has a basis for service provision, and names are in the countries' scripts.
    without_service = sa.select(Migrant.id).where(
        ~sa.exists().where(Consent.migrant_id == Migrant.id, Consent.purpose == "service")
    )
    assert db.session.scalars(without_service).all() == []
    names = set(db.session.scalars(sa.select(Migrant.family_name)))
    assert any("\u0400" <= ch <= "\u04ff" for name in names for ch in name)  # Cyrillic
    assert any("ë" in name or "ç" in name.lower() or "q" in name for name in names)  # Albanian
    numbers = list(db.session.scalars(sa.select(Migrant.case_number)))
    assert len(numbers) == len(set(numbers))
    destinations = set(
        db.session.scalars(sa.select(MigrantCode.code).where(MigrantCode.kind == "destination"))
    )
    assert "DE" in destinations
    first = [
        (m.case_number, m.name_key, m.birth_year)
        for m in db.session.scalars(sa.select(Migrant).order_by(Migrant.id))
    ]
    from tests.fixtures.app import _empty_tables

    db.session.remove()
    _empty_tables()
    runner.invoke(args=["msc", "demo-data", "--profiles", "450"])
    again = [
        (m.case_number, m.name_key, m.birth_year)
        for m in db.session.scalars(sa.select(Migrant).order_by(Migrant.id))
    ]
    assert [row[1:] for row in again] == [row[1:] for row in first]
    # Bulk inserts with explicit ids moved the sequences on: an ordinary insert gets the next id.
    highest = db.session.scalar(sa.select(sa.func.max(Migrant.id)))
    assert make_migrant().id == highest + 1
