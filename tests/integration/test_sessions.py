"""Session cookies, timeouts and revocation (OWASP ASVS 3.2-3.4)."""

from datetime import timedelta

from freezegun import freeze_time

from msc import create_app
from msc.auth.models import User
from msc.core.crypto import new_key_spec
from msc.core.db import db, utcnow
from msc.core.roles import Role
from tests.fixtures.factories import PASSWORD, log_in


def session_cookie_header(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("msc_session="))


def copy_session_cookie(source, target):
    cookie = source.get_cookie("msc_session")
    target.set_cookie("msc_session", cookie.value)


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    user = make_user(Role.COUNSELLOR)
    header = session_cookie_header(log_in(client, user.username))
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header


def test_session_cookie_is_secure_in_production(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MSC_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("MSC_DATA_KEYS", new_key_spec("k1"))
    production = create_app("production", {"SQLALCHEMY_DATABASE_URI": database_url})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    response = production.test_client().get("/login", base_url="https://msc.example")
    assert "Secure" in session_cookie_header(response)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_idle_timeout_of_30_minutes(client, make_user):
    user = make_user(Role.COUNSELLOR)
    with freeze_time(utcnow()) as clock:
        log_in(client, user.username)
        clock.tick(timedelta(minutes=29))
        assert client.get("/counsellor").status_code == 200
        clock.tick(timedelta(minutes=29))  # active 29 minutes ago: still in
        assert client.get("/counsellor").status_code == 200
        clock.tick(timedelta(minutes=31))
        response = client.get("/counsellor")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_absolute_timeout_of_12_hours_even_when_active(client, make_user):
    user = make_user(Role.COUNSELLOR)
    with freeze_time(utcnow()) as clock:
        log_in(client, user.username)
        for _ in range(11 * 3):  # a request every 20 minutes for 11 hours
            clock.tick(timedelta(minutes=20))
            assert client.get("/counsellor").status_code == 200
        clock.tick(timedelta(hours=1, minutes=1))
        assert client.get("/counsellor").status_code == 302


def test_logout_invalidates_a_copied_cookie(app, client, make_user):
    user = make_user(Role.COUNSELLOR)
    log_in(client, user.username)
    thief = app.test_client()
    copy_session_cookie(client, thief)
    assert thief.get("/counsellor").status_code == 200  # the copy works while the session lives
    client.post_form("/logout")
    assert client.get("/counsellor").status_code == 302
    assert thief.get("/counsellor").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client, make_user):
    user = make_user(Role.COUNSELLOR)
    log_in(client, user.username)
    other_device = app.test_client()
    log_in(other_device, user.username)
    response = client.post_form(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another private passphrase",
            "confirm_password": "another private passphrase",
        },
    )
    assert response.status_code == 302
    assert client.get("/counsellor").status_code == 200
    assert other_device.get("/counsellor").status_code == 302
    client.post_form("/logout")
    assert log_in(client, user.username, "another private passphrase").status_code == 302


def test_deactivation_ends_the_users_sessions(app, client, make_user):
    user = make_user(Role.COUNSELLOR)
    log_in(client, user.username)
    admin_client = app.test_client()
    admin = make_user(Role.ADMIN)
    log_in(admin_client, admin.username)
    response = admin_client.post_form(f"/admin/users/{user.id}/active", {"active": "0"})
    assert response.status_code == 302
    assert client.get("/counsellor").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False


def test_login_starts_a_new_session_id(client, make_user):
    """No session fixation: what an attacker planted before login is gone after it."""
    user = make_user(Role.COUNSELLOR)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    log_in(client, user.username)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_forced_password_change_blocks_other_pages(client, make_user):
    user = make_user(Role.COUNSELLOR, must_change_password=True)
    response = log_in(client, user.username, follow_redirects=True)
    assert response.request.path == "/account/password"
    assert client.get("/counsellor").headers["Location"] == "/account/password"


def test_change_password_refuses_wrong_current_and_weak_new(client, make_user):
    user = make_user(Role.COUNSELLOR)
    log_in(client, user.username)
    wrong = client.post_form(
        "/account/password",
        {
            "current_password": "not it at all",
            "new_password": "another private passphrase",
            "confirm_password": "another private passphrase",
        },
    )
    assert "The current password is wrong." in wrong.get_data(as_text=True)
    weak = client.post_form(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert "Use at least 12 characters." in weak.get_data(as_text=True)
    client.post_form("/logout")
    assert log_in(client, user.username, PASSWORD).status_code == 302  # nothing was changed
