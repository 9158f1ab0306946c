"""Second factor for supervisors and admins, recovery codes, reset; the login rate limit."""

import re
import time
import uuid

import pyotp
import pytest
import sqlalchemy as sa

from msc import create_app
from msc.auth.models import RecoveryCode, User
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from tests.fixtures.app import MSCClient
from tests.fixtures.factories import PASSWORD, log_in


def _code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def _actions(user_id):
    return db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.user_id == user_id).order_by(AuditEvent.id)
    ).all()


def _enrol(client):
    page = client.get("/account/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "<svg" in page  # the QR code, rendered without JavaScript
    wrong = client.post_form("/account/two-factor/setup", {"code": "000000"})
    assert "The code is wrong" in wrong.get_data(as_text=True)
    done = client.post_form("/account/two-factor/setup", {"code": _code(secret)})
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def test_supervisor_must_enrol_then_logs_in_with_a_code_or_a_recovery_code_once(
    client, make_user, totp_required
):
    supervisor = make_user(Role.SUPERVISOR)
    assert log_in(client, supervisor.username).status_code == 302
    # Until enrolled, every other page leads back to the enrolment.
    assert client.get("/supervisor").headers["Location"].endswith("/account/two-factor/setup")
    secret, codes = _enrol(client)
    assert client.get("/supervisor").status_code == 200
    db.session.expire_all()
    stored = db.session.get(User, supervisor.id)
    assert stored.totp_enabled_at is not None
    raw = db.session.scalar(
        sa.select(sa.type_coerce(User.totp_secret, sa.Text)).where(User.id == supervisor.id)
    )
    assert raw.startswith("v1:") and secret not in raw  # encrypted at rest
    assert all(len(h) == 64 for h in db.session.scalars(sa.select(RecoveryCode.code_hash)))

    client.post_form("/logout", page="/supervisor")
    first = log_in(client, supervisor.username)
    assert "/login/two-factor" in first.headers["Location"]
    assert client.get("/supervisor").status_code == 302  # not logged in before the second step
    replay = client.post_form("/login/two-factor", {"code": _code(secret)})
    assert replay.status_code == 200 and "already used" in replay.get_data(as_text=True)
    ok = client.post_form("/login/two-factor", {"code": _code(secret, 1)})
    assert ok.status_code == 302
    assert client.get("/supervisor").status_code == 200

    client.post_form("/logout", page="/supervisor")
    log_in(client, supervisor.username)
    assert client.post_form("/login/two-factor", {"code": codes[0].upper()}).status_code == 302
    client.post_form("/logout", page="/supervisor")
    log_in(client, supervisor.username)
    again = client.post_form("/login/two-factor", {"code": codes[0]})
    assert again.status_code == 200
    actions = _actions(supervisor.id)
    for action in (
        "auth.totp_enrolled",
        "auth.totp_passed",
        "auth.recovery_code_used",
        "auth.totp_failed",
    ):
        assert action in actions, action


def test_wrong_codes_lock_the_account_like_wrong_passwords(client, make_user, totp_required):
    supervisor = make_user(Role.SUPERVISOR)
    log_in(client, supervisor.username)
    secret, _codes = _enrol(client)
    client.post_form("/logout", page="/supervisor")
    log_in(client, supervisor.username)
    for _ in range(5):
        client.post_form("/login/two-factor", {"code": "123456"})
    locked = client.post_form("/login/two-factor", {"code": _code(secret, 1)})
    assert locked.status_code == 200  # even the right code is refused while locked
    db.session.expire_all()
    assert db.session.get(User, supervisor.id).locked_until is not None


def test_admin_resets_a_lost_second_factor_and_ends_the_users_sessions(
    app, client, make_user, totp_required
):
    supervisor = make_user(Role.SUPERVISOR)
    log_in(client, supervisor.username)
    _enrol(client)
    admin_client = app.test_client()
    admin = make_user(Role.ADMIN)
    log_in(admin_client, admin.username)
    _enrol(admin_client)
    response = admin_client.post_form(
        f"/admin/users/{supervisor.id}/reset-two-factor", page=f"/admin/users/{supervisor.id}/edit"
    )
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, supervisor.id)
    assert user.totp_secret is None and user.totp_enabled_at is None
    assert (
        db.session.scalar(
            sa.select(sa.func.count(RecoveryCode.id)).where(RecoveryCode.user_id == supervisor.id)
        )
        == 0
    )
    assert client.get("/supervisor").status_code == 302  # the old session has ended
    assert "auth.totp_reset" in db.session.scalars(sa.select(AuditEvent.action)).all()


def test_the_second_factor_is_optional_for_counsellors(client, login_as, totp_required):
    login_as(Role.COUNSELLOR)
    assert client.get("/counsellor").status_code == 200
    _enrol(client)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_login_attempts_per_ip_are_limited_with_a_429_page(database_url, storage, make_user):
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "3 per minute",
        "RATELIMIT_KEY_PREFIX": f"msc-test-{uuid.uuid4().hex}",
    }
    if storage == "redis":
        config["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    limited = create_app("testing", config)
    limited.test_client_class = MSCClient
    assert limited.config["RATELIMIT_STORAGE_URI"].startswith(storage)
    user = make_user(Role.COUNSELLOR)
    client = limited.test_client()
    statuses = [
        log_in(client, user.username, password="wrong password!").status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    refused = log_in(client, user.username, password=PASSWORD)
    assert refused.status_code == 429
    assert "<html" in refused.get_data(as_text=True)
    other_ip = log_in(client, user.username, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_ip.status_code == 302  # the limit is per client address
