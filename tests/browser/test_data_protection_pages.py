"""A supervisor enrols a second factor, then handles a subject-access request; axe-core is clean."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from msc.centres.models import Centre
from msc.core.db import db
from msc.core.roles import Role
from tests.browser.test_login_and_homes import log_in

pytestmark = pytest.mark.browser


def test_supervisor_enrols_and_handles_a_subject_access_request(
    page, make_user, make_migrant, check_accessibility, totp_required
):
    counsellor = make_user(Role.COUNSELLOR)
    migrant = make_migrant(counsellor, notes="Needs a call back on Monday")
    supervisor = make_user(Role.SUPERVISOR, centre=db.session.get(Centre, counsellor.centre_id))
    log_in(page, supervisor.username)
    expect(page).to_have_url(re.compile("/account/two-factor/setup$"))
    expect(page.locator("svg").first).to_be_visible()  # the QR code
    check_accessibility(page, "two-factor-setup")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step login").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    check_accessibility(page, "recovery-codes")
    page.get_by_role("link", name="I have kept them, continue").click()
    expect(page).to_have_url(re.compile("/supervisor$"))

    page.goto(f"/cases/{migrant.id}")
    page.get_by_role("link", name="Data protection").click()
    expect(page.get_by_role("heading", name=re.compile("Everything held about"))).to_be_visible()
    expect(page.get_by_text("Needs a call back on Monday")).to_be_visible()
    check_accessibility(page, "subject-access")
    page.get_by_role("button", name="Place under legal hold").click()
    expect(page.get_by_text("The case is under legal hold").first).to_be_visible()
    page.get_by_role("link", name="Who viewed this case").click()
    expect(page.get_by_text("migrant.subject_access_viewed").first).to_be_visible()
    check_accessibility(page, "access-log")
    with page.expect_download() as download:
        page.goto(f"/cases/{migrant.id}/subject-access")
        page.get_by_role("link", name="Download as JSON").click()
    assert download.value.suggested_filename == f"subject-access-{migrant.case_number}.json"
    page.get_by_role("link", name="Erase on request").click()
    expect(page.get_by_text("under legal hold and cannot be erased")).to_be_visible()
    check_accessibility(page, "erase")


def test_admin_reads_the_record_of_processing(page, make_user, check_accessibility):
    admin = make_user(Role.ADMIN)
    log_in(page, admin.username)
    page.get_by_role("link", name="Record of processing").click()
    expect(page.get_by_role("heading", name="Record of processing")).to_be_visible()
    expect(page.get_by_text("protection_indicators").first).to_be_visible()
    check_accessibility(page, "record-of-processing")
