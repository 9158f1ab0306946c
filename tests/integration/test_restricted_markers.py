"""Marker text in restricted fields reaches no page, file or log line of the unentitled."""

import io
import logging
import zipfile

from msc.centres.models import Centre
from msc.core.db import db
from msc.core.roles import Role
from tests.fixtures.factories import log_in

NOTE = "QQMARKER-counselling-note-5521"
VISIT_NOTE = "QQMARKER-visit-note-8830"


def _visit(client, migrant_id):
    page = f"/cases/{migrant_id}/visits/new"
    response = client.post_form(
        page,
        {
            "occurred_at": "2026-01-15T10:00",
            "mode": "in_person",
            "duration_minutes": "30",
            "topics": "legal_migration",
            "notes": VISIT_NOTE,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def _unzipped(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def test_restricted_text_reaches_only_the_case_counsellor_and_supervisors(
    app, client, make_user, make_migrant, caplog
):
    caplog.set_level(logging.DEBUG)
    owner = make_user(Role.COUNSELLOR)
    centre = db.session.get(Centre, owner.centre_id)
    migrant = make_migrant(owner, notes=NOTE)
    assert log_in(client, owner.username).status_code == 302
    _visit(client, migrant.id)
    case_page = client.get(f"/cases/{migrant.id}").get_data(as_text=True)
    assert NOTE in case_page and VISIT_NOTE in case_page  # the right holder sees both
    client.post_form("/logout", page="/")

    colleague = make_user(Role.COUNSELLOR, centre=centre)
    assert log_in(client, colleague.username).status_code == 302
    urls = [
        f"/cases/{migrant.id}",
        f"/cases/{migrant.id}/edit",
        f"/cases/{migrant.id}/visits/new",
        f"/cases/{migrant.id}/information-sheet",
        "/cases/?q=Petrovic",
        "/counsellor",
    ]
    for url in urls:
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert NOTE not in body and VISIT_NOTE not in body, url
    client.post_form("/logout", page="/")

    researcher = make_user(Role.RESEARCHER)
    assert log_in(client, researcher.username).status_code == 302
    package = client.research_package()
    assert package.status_code == 200
    xlsx = client.research_package(kind="xlsx")
    assert xlsx.status_code == 200
    for blob in (_unzipped(package.data), _unzipped(xlsx.data)):
        assert NOTE.encode() not in blob and VISIT_NOTE.encode() not in blob
    report = client.get("/research/report").get_data(as_text=True)
    assert NOTE not in report
    client.post_form("/logout", page="/")

    admin = make_user(Role.ADMIN)
    assert log_in(client, admin.username).status_code == 302
    for url in ("/admin/audit", "/admin/", "/admin/record-of-processing"):
        assert NOTE not in client.get(url).get_data(as_text=True), url
    client.post_form("/logout", page="/")

    supervisor = make_user(Role.SUPERVISOR, centre=centre)
    assert log_in(client, supervisor.username).status_code == 302
    assert NOTE in client.get(f"/cases/{migrant.id}").get_data(as_text=True)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records  # the requests above were logged
    assert NOTE not in logged and VISIT_NOTE not in logged
    assert NOTE not in caplog.text and VISIT_NOTE not in caplog.text
