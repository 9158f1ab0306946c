"""The whole life of a referral in the browser, by a counsellor and a supervisor."""

import pytest
from playwright.sync_api import expect

from msc.centres.models import Centre
from msc.core.db import db
from msc.core.roles import Role
from tests.browser.test_login_and_homes import log_in

pytestmark = pytest.mark.browser


def test_referral_from_case_to_outcome(
    browser, live_server, make_user, make_migrant, make_directory, check_accessibility
):
    counsellor = make_user(Role.COUNSELLOR)
    supervisor = make_user(Role.SUPERVISOR, centre=db.session.get(Centre, counsellor.centre_id))
    migrant = make_migrant(
        counsellor, destinations=("DE",), occupation_sought="53", preferred_language="en"
    )
    _partner, channel, _option = make_directory()
    c_context = browser.new_context(base_url=live_server)
    s_context = browser.new_context(base_url=live_server)
    c, s = c_context.new_page(), s_context.new_page()
    log_in(c, counsellor.username)
    log_in(s, supervisor.username)

    # The counsellor refers from the case page's suggestion.
    c.goto(f"/cases/{migrant.id}")
    suggestions = c.get_by_role("region", name="Suggestions")
    expect(suggestions).to_contain_text(channel.name)
    suggestions.get_by_role("link", name="Refer").first.click()
    expect(c.get_by_label("Refer to")).to_have_value(f"channel:{channel.id}")
    c.get_by_label("Reason").fill("Qualified care worker with German A2.")
    check_accessibility(c, "referral-form")
    c.get_by_role("button", name="Save").click()
    expect(c.get_by_text("Referral saved as a draft")).to_be_visible()
    c.get_by_role("button", name="Submit for review").click()
    referral_url = c.url

    # The supervisor sees it in the queue and returns it with a comment.
    s.goto("/referrals/queue")
    expect(s.get_by_role("link", name="Review queue")).to_contain_text("1")
    check_accessibility(s, "review-queue")
    s.get_by_role("link", name=migrant.case_number).click()
    check_accessibility(s, "referral-review")
    return_form = s.locator("form", has=s.get_by_role("button", name="Return with a comment"))
    return_form.get_by_label("Comment").fill("Please add the language certificate.")
    return_form.get_by_role("button", name="Return with a comment").click()
    expect(s.get_by_role("cell", name="Please add the language certificate.")).to_be_visible()

    # The counsellor fixes and resubmits.
    c.goto(referral_url)
    c.get_by_role("link", name="Edit").click()
    expect(c.get_by_text("Please add the language certificate.")).to_be_visible()
    c.get_by_label("Reason").fill("Qualified care worker; Goethe A2 certificate attached.")
    c.get_by_role("button", name="Save").click()
    c.get_by_role("button", name="Submit for review").click()

    # The supervisor approves.
    s.goto(referral_url)
    s.get_by_role("button", name="Approve").click()
    expect(s.get_by_text("Done: Approve.")).to_be_visible()

    # The counsellor marks it sent, accepted, then completed with an outcome.
    c.goto(referral_url)
    c.get_by_role("button", name="Mark as sent").click()
    c.get_by_role("button", name="Recipient accepted").click()
    c.get_by_label("Outcome").select_option("migrated_legally")
    c.get_by_role("button", name="Record the outcome").click()
    expect(c.get_by_role("region", name="Summary")).to_contain_text(
        "Migrated through a legal channel"
    )
    check_accessibility(c, "referral-completed")

    # The slip prints with only the shared fields.
    c.get_by_role("link", name="Referral slip").click()
    expect(c.get_by_role("heading", name="Referral slip")).to_be_visible()
    expect(c.locator("main")).to_contain_text(migrant.display_name)
    expect(c.locator("main")).not_to_contain_text("Phone")
    check_accessibility(c, "referral-slip")
    s.goto("/supervisor")
    check_accessibility(s, "supervisor-home")
    c_context.close()
    s_context.close()
