import re

import sqlalchemy as sa

from msc.auth.models import User
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from tests.fixtures.factories import PASSWORD, log_in


def audit_actions():
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def new_user_form(**overrides):
    data = {
        "username": "ana.s",
        "full_name": "Ana Stojanovska",
        "email": "ana@example.org",
        "role": "counsellor",
        "centre_id": "",
        "locale": "mk",
        "password": "a long and private passphrase",
    }
    data.update(overrides)
    return data


def test_admin_creates_a_counsellor_who_must_change_the_password(app, client, login_as, centre):
    login_as(Role.ADMIN)
    response = client.post_form("/admin/users/new", new_user_form(centre_id=str(centre.id)))
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.username == "ana.s"))
    assert (user.role, user.centre_id, user.locale, user.must_change_password) == (
        Role.COUNSELLOR,
        centre.id,
        "mk",
        True,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert "user.created" in audit_actions()
    newcomer = app.test_client()
    landed = log_in(newcomer, "ana.s", "a long and private passphrase", follow_redirects=True)
    assert landed.request.path == "/account/password"


def test_create_user_validation_keeps_what_was_typed(client, login_as, make_user):
    login_as(Role.ADMIN)
    make_user(Role.RESEARCHER, username="taken.name")
    response = client.post_form(
        "/admin/users/new", new_user_form(username="taken.name", password="password")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This username is taken." in html
    assert "Counsellors and supervisors need a centre." in html
    assert "Use at least 12 characters." in html
    assert 'value="Ana Stojanovska"' in html  # nothing typed is lost
    assert 'aria-invalid="true"' in html and 'aria-describedby="username-errors"' in html


def test_admin_edits_a_user_and_only_changed_field_names_are_audited(
    client, login_as, make_user, centre
):
    login_as(Role.ADMIN)
    user = make_user(Role.COUNSELLOR, centre=centre, full_name="Old Name")
    page = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    response = client.post_form(
        f"/admin/users/{user.id}/edit",
        {
            "username": user.username,
            "full_name": "New Name",
            "role": "supervisor",
            "centre_id": str(centre.id),
            "locale": "",
            "active": "y",
            "version_id": version,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.full_name, user.role) == ("New Name", Role.SUPERVISOR)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "user.updated")
    ).one()
    assert event.object_id == str(user.id)
    row_text = " ".join(str(v) for v in vars(event).values())
    assert "New Name" not in row_text and "Old Name" not in row_text  # never field values


def test_admin_cannot_demote_or_deactivate_themselves(client, login_as):
    admin = login_as(Role.ADMIN)
    page = client.get(f"/admin/users/{admin.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    response = client.post_form(
        f"/admin/users/{admin.id}/edit",
        {
            "username": admin.username,
            "full_name": admin.full_name,
            "role": "researcher",
            "centre_id": "",
            "locale": "",
            "version_id": version,
        },
    )
    html = response.get_data(as_text=True)
    assert "You cannot change your own role." in html
    assert "You cannot deactivate yourself." in html
    client.post_form(f"/admin/users/{admin.id}/active", {"active": "0"})
    db.session.expire_all()
    assert db.session.get(User, admin.id).active
    assert db.session.get(User, admin.id).role == Role.ADMIN


def test_reset_password_gives_a_one_time_password(app, client, login_as, make_user):
    login_as(Role.ADMIN)
    user = make_user(Role.COUNSELLOR)
    response = client.post_form(f"/admin/users/{user.id}/reset-password")
    temporary = re.search(
        r'id="temporary-password">([^<]+)<', response.get_data(as_text=True)
    ).group(1)
    assert "user.password_reset" in audit_actions()
    person = app.test_client()
    assert "wrong" in log_in(person, user.username, PASSWORD).get_data(as_text=True)
    landed = log_in(person, user.username, temporary, follow_redirects=True)
    assert landed.request.path == "/account/password"


def test_user_list_filters_and_uses_a_fixed_number_of_queries(
    client, login_as, make_user, centre, count_queries
):
    login_as(Role.ADMIN)
    for _ in range(3):
        make_user(Role.COUNSELLOR, centre=centre)
    with count_queries() as few:
        assert client.get("/admin/users").status_code == 200
    for _ in range(20):
        make_user(Role.COUNSELLOR, centre=centre)
    with count_queries() as many:
        html = client.get("/admin/users").get_data(as_text=True)
    assert many() == few()
    assert html.count(centre.name) >= 20
    researchers = client.get("/admin/users?role=researcher").get_data(as_text=True)
    assert centre.name not in researchers


def test_audit_log_lists_events_with_a_fixed_number_of_queries(
    client, login_as, make_user, count_queries
):
    login_as(Role.ADMIN)
    with count_queries() as few:
        client.get("/admin/audit")
    for _ in range(15):
        make_user(Role.RESEARCHER)
    with count_queries() as many:
        html = client.get("/admin/audit?action=user.").get_data(as_text=True)
    assert many() == few()
    assert html.count("user.created") >= 15
    assert "auth.login" not in client.get("/admin/audit?action=user.").get_data(as_text=True)
