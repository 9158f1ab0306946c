"""Mass assignment: fields a form does not have, posted anyway, change nothing.

Every form-handling POST route (collected from app.url_map, so a new route without a case fails)
is filled the way a browser would from its page, completed with valid values, and sent with extra
fields (`centre_id`, `status`, `role`, `created_by_id`, `id`, ...) that name columns of the row it
writes (OWASP ASVS 5.1.2, mass parameter assignment). The row is compared before and after (an
edit), or with the row the same form makes without the extra fields (a creation).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import sqlalchemy as sa

from msc.auth.models import User
from msc.centres.models import Centre, Region
from msc.core.codelists import codelist
from msc.core.db import db
from msc.core.roles import Role
from msc.migrants.models import Consent, Migrant
from msc.referrals.models import Channel, LocalOption, Partner, Referral
from msc.research.models import ResearchJob
from msc.visits.models import GroupSession, Visit, WalkIn
from tests.fixtures.factories import PASSWORD, log_in
from tests.integration.test_migrants import registration

MISSING_ID = 987654
STAMP = "2000-01-02T03:04:05"  # a posted timestamp; no row may end up with it
# Checked on their own: they differ between any two rows, or change on every save.
OWN_CHECKS = {"id", "version_id", "created_at", "updated_at"}
_numbers = itertools.count(1)


# --- a browser's view of a form ----------------------------------------------------------------


class _FormParser(HTMLParser):
    """Collects each <form method=post>: its action and its controls, as a browser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "controls": []}
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input" and a.get("name"):
            self._form["controls"].append(
                {
                    "tag": "input",
                    "name": a["name"],
                    "type": (a.get("type") or "text").lower(),
                    "value": a.get("value") or "",
                    "checked": "checked" in a,
                    "required": "required" in a,
                }
            )
        elif tag == "select" and a.get("name"):
            self._select = {
                "tag": "select",
                "name": a["name"],
                "multiple": "multiple" in a,
                "required": "required" in a,
                "options": [],
            }
            self._form["controls"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea = {
                "tag": "textarea",
                "name": a["name"],
                "value": "",
                "required": "required" in a,
            }
            self._form["controls"].append(self._textarea)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            # A browser drops the one newline that follows <textarea>.
            self._textarea["value"] += (
                data.removeprefix("\n") if not self._textarea["value"] else data
            )


def page_form(html: str, page: str, url: str) -> list[dict]:
    """The controls of the form on `page` that posts to `url`."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        if urljoin(page, form["action"]).split("?")[0] == url.split("?")[0]:
            return form["controls"]
    raise AssertionError(f"no form posting to {url} on {page}")


def browser_data(controls: list[dict], complete: bool = True) -> dict[str, list[str]]:
    """What a browser sends; with `complete`, required fields left empty get a plausible value
    (the first real option of a list, some text, today's date), like a person filling it in."""
    data: dict[str, list[str]] = {}
    for control in controls:
        name = control["name"]
        if control["tag"] == "input":
            kind = control["type"]
            if kind in {"submit", "button", "reset", "file", "image"}:
                continue
            if kind in {"checkbox", "radio"}:
                if control["checked"]:
                    data.setdefault(name, []).append(control["value"] or "on")
                continue
            value = control["value"]
            if not value and complete and control["required"]:
                value = {"date": dt.date.today().isoformat(), "number": "1"}.get(kind, "Test")
            data.setdefault(name, []).append(value)
        elif control["tag"] == "textarea":
            value = control["value"]
            if not value and complete and control["required"]:
                value = "Test text"
            data[name] = [value]
        else:
            options = control["options"]
            chosen = [value for value, selected in options if selected]
            if not chosen and options and not control["multiple"]:
                chosen = [options[0][0]]
            if complete and control["required"] and not any(chosen):
                chosen = [value for value, _selected in options if value][:1]
            data[name] = chosen
    return data


def fill(client, page: str, url: str, overrides: dict | None = None) -> dict:
    """The form posting to `url` as shown on `page`, completed, with `overrides` on top."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    data = browser_data(page_form(response.get_data(as_text=True), page, url))
    data.update({k: v if isinstance(v, list) else [v] for k, v in (overrides or {}).items()})
    return data


# --- the records the forms work on ---------------------------------------------------------------


@dataclass
class World:
    centre: Centre
    other_centre: Centre
    other_region: Region
    counsellor: User
    colleague: User
    supervisor: User
    admin: User
    researcher: User
    stranger: User
    migrant: Migrant
    duplicate: Migrant
    other_migrant: Migrant
    consent: Consent
    partner: Partner
    channel: Channel
    option: LocalOption
    referral: Referral
    urgent: Referral
    other_consent: Consent = field(init=False)

    def user(self, role: Role | None) -> User | None:
        return {
            Role.COUNSELLOR: self.counsellor,
            Role.SUPERVISOR: self.supervisor,
            Role.ADMIN: self.admin,
            Role.RESEARCHER: self.researcher,
        }.get(role)


@pytest.fixture
def world(make_centre, make_user, make_migrant, make_directory) -> World:
    centre, other_centre = make_centre(), make_centre()
    counsellor = make_user(Role.COUNSELLOR, centre=centre)
    stranger = make_user(Role.COUNSELLOR, centre=other_centre)
    migrant = make_migrant(counsellor, destinations=("DE",), occupation_sought="53")
    duplicate = make_migrant(counsellor, given_name="Jelena", family_name="Petrovic")
    other_migrant = make_migrant(stranger)
    partner, channel, option = make_directory()

    def consent_of(m):
        return db.session.scalars(
            sa.select(Consent).where(Consent.migrant_id == m.id).order_by(Consent.id)
        ).first()

    def referral(**fields):
        row = Referral(
            migrant_id=migrant.id,
            centre_id=centre.id,
            created_by_id=counsellor.id,
            category=fields.pop("category", "legal_migration"),
            channel_id=channel.id,
            reason="Qualified care worker.",
            due_on=dt.date.today() + dt.timedelta(days=30),
            shared_fields=["name"],
            **fields,
        )
        db.session.add(row)
        db.session.commit()
        return row

    made = World(
        centre=centre,
        other_centre=other_centre,
        other_region=db.session.get(Region, other_centre.region_id),
        counsellor=counsellor,
        colleague=make_user(Role.COUNSELLOR, centre=centre),
        supervisor=make_user(Role.SUPERVISOR, centre=centre),
        admin=make_user(Role.ADMIN),
        researcher=make_user(Role.RESEARCHER),
        stranger=stranger,
        migrant=migrant,
        duplicate=duplicate,
        other_migrant=other_migrant,
        consent=consent_of(migrant),
        partner=partner,
        channel=channel,
        option=option,
        referral=referral(),
        urgent=referral(category="protection", urgency="urgent", status="sent", needs_review=True),
    )
    made.other_consent = consent_of(other_migrant)
    return made


def extra_fields(w: World) -> dict[str, str]:
    """Fields no form offers, each naming a column an attacker would like to set."""
    return {
        "id": str(MISSING_ID),
        "centre_id": str(w.other_centre.id),
        "counsellor_id": str(w.stranger.id),
        "created_by_id": str(w.stranger.id),
        "user_id": str(w.stranger.id),
        "migrant_id": str(w.other_migrant.id),
        "merged_into_id": str(w.other_migrant.id),
        "consent_id": str(w.other_consent.id),
        "status": "approved",
        "role": "admin",
        "version_id": str(MISSING_ID),
        "case_number": "XX-HACK-2026-000001",
        "must_change_password": "y",
        "password_hash": "x",
        "session_token": "x",
        "username": "hijacked",
        "full_name": "Hijacked Name",
        "email": "hijack@example.org",
        "locale": "fa",
        "country_code": "DE",
        "region_id": str(w.other_region.id),
        "needs_review": "y",
        "withdrawn_on": "2020-01-01",
        "submitted_at": "2020-01-01T00:00:00",
        "created_at": STAMP,
        "updated_at": STAMP,
    }


# --- one case per form-handling POST route -------------------------------------------------------


@dataclass
class Case:
    role: Role | None  # who posts (None: nobody logged in)
    url: Callable[[World], str]
    model: type
    row: Callable[[World], int] | None = None  # the row an edit changes; None: a new row
    page: Callable[[World], str] | None = None  # where the form is shown (default: url)
    data: Callable[[World, int], dict] = lambda _w, _n: {}  # valid values over the page's own
    files: Callable[[World, int], dict] | None = None  # uploads (multipart)
    legit: frozenset = frozenset()  # columns the route itself sets: not compared
    expect: dict = field(default_factory=dict)  # column: value after the post
    status: int = 302  # the answer when the form was accepted
    prepare: Callable | None = None  # (world, client) before the form is opened


def csv_upload(_w: World, n: int) -> dict:
    kind = codelist("local_option_kind").codes[0]
    text = f"external_id,kind,title\nX-{n},{kind},Imported option {n}\n"
    return {"file": (io.BytesIO(text.encode()), "options.csv")}


def totp_code(user_id: int) -> str:
    """The current code of the user's authenticator (the secret the server keeps)."""
    import pyotp

    db.session.expire_all()
    return pyotp.TOTP(db.session.get(User, user_id).totp_secret).now()


def password_step_passed(w: World, client) -> None:
    """An enrolled counsellor who typed the right password: the second factor is next."""
    import pyotp

    from msc.core.db import utcnow

    user = db.session.get(User, w.counsellor.id)
    user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), utcnow()
    db.session.commit()
    response = log_in(client, w.counsellor.username)
    assert response.headers["Location"].startswith("/login/two-factor"), response.status_code


def enrolled_colleague(w: World, _client) -> None:
    import pyotp

    from msc.core.db import utcnow

    user = db.session.get(User, w.colleague.id)
    user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), utcnow()
    db.session.commit()


