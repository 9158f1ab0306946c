"""Encryption at rest, key rotation, retention, erasure, subject access, access log, backups."""

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from flask_login import login_user
from freezegun import freeze_time

from msc import create_app
from msc.core import crypto
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Migrant
from msc.protection import retention
from msc.visits import operations as visits
from msc.visits.models import Visit
from tests.fixtures.app import create_scratch_database

MARKER = "ZQXJ-restricted-marker-7781"


def _visit_with_notes(migrant, counsellor, notes):
    with current_app.test_request_context():
        login_user(counsellor)
        visit = visits.log_visit(
            migrant,
            {
                "occurred_at": dt.datetime.now(dt.UTC),
                "mode": "in_person",
                "duration_minutes": 30,
                "notes": notes,
            },
            ["legal_migration"],
            None,
        )
        db.session.commit()
    return visit


def _planted(make_user, make_migrant):
    counsellor = make_user(Role.COUNSELLOR)
    migrant = make_migrant(
        counsellor,
        notes=MARKER,
        phone="+381 60 1234567",
        email=f"{MARKER.lower()}@example.org",
        protection_indicators=["recruitment_fee"],
    )
    _visit_with_notes(migrant, counsellor, MARKER)
    return counsellor, migrant


def _database_bytes(app, tmp_path) -> bytes:
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        # Read by another process: closing a file this process opened would drop SQLite's
        # POSIX locks on it (sqlite.org/howtocorrupt.html, 2.2), and another process (a
        # research worker) could then take the database for its own and delete the WAL.
        files = [name for name in (url.database, url.database + "-wal") if Path(name).exists()]
        return subprocess.run(["cat", *files], check=True, capture_output=True).stdout  # noqa: S607
    dump = tmp_path / "dump.sql"
    subprocess.run(
        ["pg_dump", "--file", str(dump), url.set(drivername="postgresql").render_as_string(False)],
        check=True,
    )
    return dump.read_bytes()


def test_restricted_fields_are_encrypted_in_the_database_dump_and_backup(
    app, runner, make_user, make_migrant, tmp_path
):
    _counsellor, migrant = _planted(make_user, make_migrant)
    stored = db.session.get(Migrant, migrant.id)
    assert stored.notes == MARKER and stored.protection_indicators == ["recruitment_fee"]
    raw = db.session.execute(
        sa.select(
            sa.type_coerce(Migrant.notes, sa.Text), sa.type_coerce(Migrant.phone, sa.Text)
        ).where(Migrant.id == migrant.id)
    ).one()
    assert all(value.startswith("v1:") for value in raw)
    assert "1234567" not in (stored.phone_index or "")
    for needle in (MARKER.encode(), MARKER.lower().encode(), b"1234567", b"recruitment_fee"):
        assert needle not in _database_bytes(app, tmp_path), needle
    backup_file = tmp_path / "backup.bin"
    result = runner.invoke(args=["msc", "backup", "--out", str(backup_file)])
    assert result.exit_code == 0, result.output
    assert MARKER.encode() not in backup_file.read_bytes()
    assert b"1234567" not in backup_file.read_bytes()


def test_a_value_copied_to_another_column_or_read_with_a_wrong_key_does_not_decrypt(app):
    sealed = crypto.encrypt(MARKER, "migrant.notes")
    assert crypto.decrypt(sealed, "migrant.notes") == MARKER
    with pytest.raises(Exception):  # noqa: B017  cryptography's InvalidTag
        crypto.decrypt(sealed, "visit.notes")
    _prefix, key_id, body = sealed.split(":", 2)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(f"v1:unknown:{body}", "migrant.notes")


@pytest.fixture
def restore_keys(app, data_app):
    saved = [(a, a.config["DATA_KEYS"], a.extensions["msc_data_keys"]) for a in (app, data_app)]
    yield
    for each, spec, keys in saved:
        each.config["DATA_KEYS"], each.extensions["msc_data_keys"] = spec, keys


def _use_keys(spec, *apps):
    for each in apps:
        each.config["DATA_KEYS"] = spec
        each.extensions["msc_data_keys"] = crypto.parse_keys(spec)


