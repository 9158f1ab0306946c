"""MSC: case management for Migrant Service Centres."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask

from config import settings
from msc.core import crypto

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(env: str | None = None, test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("MSC_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    configure_settings(app, env, test_config)
    configure_logging(app)
    configure_observability(app)  # before the access check: every request gets an id
    configure_database(app)
    configure_auth(app)
    configure_i18n(app)
    configure_security(app)
    configure_limits(app)
    configure_templates(app)
    configure_blueprints(app)
    configure_errors(app)
    configure_cli(app)
    return app


def configure_settings(app: Flask, env: str | None, test_config: dict | None) -> None:
    values = settings.load(env)
    values.update(test_config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not values["SQLALCHEMY_DATABASE_URI"]:
        values["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'msc.sqlite3'}"
    if not values["SECRET_KEY"] and values["ENV_NAME"] == "development":
        values["SECRET_KEY"] = _development_secret_key(Path(app.instance_path))
    settings.check_production(values)
    app.config.from_mapping(values)
    # Parsed once at start, so a malformed key stops the app instead of the first save.
    app.extensions["msc_data_keys"] = crypto.configured_keys(app.config)


def _development_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, so development sessions survive restarts."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def configure_observability(app: Flask) -> None:
    from msc.core.observability import configure_observability as configure

    configure(app)


def configure_database(app: Flask) -> None:
    from flask_migrate import Migrate

    from msc.core.db import db, render_migration_item
    from msc.migrants.queries import include_name

    db.init_app(app)
    Migrate(
        app,
        db,
        directory=str(PROJECT_ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_name=include_name,  # the hand-made name search index is not a model
    )
    import msc.models  # noqa: F401  every model, so that Alembic and relationships see them


def configure_auth(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    from msc.auth.sessions import login_manager

    login_manager.init_app(app)
    CSRFProtect(app)


def configure_i18n(app: Flask) -> None:
    from msc.core.i18n import babel, select_locale
    from msc.core.timezones import user_timezone_name

    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=user_timezone_name,
        default_translation_directories=str(PROJECT_ROOT / "translations"),
    )


def configure_security(app: Flask) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from msc.core.access import enforce_access
    from msc.core.security import refuse_nul_bytes, set_security_headers

    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"], x_proto=1)
    app.before_request(refuse_nul_bytes)
    app.before_request(enforce_access)
    app.after_request(set_security_headers)


def configure_limits(app: Flask) -> None:
    from msc.core.limits import configure_limits as configure

    configure(app)


def configure_templates(app: Flask) -> None:
    from msc.core.templating import register_template_helpers

    register_template_helpers(app)


def configure_blueprints(app: Flask) -> None:
    from msc.admin.views import bp as admin_bp
    from msc.auth.views import bp as auth_bp
    from msc.centres.views import bp as centres_bp
    from msc.core.views import bp as core_bp
    from msc.home.views import bp as home_bp
    from msc.migrants.views import bp as migrants_bp
    from msc.protection.views import bp as protection_bp
    from msc.referrals import register_hooks
    from msc.referrals.directory_views import bp as directory_bp
    from msc.referrals.views import bp as referrals_bp
    from msc.research.views import bp as research_bp
    from msc.visits.views import bp as visits_bp

    blueprints = (
        core_bp,
        auth_bp,
        home_bp,
        admin_bp,
        centres_bp,
        migrants_bp,
        visits_bp,
        referrals_bp,
        directory_bp,
        research_bp,
        protection_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    register_hooks()


def configure_errors(app: Flask) -> None:
    from msc.core.errors import register_error_handlers

    register_error_handlers(app)


def configure_cli(app: Flask) -> None:
    from msc.cli import msc_cli
    from msc.research.cli import research_cli

    msc_cli.add_command(research_cli)
    from msc.protection.cli import COMMANDS as protection_commands

    for command in protection_commands:
        msc_cli.add_command(command)
    app.cli.add_command(msc_cli)
