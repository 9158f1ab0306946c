"""Every route, every role: walks app.url_map so a route added later without a check fails here."""

import pytest
import sqlalchemy as sa
from flask import url_for
from flask_login import login_user
from werkzeug.exceptions import NotFound

from msc.auth.models import User
from msc.core.access import PUBLIC, access_of, get_scoped_or_404
from msc.core.roles import Role
from tests.fixtures.factories import log_in

MISSING_ID = 987654


def routes(app, ids=None):
    """(endpoint, url, method, has_id) for every rule; each parameter gets the id from `ids`
    (an object of another centre) or, where none is given, an id that does not exist."""
    ids = ids or {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {}
        for argument in rule.arguments:
            converter = rule._converters[argument].__class__.__name__
            values[argument] = (
                ids.get(argument, MISSING_ID) if converter == "IntegerConverter" else "x"
            )
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule.endpoint, url, method, bool(rule.arguments)


def request(client, url, method):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": client.csrf_token()})


def test_every_view_declares_its_access(app):
    undeclared = [endpoint for endpoint in app.view_functions if access_of(app, endpoint) is None]
    assert undeclared == [], f"views without an access rule: {undeclared}"


def test_anonymous_gets_the_login_page_on_every_protected_route(app, client):
    for endpoint, url, method, _has_id in routes(app):
        response = request(client, url, method)
        if access_of(app, endpoint) == PUBLIC:
            assert response.status_code < 500, (endpoint, method)
            continue
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert response.headers["Location"].startswith("/login"), (endpoint, method)


@pytest.fixture
def other_centre_objects(make_user, make_migrant):
    """One object of each kind a URL names, all in a centre the test user does not belong to."""
    import datetime as dt

    from msc.core.db import db
    from msc.migrants.models import Consent
    from msc.referrals.models import Referral
    from msc.research.models import ResearchJob
    from msc.visits.models import GroupSession

    owner = make_user(Role.COUNSELLOR)
    migrant = make_migrant(owner)
    session = GroupSession(
        centre_id=owner.centre_id,
        occurred_on=dt.date.today(),
        title="T",
        venue="V",
        created_by_id=owner.id,
    )
    db.session.add(session)
    db.session.commit()
    consent = db.session.scalars(sa.select(Consent).where(Consent.migrant_id == migrant.id)).first()
    referral = Referral(
        migrant_id=migrant.id,
        centre_id=migrant.centre_id,
        created_by_id=owner.id,
        category="other",
        reason="r",
        due_on=dt.date.today(),
        shared_fields=["name"],
    )
    db.session.add(referral)
    package = ResearchJob(  # another researcher's package, ready to download
        user_id=make_user(Role.RESEARCHER).id,
        kind="download",
        tables=["walk_ins"],
        parameters={"period": "year", "locale": "en"},
        status=ResearchJob.READY,
        data=b"zip",
        size=3,
    )
    db.session.add(package)
    db.session.commit()
    return {
        "migrant_id": migrant.id,
        "session_id": session.id,
        "consent_id": consent.id,
        "referral_id": referral.id,
        "job_id": package.id,
    }


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_403_where_not_allowed_and_in_where_allowed(
    app, client, make_user, role, other_centre_objects
):
    user = make_user(role)
    assert log_in(client, user.username).status_code == 302
    for endpoint, url, method, has_id in routes(app, other_centre_objects):
        if endpoint == "auth.logout":
            continue  # it would end this test's session; covered in test_sessions
        access = access_of(app, endpoint)
        response = request(client, url, method)
        status = response.status_code
        if access == PUBLIC:
            assert status < 500, (role, endpoint, method, status)
        elif role not in access:
            assert status == 403, (role, endpoint, method, status)
        elif has_id:
            # Another centre's record, or none at all: the same 404 (never a 403 that confirms it).
            assert status == 404, (role, endpoint, method, status)
        else:
            assert status < 400 or (method == "POST" and status == 400), (
                role,
                endpoint,
                method,
                status,
            )


def test_a_record_of_another_centre_is_404_not_403(app, make_user, make_centre):
    """The one object loader hides other centres' records; admins see all; researchers none."""
    own, other = make_centre(), make_centre()
    record = make_user(Role.COUNSELLOR, centre=other)  # a centre-owned row
    visible = {
        Role.COUNSELLOR: False,
        Role.SUPERVISOR: False,
        Role.RESEARCHER: False,
        Role.ADMIN: True,
    }
    for role, sees_it in visible.items():
        viewer = make_user(role, centre=own if role.needs_centre else None)
        with app.test_request_context():
            login_user(viewer)
            if sees_it:
                assert get_scoped_or_404(User, record.id).id == record.id
            else:
                with pytest.raises(NotFound):
                    get_scoped_or_404(User, record.id)
    colleague = make_user(Role.SUPERVISOR, centre=other)
    with app.test_request_context():
        login_user(colleague)
        assert get_scoped_or_404(User, record.id).id == record.id