def test_key_rotation_re_encrypts_everything_and_the_old_key_can_go(
    app, data_app, runner, make_user, make_migrant, client, login_as, restore_keys
):
    old = crypto.new_key_spec("old1")
    _use_keys(old, app, data_app)
    _counsellor, migrant = _planted(make_user, make_migrant)
    new = crypto.new_key_spec("new2")
    _use_keys(f"{new},{old}", app, data_app)
    result = runner.invoke(args=["msc", "keys", "rotate"])
    assert result.exit_code == 0, result.output
    raw = db.session.scalars(sa.select(sa.type_coerce(Visit.notes, sa.Text))).all()
    assert raw and all(value.startswith("v1:new2:") for value in raw)
    _use_keys(new, app, data_app)  # the old key is gone
    db.session.expire_all()
    assert db.session.get(Migrant, migrant.id).notes == MARKER
    # The phone blind index was recomputed with the new key: the search still finds the number.
    from msc.centres.models import Centre

    login_as(Role.COUNSELLOR, centre=db.session.get(Centre, migrant.centre_id))
    page = client.get("/cases/?phone=060+1234567").get_data(as_text=True)
    assert migrant.case_number in page
    assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "keys.rotated"))


def test_retention_anonymises_inactive_profiles_except_legal_holds_and_is_idempotent(
    runner, make_user, make_migrant
):
    counsellor = make_user(Role.COUNSELLOR)
    with freeze_time("2019-03-01"):
        old = make_migrant(
            counsellor, notes=MARKER, phone="+381 60 7654321", birth_date=dt.date(1990, 4, 2)
        )
        held = make_migrant(counsellor, given_name="Held")
        active = make_migrant(counsellor, given_name="Active")
    db.session.get(Migrant, held.id).legal_hold = True
    db.session.commit()
    _visit_with_notes(db.session.get(Migrant, active.id), counsellor, "recent")
    result = runner.invoke(args=["msc", "retention", "run"])
    assert result.exit_code == 0, result.output
    assert "1 profiles anonymised" in result.output
    db.session.expire_all()
    gone = db.session.get(Migrant, old.id)
    assert gone.anonymised_at is not None
    assert (gone.given_name, gone.family_name, gone.notes, gone.phone, gone.birth_date) == (
        "",
        "",
        None,
        None,
        None,
    )
    assert gone.case_number == f"ANON-{gone.id}"
    assert (gone.birth_year, gone.sex, gone.category) == (1990, "F", "intending_emigrant")
    assert db.session.get(Migrant, held.id).given_name == "Held"
    assert db.session.get(Migrant, active.id).anonymised_at is None
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "migrant.anonymised", AuditEvent.object_id == str(old.id)
            )
        )
        == 1
    )
    again = runner.invoke(args=["msc", "retention", "run"])
    assert "0 profiles anonymised" in again.output
    assert f" {old.id} " in retention.journal_path().read_text()


def _supervisor_of(migrant, make_user, client):
    from tests.fixtures.factories import log_in

    centre = db.session.get(Migrant, migrant.id).centre_id
    from msc.centres.models import Centre

    supervisor = make_user(Role.SUPERVISOR, centre=db.session.get(Centre, centre))
    assert log_in(client, supervisor.username).status_code == 302
    return supervisor


def _audit_count(migrant_id, action):
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == action, AuditEvent.object_id == str(migrant_id)
        )
    )


