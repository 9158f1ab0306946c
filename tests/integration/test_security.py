"""CSRF, security headers and error pages."""

import logging
import re

import sqlalchemy as sa
from werkzeug.exceptions import TooManyRequests

from msc.auth.models import User
from msc.core.access import public
from msc.core.db import db
from msc.core.roles import Role
from tests.fixtures.factories import log_in


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user(Role.COUNSELLOR)
    response = client.post("/login", data={"username": user.username, "password": "whatever it is"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)


def test_admin_form_without_csrf_token_changes_nothing(client, login_as, centre):
    login_as(Role.ADMIN)
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post(
        "/admin/users/new",
        data={
            "username": "forged",
            "full_name": "Forged",
            "role": "admin",
            "password": "a long and private passphrase",
        },
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_csrf_token_of_another_session_is_refused(app, client, login_as):
    login_as(Role.ADMIN)
    other = app.test_client()
    foreign_token = other.csrf_token("/login")
    response = client.post("/logout", data={"csrf_token": foreign_token})
    assert response.status_code == 400


def test_security_headers_on_every_page(client, login_as):
    for response in (client.get("/login"), client.get("/no-such-page")):
        csp = response.headers["Content-Security-Policy"]
        for directive in (
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in response.headers  # only in production
    login_as(Role.ADMIN)
    assert client.get("/admin/users").headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script(client, login_as):
    login_as(Role.ADMIN)
    for url in ("/login", "/admin/", "/admin/users", "/admin/centres"):
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert " on" + "click=" not in html and 'style="' not in html


def test_static_assets_are_vendored_and_cacheable(client):
    response = client.get("/static/vendor/bootstrap/bootstrap.min.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


def test_404_page_has_incident_id_that_is_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="msc.errors"):
        response = client.get("/no-such-page")
    assert response.status_code == 404
    incident = re.search(
        r"Incident reference: ([0-9a-f]{12})", response.get_data(as_text=True)
    ).group(1)
    assert incident in caplog.text


def test_500_page_is_generic_and_logs_the_trace_under_the_incident_id(
    app, client, caplog, monkeypatch
):
    @public
    def broken():
        raise RuntimeError("secret internal detail")

    monkeypatch.setitem(app.view_functions, "home.healthz", broken)
    with caplog.at_level(logging.ERROR, logger="msc.errors"):
        response = client.get("/healthz")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internal detail" not in html and "Traceback" not in html
    incident = re.search(r"Incident reference: ([0-9a-f]{12})", html).group(1)
    assert incident in caplog.text and "secret internal detail" in caplog.text


def test_429_page(app, client, monkeypatch):
    @public
    def limited():
        raise TooManyRequests()

    monkeypatch.setitem(app.view_functions, "home.healthz", limited)
    response = client.get("/healthz")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_403_for_wrong_role(client, login_as):
    login_as(Role.COUNSELLOR)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Incident reference" in response.get_data(as_text=True)


def test_stale_edit_is_refused_with_409_and_changes_nothing(app, client, login_as, make_user):
    login_as(Role.ADMIN)
    target = make_user(Role.RESEARCHER, full_name="Original Name")
    form_page = client.get(f"/admin/users/{target.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', form_page).group(1)
    # Someone else saves first.
    other = app.test_client()
    log_in(other, make_user(Role.ADMIN).username)
    data = {
        "username": target.username,
        "full_name": "Changed By Other",
        "role": "researcher",
        "centre_id": "",
        "locale": "",
        "active": "y",
        "version_id": version,
    }
    assert other.post_form(f"/admin/users/{target.id}/edit", data).status_code == 302
    data["full_name"] = "Changed Too Late"
    response = client.post_form(f"/admin/users/{target.id}/edit", data)
    assert response.status_code == 409
    assert "Changed by someone else" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, target.id).full_name == "Changed By Other"
