"""A counsellor's day in the browser: register, duplicate warning, visit, timeline."""

import re

import pytest
from playwright.sync_api import expect

from msc.centres.models import Centre
from msc.core.db import db
from msc.core.roles import Role
from tests.browser.test_login_and_homes import log_in

pytestmark = pytest.mark.browser


def test_register_duplicate_warning_visit_and_timeline(
    page, browser, live_server, make_user, make_migrant, check_accessibility
):
    counsellor = make_user(Role.COUNSELLOR)
    existing = make_migrant(
        counsellor, given_name="Jelena", family_name="Djordjevic", birth_year=1994
    )
    log_in(page, counsellor.username)
    check_accessibility(page, "counsellor-home")

    page.get_by_role("link", name="Register a migrant").first.click()
    expect(page.get_by_role("heading", name="Register a migrant")).to_be_visible()
    check_accessibility(page, "register-empty")
    page.get_by_label("Given name").fill("Јелена")
    page.get_by_label("Family name").fill("Ђорђевић")
    page.get_by_label("Sex").select_option("F")
    page.get_by_label("Year of birth").fill("1994")
    page.get_by_label("Citizenship(s)").select_option("RS")
    page.get_by_label("Preferred language").select_option("sr")
    page.get_by_label("Migrant category").select_option("intending_emigrant")
    page.get_by_label("Migration intention").select_option("planning")
    page.get_by_label("Intended destination countries").select_option(["DE"])
    page.get_by_label("Service provision").select_option("consent")
    page.get_by_label("Language in which the person was informed").select_option("sr")
    page.get_by_role("button", name="Register").click()

    warning = page.get_by_role("alert").filter(has_text="This person may be registered already")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(existing.case_number)
    check_accessibility(page, "register-duplicate-warning")
    warning.get_by_role("link", name="Jelena Djordjevic").click()

    expect(page.get_by_role("heading", name="Jelena Djordjevic")).to_be_visible()
    check_accessibility(page, "case-page")
    page.get_by_role("link", name="New visit").click()
    page.get_by_label("Mode").select_option("in_person")
    page.get_by_label("Duration (minutes)").fill("40")
    page.get_by_label("Legal migration opportunities").check()
    page.get_by_label("Risks of irregular migration").check()
    page.get_by_label("Information material given").fill("Leaflet on seasonal work in Germany")
    check_accessibility(page, "visit-form")
    page.get_by_role("button", name="Save visit").click()

    expect(page.get_by_text("Visit saved.")).to_be_visible()
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Legal migration opportunities")
    expect(timeline).to_contain_text("Leaflet on seasonal work in Germany")
    case_url = page.url

    # A counsellor of another centre cannot open the profile.
    other_context = browser.new_context(base_url=live_server)
    other = other_context.new_page()
    log_in(other, make_user(Role.COUNSELLOR).username)
    response = other.goto(case_url)
    assert response.status == 404
    expect(other.get_by_role("heading", name="Not found")).to_be_visible()
    other_context.close()


def test_search_finds_a_profile_typed_in_the_other_script(
    page, make_user, make_migrant, check_accessibility
):
    counsellor = make_user(Role.COUNSELLOR)
    make_migrant(counsellor, given_name="Ђорђе", family_name="Јовановић")
    log_in(page, counsellor.username)
    page.goto("/cases/")
    page.get_by_label("Name or case number").fill("Djordje Jovanovic")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="Ђорђе Јовановић")).to_be_visible()
    expect(page.get_by_role("cell", name="Đorđe Jovanović")).to_be_visible()
    check_accessibility(page, "case-search")


def test_group_session_and_walk_in_pages(page, make_user, make_migrant, check_accessibility):
    counsellor = make_user(Role.COUNSELLOR)
    migrant = make_migrant(counsellor)
    log_in(page, counsellor.username)
    page.goto("/group-sessions/new")
    page.get_by_label("Title").fill("Safe migration information evening")
    page.get_by_label("Venue").fill("Employment office, room 3")
    page.get_by_label("Trafficking prevention").check()
    page.get_by_label("Registered participants").fill(migrant.case_number)
    page.get_by_label("Female, 18–24").fill("5")
    check_accessibility(page, "group-session-form")
    page.get_by_role("button", name="Save group session").click()
    expect(page.get_by_text("Group session saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="5")).to_be_visible()
    check_accessibility(page, "group-sessions")
    page.goto("/walk-ins/new")
    page.get_by_label("Sex").select_option("M")
    page.get_by_label("Age band").select_option("25-34")
    page.get_by_label("Return and reintegration").check()
    check_accessibility(page, "walk-in-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Walk-in counted.")).to_be_visible()
    assert re.search(r"/walk-ins$", page.url)
    assert db.session.get(Centre, counsellor.centre_id) is not None
