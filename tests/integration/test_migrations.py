"""The Alembic revisions build exactly the models' schema, and go down and up again."""

import os

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import current_app

from msc import create_app
from msc.core.db import db, render_migration_item
from tests.fixtures.app import create_scratch_database


def pending_differences(engine) -> list:
    """What autogenerate would write, with the options the app gives Alembic (so objects made
    by hand in a revision and filtered there, like a search index, are filtered here too)."""
    opts = {"compare_type": True, "render_item": render_migration_item}
    opts.update(current_app.extensions["migrate"].configure_args)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    with app.app_context():
        assert pending_differences(db.engine) == []


def test_upgrade_downgrade_upgrade_on_an_empty_database(tmp_path):
    url, drop = create_scratch_database(os.environ.get("MSC_TEST_DATABASE_URL"), tmp_path)
    scratch = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    try:
        with scratch.app_context():
            flask_migrate.upgrade()
            assert pending_differences(db.engine) == []
            countries = db.session.scalar(sa.text("SELECT count(*) FROM country"))
            assert countries >= 249  # every ISO 3166-1 country plus XK
            assert db.session.scalar(sa.text("SELECT code FROM country WHERE code = 'XK'")) == "XK"
            db.session.remove()
            flask_migrate.downgrade(revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            flask_migrate.upgrade()
            assert pending_differences(db.engine) == []
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()


def table_counts(engine) -> dict[str, int]:
    """Rows in every table the database has now (not only those the models know)."""
    names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.connect() as connection:
        return {
            name: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
            for name in names
        }


def sample(engine) -> list:
    """A few values that must survive: case numbers, user names, referral states, consents."""
    statements = [
        "SELECT case_number, centre_id, category FROM migrant ORDER BY case_number",
        'SELECT username, role, centre_id FROM "user" ORDER BY username',
        "SELECT id, status, category FROM referral ORDER BY id",
        "SELECT id, purpose, basis, given_on FROM consent ORDER BY id",
    ]
    with engine.connect() as connection:
        return [connection.execute(sa.text(s)).all() for s in statements]


def test_one_revision_down_and_up_keeps_the_demo_data_then_base_and_up_again(tmp_path):
    """On a database full of demo data: head, one revision down and up again leaves every row
    of every table the lower revision keeps; then down to base (every table goes) and up to a
    schema equal to the models. Works for whatever the head revision is."""
    from msc.demo.generate import load_demo_data

    url, drop = create_scratch_database(os.environ.get("MSC_TEST_DATABASE_URL"), tmp_path)
    scratch = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    try:
        with scratch.app_context():
            flask_migrate.upgrade()
            made = load_demo_data(profiles=50)
            db.session.commit()
            db.session.remove()
            before, values = table_counts(db.engine), sample(db.engine)
            assert before["migrant"] >= 50 and before["referral"] == made["referrals"] > 0
            assert sum(before.values()) > 1000

            flask_migrate.downgrade(revision="-1")
            kept = set(table_counts(db.engine))
            assert kept, "one revision down left no table"
            flask_migrate.upgrade()
            after = table_counts(db.engine)
            assert {t: after[t] for t in kept} == {t: before[t] for t in kept}
            assert set(after) == set(before)
            if {"migrant", "user", "referral", "consent"} <= kept:
                assert sample(db.engine) == values
            assert pending_differences(db.engine) == []

            flask_migrate.downgrade(revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            flask_migrate.upgrade()
            assert pending_differences(db.engine) == []
            assert db.session.scalar(sa.text("SELECT count(*) FROM country")) >= 249
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
