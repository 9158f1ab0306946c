from datetime import timedelta

import sqlalchemy as sa
from freezegun import freeze_time

from msc import create_app
from msc.auth.models import User
from msc.core.audit import AuditEvent
from msc.core.db import db, utcnow
from msc.core.roles import Role
from tests.fixtures.factories import log_in

GENERIC_ERROR = "The username or password is wrong, or the account is locked for a while."


def actions():
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_login_page_renders_with_csrf_field(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert 'autocomplete="current-password"' in html


def test_each_role_lands_on_its_home_page(client, make_user):
    homes = {
        Role.COUNSELLOR: "/counsellor",
        Role.SUPERVISOR: "/supervisor",
        Role.RESEARCHER: "/research",
        Role.ADMIN: "/admin/",
    }
    for role, home in homes.items():
        user = make_user(role)
        response = log_in(client, user.username, follow_redirects=True)
        assert response.request.path == home, role
        assert user.full_name in response.get_data(as_text=True)
        client.post_form("/logout")


def test_login_success_is_audited_and_records_last_login(client, make_user):
    user = make_user(Role.COUNSELLOR)
    log_in(client, user.username)
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None
    assert "auth.login" in actions()


def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_user):
    user = make_user(Role.COUNSELLOR)
    wrong = log_in(client, user.username, "not the right password")
    unknown = log_in(client, "nobody-by-this-name", "not the right password")
    assert wrong.status_code == unknown.status_code == 200
    wrong_html, unknown_html = wrong.get_data(as_text=True), unknown.get_data(as_text=True)
    assert GENERIC_ERROR in wrong_html and GENERIC_ERROR in unknown_html
    assert "nobody-by-this-name" in unknown_html  # the typed username is kept in the form
    assert actions().count("auth.login_failed") == 2


def test_username_is_case_insensitive(client, make_user):
    user = make_user(Role.COUNSELLOR, username="jelena.p")
    assert log_in(client, "Jelena.P").status_code == 302
    assert user.id


def test_five_failures_within_15_minutes_lock_the_account_for_15_minutes(client, make_user):
    user = make_user(Role.COUNSELLOR)
    start = utcnow()
    with freeze_time(start) as clock:
        for _ in range(5):
            log_in(client, user.username, "wrong password, again")
            clock.tick(timedelta(minutes=2))
        # Locked: even the right password is refused, with the same message.
        response = log_in(client, user.username)
        assert response.status_code == 200
        assert GENERIC_ERROR in response.get_data(as_text=True)
        assert "auth.account_locked" in actions()
        assert "auth.login_refused_locked" in actions()
        clock.tick(timedelta(minutes=16))
        assert log_in(client, user.username).status_code == 302


def test_failures_spread_over_more_than_15_minutes_do_not_lock(client, make_user):
    user = make_user(Role.COUNSELLOR)
    with freeze_time(utcnow()) as clock:
        for _ in range(4):
            log_in(client, user.username, "wrong password, again")
            clock.tick(timedelta(minutes=4))
        clock.tick(timedelta(minutes=4))  # the first failure is now outside the window
        log_in(client, user.username, "wrong password, again")
        assert log_in(client, user.username).status_code == 302


def test_lockout_is_kept_in_the_database_so_it_holds_for_every_worker(app, client, make_user):
    user = make_user(Role.COUNSELLOR)
    for _ in range(5):
        log_in(client, user.username, "wrong password, again")
    other_worker = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    )
    other_worker.test_client_class = type(client)
    with other_worker.app_context():
        response = log_in(other_worker.test_client(), user.username)
        assert response.status_code == 200
        assert GENERIC_ERROR in response.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()


def test_deactivated_user_cannot_log_in(client, make_user):
    user = make_user(Role.COUNSELLOR)
    user.active = False
    db.session.commit()
    response = log_in(client, user.username)
    assert GENERIC_ERROR in response.get_data(as_text=True)


def test_next_parameter_only_redirects_inside_the_site(client, make_user):
    user = make_user(Role.ADMIN)
    response = client.post_form(
        "/login?next=https://evil.example/",
        {"username": user.username, "password": "a long and private passphrase"},
    )
    assert response.headers["Location"] == "/"
    client.post_form("/logout")
    response = client.post_form(
        "/login?next=/admin/users",
        {"username": user.username, "password": "a long and private passphrase"},
    )
    assert response.headers["Location"] == "/admin/users"


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