NEW_PASSWORD = "another long and private passphrase"
CREATED = frozenset({"submission_token", "case_number", "password_hash", "session_token"})

CASES: dict[str, Case] = {
    "auth.login": Case(
        None,
        lambda w: "/login",
        User,
        row=lambda w: w.counsellor.id,
        data=lambda w, _n: {"username": w.counsellor.username, "password": PASSWORD},
        legit=frozenset({"session_token"}),
    ),
    "auth.logout": Case(
        Role.COUNSELLOR,
        lambda w: "/logout",
        User,
        row=lambda w: w.counsellor.id,
        page=lambda w: "/cases/",
        legit=frozenset({"session_token"}),
    ),
    "auth.change_password": Case(
        Role.COUNSELLOR,
        lambda w: "/account/password",
        User,
        row=lambda w: w.counsellor.id,
        data=lambda w, _n: {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        legit=frozenset({"password_hash", "session_token", "must_change_password"}),
    ),
    "auth.second_factor": Case(
        None,
        lambda w: "/login/two-factor",
        User,
        row=lambda w: w.counsellor.id,
        prepare=password_step_passed,
        data=lambda w, _n: {"code": totp_code(w.counsellor.id)},
        legit=frozenset({"session_token"}),
    ),
    "auth.two_factor_setup": Case(
        Role.COUNSELLOR,
        lambda w: "/account/two-factor/setup",
        User,
        row=lambda w: w.counsellor.id,
        data=lambda w, _n: {"code": totp_code(w.counsellor.id)},
        status=200,  # the page with the recovery codes
    ),
    "admin.reset_two_factor": Case(
        Role.ADMIN,
        lambda w: f"/admin/users/{w.colleague.id}/reset-two-factor",
        User,
        row=lambda w: w.colleague.id,
        page=lambda w: f"/admin/users/{w.colleague.id}/edit",
        prepare=enrolled_colleague,
        legit=frozenset({"session_token"}),  # the user's sessions end with the old factor
    ),
    "protection.legal_hold": Case(
        Role.SUPERVISOR,
        lambda w: f"/cases/{w.migrant.id}/legal-hold",
        Migrant,
        row=lambda w: w.migrant.id,
        page=lambda w: f"/cases/{w.migrant.id}/subject-access",
        expect={"legal_hold": True},
    ),
    "protection.erase": Case(
        Role.SUPERVISOR,
        lambda w: f"/cases/{w.migrant.id}/erase",
        Migrant,
        row=lambda w: w.migrant.id,
        data=lambda w, _n: {"case_number": w.migrant.case_number, "confirm": "y"},
    ),
    "core.set_language": Case(
        Role.COUNSELLOR,
        lambda w: "/language",
        User,
        row=lambda w: w.counsellor.id,
        page=lambda w: "/cases/",
        data=lambda w, _n: {"locale": "sq"},
    ),
    "admin.create_user": Case(
        Role.ADMIN,
        lambda w: "/admin/users/new",
        User,
        data=lambda w, n: {
            "username": f"new.user{n}",
            "full_name": f"New User {n}",
            "role": "counsellor",
            "centre_id": str(w.centre.id),
            "password": NEW_PASSWORD,
        },
        legit=CREATED,
    ),
    "admin.edit_user": Case(
        Role.ADMIN,
        lambda w: f"/admin/users/{w.colleague.id}/edit",
        User,
        row=lambda w: w.colleague.id,
        data=lambda w, _n: {"full_name": "Renamed Colleague"},
    ),
    "admin.reset_password": Case(
        Role.ADMIN,
        lambda w: f"/admin/users/{w.colleague.id}/reset-password",
        User,
        row=lambda w: w.colleague.id,
        legit=frozenset({"password_hash", "session_token", "must_change_password"}),
        status=200,
    ),
    "admin.set_user_active": Case(
        Role.ADMIN,
        lambda w: f"/admin/users/{w.colleague.id}/active",
        User,
        row=lambda w: w.colleague.id,
        page=lambda w: f"/admin/users/{w.colleague.id}/edit",
        legit=frozenset({"session_token"}),  # deactivating ends the user's sessions
        expect={"active": False},
    ),
    "centres.create_centre": Case(
        Role.ADMIN,
        lambda w: "/admin/centres/new",
        Centre,
        data=lambda w, n: {
            "code": f"N{n}",
            "name": f"New centre {n}",
            "country_code": "RS",
            "region_id": str(w.centre.region_id),
            "host_office": "NES",
            "timezone": "Europe/Belgrade",
        },
    ),
    "centres.edit_centre": Case(
        Role.ADMIN,
        lambda w: f"/admin/centres/{w.centre.id}/edit",
        Centre,
        row=lambda w: w.centre.id,
        data=lambda w, _n: {"name": "Renamed centre"},
    ),
    "centres.create_region": Case(
        Role.ADMIN,
        lambda w: "/admin/regions/new",
        Region,
        data=lambda w, n: {"country_code": "RS", "code": f"RS-N{n}", "name": f"Region {n}"},
    ),
    "centres.edit_region": Case(
        Role.ADMIN,
        lambda w: f"/admin/regions/{w.centre.region_id}/edit",
        Region,
        row=lambda w: w.centre.region_id,
        data=lambda w, _n: {"name": "Renamed region"},
    ),
    "directory.new_partner": Case(
        Role.SUPERVISOR,
        lambda w: "/partners/new",
        Partner,
        data=lambda w, n: {"name": f"Partner {n}", "country_code": "RS", "services": ["shelter"]},
    ),
    "directory.edit_partner": Case(
        Role.SUPERVISOR,
        lambda w: f"/partners/{w.partner.id}/edit",
        Partner,
        row=lambda w: w.partner.id,
        data=lambda w, _n: {"name": "Renamed partner"},
    ),
    "directory.new_channel": Case(
        Role.SUPERVISOR,
        lambda w: "/channels/new",
        Channel,
        data=lambda w, n: {"name": f"Channel {n}", "destination": "DE"},
    ),
    "directory.edit_channel": Case(
        Role.SUPERVISOR,
        lambda w: f"/channels/{w.channel.id}/edit",
        Channel,
        row=lambda w: w.channel.id,
        data=lambda w, _n: {"name": "Renamed channel"},
    ),
    "directory.new_local_option": Case(
        Role.SUPERVISOR,
        lambda w: "/local-options/new",
        LocalOption,
        data=lambda w, n: {"title": f"Option {n}"},
    ),
    "directory.edit_local_option": Case(
        Role.SUPERVISOR,
        lambda w: f"/local-options/{w.option.id}/edit",
        LocalOption,
        row=lambda w: w.option.id,
        data=lambda w, _n: {"title": "Renamed option"},
    ),
    "directory.import_options": Case(
        Role.SUPERVISOR,
        lambda w: "/local-options/import",
        LocalOption,
        data=lambda w, _n: {"country_code": "RS"},
        files=csv_upload,
        expect={"country_code": "RS"},
        status=200,
    ),
    "migrants.register": Case(
        Role.COUNSELLOR,
        lambda w: "/cases/new",
        Migrant,
        data=lambda w, n: registration(
            given_name=f"Person{n}", family_name="Extra", confirm_new_person="y"
        ),
        legit=CREATED,
    ),
    "migrants.edit": Case(
        Role.COUNSELLOR,
        lambda w: f"/cases/{w.migrant.id}/edit",
        Migrant,
        row=lambda w: w.migrant.id,
        data=lambda w, _n: {"family_name": "Renamed"},
    ),
    "migrants.add_consent": Case(
        Role.COUNSELLOR,
        lambda w: f"/cases/{w.migrant.id}/consents",
        Consent,
        page=lambda w: f"/cases/{w.migrant.id}",
        data=lambda w, _n: {"purpose": "follow_up", "basis": "consent"},
    ),
    "migrants.withdraw_consent": Case(
        Role.COUNSELLOR,
        lambda w: f"/cases/{w.migrant.id}/consents/{w.consent.id}/withdraw",
        Consent,
        row=lambda w: w.consent.id,
        page=lambda w: f"/cases/{w.migrant.id}",
        legit=frozenset({"withdrawn_on"}),
    ),
    "migrants.merge": Case(
        Role.SUPERVISOR,
        lambda w: f"/cases/{w.migrant.id}/merge",
        Migrant,
        row=lambda w: w.migrant.id,
        data=lambda w, _n: {"other_case_number": w.duplicate.case_number, "confirm": "y"},
    ),
    "referrals.new": Case(
        Role.COUNSELLOR,
        lambda w: f"/cases/{w.migrant.id}/referrals/new",
        Referral,
        data=lambda w, _n: {
            "category": "legal_migration",
            "target": f"channel:{w.channel.id}",
            "reason": "Wants to work in Germany.",
        },
        legit=CREATED,
    ),
    "referrals.edit": Case(
        Role.COUNSELLOR,
        lambda w: f"/referrals/{w.referral.id}/edit",
        Referral,
        row=lambda w: w.referral.id,
        data=lambda w, _n: {"reason": "A changed reason."},
        expect={"status": "draft"},
    ),
    "referrals.act": Case(
        Role.COUNSELLOR,
        lambda w: f"/referrals/{w.referral.id}/do/submit",
        Referral,
        row=lambda w: w.referral.id,
        page=lambda w: f"/referrals/{w.referral.id}",
        legit=frozenset({"status", "submitted_at", "needs_review", "consent_id"}),
        expect={"status": "submitted"},
    ),
    "referrals.review": Case(
        Role.SUPERVISOR,
        lambda w: f"/referrals/{w.urgent.id}/review",
        Referral,
        row=lambda w: w.urgent.id,
        page=lambda w: f"/referrals/{w.urgent.id}",
        legit=frozenset({"needs_review"}),
        expect={"status": "sent", "needs_review": False},
    ),
    "visits.new_visit": Case(
        Role.COUNSELLOR,
        lambda w: f"/cases/{w.migrant.id}/visits/new",
        Visit,
        data=lambda w, _n: {"topics": ["other"], "material": "Leaflet"},
        legit=CREATED,
    ),
    "visits.new_group_session": Case(
        Role.COUNSELLOR,
        lambda w: "/group-sessions/new",
        GroupSession,
        data=lambda w, n: {"title": f"Session {n}", "venue": "Hall", "topics": ["other"]},
        legit=CREATED,
    ),
    "research.ask_package": Case(
        Role.RESEARCHER,
        lambda w: "/research/packages",
        ResearchJob,
        page=lambda w: "/research",
        expect={"status": ResearchJob.READY, "kind": "download", "failure": None},
    ),
    "visits.new_walk_in": Case(
        Role.COUNSELLOR,
        lambda w: "/walk-ins/new",
        WalkIn,
        data=lambda w, _n: {"sex": "F", "age_band": "18-24", "topics": ["other"]},
        legit=CREATED,
    ),
}

# POST routes without a case here, and why.
EXEMPT = {
    "research.merge": "takes only uploaded packages (no field reaches a row); the release row "
    "it writes takes the user from the session, tested in test_research",
}


def post_routes(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}


def test_every_post_route_has_a_case(app):
    assert post_routes(app) - set(CASES) - set(EXEMPT) == set(), "add a Case for the new route"
    assert set(CASES) | set(EXEMPT) <= post_routes(app), "a Case names a route that is gone"


def columns(model) -> list[str]:
    return [column.key for column in sa.inspect(model).column_attrs]


def snapshot(model, row_id: int) -> dict:
    db.session.expire_all()
    row = db.session.get(model, row_id)
    return {name: getattr(row, name) for name in columns(model)}


def send(client, case: Case, w: World, extras: dict | None) -> int:
    url = case.url(w)
    n = next(_numbers)
    data = fill(client, (case.page or case.url)(w), url, case.data(w, n))
    if extras:
        data.update({name: [value] for name, value in extras.items()})
    if case.files:
        data.update(case.files(w, n))
        response = client.post(url, data=data, content_type="multipart/form-data")
    else:
        response = client.post(url, data=data)
    assert response.status_code < 500, response.status_code
    if response.status_code != case.status:
        print(response.get_data(as_text=True))  # the page says which field was refused
    return response.status_code


def new_row(model, before: set[int]) -> int:
    db.session.expire_all()
    created = set(db.session.scalars(sa.select(model.id))) - before
    assert len(created) == 1, f"expected one new {model.__name__}, got {sorted(created)}"
    return created.pop()


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_extra_fields_change_nothing(app, client, world, endpoint):
    case = CASES[endpoint]
    user = world.user(case.role)
    if user is not None:
        assert log_in(client, user.username).status_code == 302
    if case.prepare:
        case.prepare(world, client)
    extras_all = extra_fields(world)
    form_names = set(fill(client, (case.page or case.url)(world), case.url(world)))
    extras = {name: value for name, value in extras_all.items() if name not in form_names}
    compared = (set(extras) & set(columns(case.model))) - case.legit - OWN_CHECKS

    if case.row is not None:
        row_id = case.row(world)
        before = snapshot(case.model, row_id)
        assert send(client, case, world, extras) == case.status
        after = snapshot(case.model, row_id)
        assert after != before, "the form was not saved, so the test proves nothing"
        reference = before
    else:
        # The same form without the extra fields first: what the server itself decides.
        ids = set(db.session.scalars(sa.select(case.model.id)))
        assert send(client, case, world, None) == case.status
        reference = snapshot(case.model, new_row(case.model, ids))
        ids = set(db.session.scalars(sa.select(case.model.id)))
        assert send(client, case, world, extras) == case.status
        after = snapshot(case.model, new_row(case.model, ids))

    changed = {
        name: (reference[name], after[name]) for name in compared if reference[name] != after[name]
    }
    assert changed == {}, f"extra fields changed {changed}"
    assert after.get("version_id") != MISSING_ID
    for stamp in ("created_at", "updated_at"):
        if stamp in after:
            assert after[stamp].year != 2000, stamp
    assert db.session.get(case.model, MISSING_ID) is None
    for name, value in case.expect.items():
        assert after[name] == value, (name, after[name])
    if "case_number" in after:
        assert after["case_number"] != extras_all["case_number"]