def test_subject_access_page_and_json_hold_everything_and_each_read_is_one_audit_row(
    client, make_user, make_migrant
):
    counsellor, migrant = _planted(make_user, make_migrant)
    _supervisor_of(migrant, make_user, client)
    page = client.get(f"/cases/{migrant.id}/subject-access")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert MARKER in html and migrant.case_number in html and "legal_migration" in html
    assert _audit_count(migrant.id, "migrant.subject_access_viewed") == 1
    download = client.get(f"/cases/{migrant.id}/subject-access.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    record = json.loads(download.get_data(as_text=True))
    assert record["profile"]["notes"] == MARKER
    assert record["visits"][0]["notes"] == MARKER
    assert any(row["action"] == "migrant.subject_access_viewed" for row in record["access_log"])
    assert _audit_count(migrant.id, "migrant.subject_access_exported") == 1
    for url, action in (
        (f"/cases/{migrant.id}", "migrant.viewed"),
        (f"/cases/{migrant.id}/information-sheet", "migrant.information_sheet_printed"),
        (f"/cases/{migrant.id}/access-log", "migrant.access_log_viewed"),
    ):
        before = _audit_count(migrant.id, action)
        assert client.get(url).status_code == 200, url
        assert _audit_count(migrant.id, action) == before + 1, url
    log = client.get(f"/cases/{migrant.id}/access-log").get_data(as_text=True)
    assert "migrant.subject_access_exported" in log and "migrant.viewed" in log


def test_erasure_on_request_respects_the_legal_hold(client, make_user, make_migrant):
    _counsellor, migrant = _planted(make_user, make_migrant)
    _supervisor_of(migrant, make_user, client)
    url = f"/cases/{migrant.id}"
    assert (
        client.post_form(
            f"{url}/legal-hold", {"hold": "on"}, page=f"{url}/subject-access"
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Migrant, migrant.id).legal_hold
    refused = client.post_form(
        f"{url}/erase",
        {"case_number": migrant.case_number, "confirm": "y"},
        page=f"{url}/subject-access",
    )
    assert refused.status_code == 200 and "legal hold" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Migrant, migrant.id).anonymised_at is None
    client.post_form(f"{url}/legal-hold", {"hold": "off"}, page=f"{url}/subject-access")
    wrong = client.post_form(f"{url}/erase", {"case_number": "RS-X-1", "confirm": "y"})
    assert "not the case number" in wrong.get_data(as_text=True)
    done = client.post_form(f"{url}/erase", {"case_number": migrant.case_number, "confirm": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    erased = db.session.get(Migrant, migrant.id)
    assert erased.anonymised_at and erased.notes is None and erased.given_name == ""
    assert db.session.scalars(
        sa.select(Visit.notes).where(Visit.migrant_id == migrant.id)
    ).all() == [None]
    assert _audit_count(migrant.id, "migrant.anonymised") == 1
    assert _audit_count(migrant.id, "migrant.legal_hold_set") == 1
    # An anonymised profile can be read as statistics but no longer changed or found.
    assert "was anonymised" in client.get(url).get_data(as_text=True)
    for path in ("/edit", "/visits/new", "/merge"):
        assert client.get(url + path).status_code == 404, path
    assert f'/cases/{migrant.id}"' not in client.get("/cases/").get_data(as_text=True)


def test_record_of_processing_lists_every_table_for_admins(client, login_as):
    login_as(Role.ADMIN)
    page = client.get("/admin/record-of-processing")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for table in ("migrant", "visit", "audit_event", "recovery_code"):
        assert f"<code>{table}</code>" in html
    assert "protection_indicators" in html


def test_restore_into_a_scratch_database_re_applies_later_erasures(
    app, runner, make_user, make_migrant, tmp_path, tmp_path_factory
):
    counsellor = make_user(Role.COUNSELLOR)
    kept = make_migrant(counsellor, given_name="Kept")
    erased_later = make_migrant(counsellor, given_name="Erased", notes=MARKER)
    backup_file = tmp_path / "msc.backup"
    assert runner.invoke(args=["msc", "backup", "--out", str(backup_file)]).exit_code == 0
    with current_app.test_request_context():
        retention.anonymise(db.session.get(Migrant, erased_later.id), reason="request")
        db.session.commit()
    counts = {
        t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
    }

    import os

    url, drop = create_scratch_database(
        os.environ.get("MSC_TEST_DATABASE_URL"), tmp_path_factory.mktemp("scratch")
    )
    try:
        scratch = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
        scratch.extensions["msc_data_keys"] = app.extensions["msc_data_keys"]
        with scratch.app_context():
            if sa.make_url(url).get_backend_name() == "sqlite":
                Path(sa.make_url(url).database).touch()
            result = scratch.test_cli_runner().invoke(
                args=["msc", "restore", str(backup_file), "--yes"]
            )
            assert result.exit_code == 0, result.output
            assert "1 anonymisations re-applied" in result.output
            restored = db.session.get(Migrant, erased_later.id)
            assert restored.anonymised_at is not None and restored.notes is None
            assert db.session.get(Migrant, kept.id).given_name == "Kept"
            for table, count in counts.items():
                restored_count = db.session.scalar(
                    sa.select(sa.func.count()).select_from(db.metadata.tables[table])
                )
                # the restore adds its own audit rows
                assert (
                    restored_count >= count if table == "audit_event" else restored_count == count
                ), table
            db.session.remove()
            db.engine.dispose()
    finally:
        db.session.remove()
        drop()


def test_a_backup_is_private_and_a_bad_restore_file_gives_a_clear_message(runner, tmp_path):
    out = tmp_path / "b.bin"
    assert runner.invoke(args=["msc", "backup", "--out", str(out)]).exit_code == 0
    assert out.stat().st_mode & 0o077 == 0
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all")
    result = runner.invoke(args=["msc", "restore", str(junk), "--yes"])
    assert result.exit_code != 0
    assert "Error:" in result.output and "Traceback" not in result.output
