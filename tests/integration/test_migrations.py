"""The Alembic revisions build exactly the models' schema, and go down and up again."""

import os

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from msc import create_app
from msc.core.db import db, render_migration_item
from tests.fixtures.app import create_scratch_database


def pending_differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_item": render_migration_item}
        )
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
