import re

import sqlalchemy as sa

from msc.centres.models import Centre, Region
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role


def test_admin_creates_a_region_and_a_centre(client, login_as):
    login_as(Role.ADMIN)
    response = client.post_form(
        "/admin/regions/new", {"country_code": "AL", "code": "AL-11", "name": "Tiranë"}
    )
    assert response.status_code == 302
    region = db.session.scalar(sa.select(Region).where(Region.code == "AL-11"))
    response = client.post_form(
        "/admin/centres/new",
        {
            "code": "TIR",
            "name": "MSC Tirana",
            "country_code": "AL",
            "region_id": str(region.id),
            "host_office": "National Agency for Employment and Skills",
            "timezone": "Europe/Tirane",
            "active": "y",
        },
    )
    assert response.status_code == 302
    centre = db.session.scalar(sa.select(Centre).where(Centre.code == "TIR"))
    assert centre.region_id == region.id
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"region.created", "centre.created"} <= actions
    listing = client.get("/admin/centres").get_data(as_text=True)
    assert "AL-TIR" in listing and "Albania" in listing


def test_a_region_code_is_unique_also_with_its_country_prefix(client, login_as, make_region):
    """Research tables write "00" in Serbia as RS-00: it may not stand beside a region RS-00."""
    make_region("RS", code="RS-00", name="Beograd")
    login_as(Role.ADMIN)
    for code in ("00", "RS-00"):
        response = client.post_form(
            "/admin/regions/new", {"country_code": "RS", "code": code, "name": "Beograd 2"}
        )
        assert response.status_code == 200, code
        assert "This country already has a region with this code." in response.get_data(
            as_text=True
        )
    response = client.post_form(
        "/admin/regions/new", {"country_code": "AL", "code": "00", "name": "Elsewhere"}
    )
    assert response.status_code == 302  # AL-00 is another code


def test_centre_region_must_belong_to_its_country(client, login_as, make_region):
    login_as(Role.ADMIN)
    serbian = make_region("RS")
    response = client.post_form(
        "/admin/centres/new",
        {
            "code": "X1",
            "name": "Wrong",
            "country_code": "AL",
            "region_id": str(serbian.id),
            "host_office": "Office",
            "timezone": "Europe/Tirane",
            "active": "y",
        },
    )
    assert "Choose a region of the centre" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Centre.id))) == 0


def test_centre_code_unique_per_country_and_well_formed(client, login_as, make_centre):
    login_as(Role.ADMIN)
    existing = make_centre("RS", code="BG1")
    data = {
        "code": "BG1",
        "name": "Duplicate",
        "country_code": "RS",
        "region_id": str(existing.region_id),
        "host_office": "Office",
        "timezone": "Europe/Belgrade",
        "active": "y",
    }
    assert "already has a centre with this code" in client.post_form(
        "/admin/centres/new", data
    ).get_data(as_text=True)
    data["code"] = "bg 1"
    assert "Use capital letters" in client.post_form("/admin/centres/new", data).get_data(
        as_text=True
    )
    data.update(code="BG2", timezone="Mars/Olympus")
    assert "Not a valid choice" in client.post_form("/admin/centres/new", data).get_data(
        as_text=True
    )


def test_admin_edits_a_centre_with_version_check(client, login_as, make_centre):
    login_as(Role.ADMIN)
    centre = make_centre("RS", code="NI1", name="MSC Nis")
    page = client.get(f"/admin/centres/{centre.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    data = {
        "code": "NI1",
        "name": "MSC Niš",
        "country_code": "RS",
        "region_id": str(centre.region_id),
        "host_office": "NES Niš",
        "timezone": "Europe/Belgrade",
        "active": "y",
        "version_id": version,
    }
    assert client.post_form(f"/admin/centres/{centre.id}/edit", data).status_code == 302
    assert (
        client.post_form(f"/admin/centres/{centre.id}/edit", data).status_code == 409
    )  # stale now
    db.session.expire_all()
    assert db.session.get(Centre, centre.id).name == "MSC Niš"


def test_admin_edits_a_region(client, login_as, make_region):
    login_as(Role.ADMIN)
    region = make_region("ME", code="ME-16", name="Podgorica")
    page = client.get(f"/admin/regions/{region.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version_id" type="hidden" value="(\d+)"', page).group(1)
    response = client.post_form(
        f"/admin/regions/{region.id}/edit",
        {
            "country_code": "ME",
            "code": "ME-16",
            "name": "Glavni grad Podgorica",
            "version_id": version,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Region, region.id).name == "Glavni grad Podgorica"
    assert "region.updated" in set(db.session.scalars(sa.select(AuditEvent.action)))
