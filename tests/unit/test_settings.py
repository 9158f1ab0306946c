import pytest

from config import settings
from msc import create_app
from msc.core.crypto import new_key_spec


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch):
    monkeypatch.delenv("MSC_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="MSC_SECRET_KEY"):
        create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    monkeypatch.setenv("MSC_SECRET_KEY", "too-short")
    with pytest.raises(RuntimeError, match="MSC_SECRET_KEY"):
        create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_debug(monkeypatch):
    monkeypatch.setenv("MSC_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("MSC_DEBUG", "true")
    with pytest.raises(RuntimeError, match="MSC_DEBUG"):
        create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_to_start_without_data_keys(monkeypatch):
    monkeypatch.setenv("MSC_SECRET_KEY", "k" * 40)
    monkeypatch.delenv("MSC_DATA_KEYS", raising=False)
    with pytest.raises(RuntimeError, match="MSC_DATA_KEYS"):
        create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    monkeypatch.setenv("MSC_DATA_KEYS", "k1:c2hvcnQ=")  # 5 bytes, not an AES-256 key
    with pytest.raises(RuntimeError, match="32 bytes"):
        create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_starts_with_a_real_key(monkeypatch):
    monkeypatch.setenv("MSC_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("MSC_DATA_KEYS", new_key_spec("k1"))
    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["HSTS"] and not app.debug


def test_msc_environment_overrides_with_types():
    values = settings.load(
        "development",
        {
            "MSC_DATABASE_URL": "postgresql+psycopg://db/msc",
            "MSC_SESSION_IDLE_MINUTES": "20",
            "MSC_HSTS": "yes",
            "MSC_LANGUAGES": "en, sq",
        },
    )
    assert values["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/msc"
    assert values["SESSION_IDLE_MINUTES"] == 20
    assert values["HSTS"] is True
    assert values["LANGUAGES"] == ["en", "sq"]
    with pytest.raises(RuntimeError, match="whole number"):
        settings.load("development", {"MSC_SESSION_IDLE_MINUTES": "soon"})
    with pytest.raises(RuntimeError, match="MSC_ENV"):
        settings.load("staging", {})
    prepared_by = {"MSC_RESEARCH_PACKAGES_PREPARED_BY": "worker"}
    assert settings.load("production", prepared_by)["RESEARCH_PACKAGES_PREPARED_BY"] == "worker"
    with pytest.raises(RuntimeError, match="one of thread, worker, request, not 'workers'"):
        settings.load("production", {"MSC_RESEARCH_PACKAGES_PREPARED_BY": "workers"})
    with pytest.raises(RuntimeError, match="is now MSC_RESEARCH_PACKAGES_PREPARED_BY"):
        settings.load("production", {"MSC_RESEARCH_PACKAGES_IN_BACKGROUND": "false"})


def test_default_environment_is_production(monkeypatch):
    monkeypatch.delenv("MSC_ENV", raising=False)
    assert settings.settings_class(None) is settings.ProductionSettings


def test_development_keeps_a_generated_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("MSC_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("MSC_SECRET_KEY", raising=False)
    first = create_app("development").config["SECRET_KEY"]
    second = create_app("development").config["SECRET_KEY"]
    assert len(first) >= 32 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert (
        create_app("development")
        .config["SQLALCHEMY_DATABASE_URI"]
        .endswith(str(tmp_path / "msc.sqlite3"))
    )
