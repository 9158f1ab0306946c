"""A person at the keyboard: each role logs in and lands on its home page; axe-core is clean."""

import re

import pytest
from playwright.sync_api import expect

from msc.core.roles import Role
from tests.fixtures.factories import PASSWORD

pytestmark = pytest.mark.browser

HOMES = {
    Role.COUNSELLOR: ("/counsellor", "Today's visits"),
    Role.SUPERVISOR: ("/supervisor", "Referrals waiting for review"),
    Role.RESEARCHER: ("/research", "Research tables"),
    Role.ADMIN: ("/admin/", "Administration"),
}


def log_in(page, username, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_page_is_accessible(page, check_accessibility):
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    check_accessibility(page, "login")


@pytest.mark.parametrize("role", list(Role))
def test_each_role_logs_in_and_lands_on_its_home(page, make_user, check_accessibility, role):
    user = make_user(role)
    log_in(page, user.username)
    path, text = HOMES[role]
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.get_by_text(text).first).to_be_visible()
    check_accessibility(page, f"home-{role.value}")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have logged out.")).to_be_visible()


def test_wrong_password_shows_the_error(page, make_user):
    user = make_user(Role.COUNSELLOR)
    log_in(page, user.username, "not the password at all")
    expect(page.get_by_text("The username or password is wrong")).to_be_visible()
    expect(page).to_have_url(re.compile("/login$"))


def test_admin_pages_are_accessible_and_work(page, make_user, make_centre, check_accessibility):
    centre = make_centre("RS", code="BG1", name="MSC Belgrade")
    make_user(Role.COUNSELLOR, centre=centre)
    admin = make_user(Role.ADMIN)
    log_in(page, admin.username)
    for name, url in [
        ("admin-users", "/admin/users"),
        ("admin-new-user", "/admin/users/new"),
        ("admin-centres", "/admin/centres"),
        ("admin-new-centre", "/admin/centres/new"),
        ("admin-regions", "/admin/regions"),
        ("admin-new-region", "/admin/regions/new"),
        ("admin-audit", "/admin/audit"),
    ]:
        page.goto(url)
        check_accessibility(page, name)
    # Create a user through the form, as an administrator would.
    page.goto("/admin/users/new")
    page.get_by_label("Username").fill("new.counsellor")
    page.get_by_label("Full name").fill("Nova Savetnica")
    page.get_by_label("Role").select_option("counsellor")
    page.get_by_label("Centre").select_option(label="RS-BG1 MSC Belgrade")
    page.get_by_label("Initial password").fill("a long and private passphrase")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("User new.counsellor created.")).to_be_visible()
    # An error is announced next to its field.
    page.goto("/admin/users/new")
    page.get_by_label("Username").fill("new.counsellor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("This username is taken.")).to_be_visible()
    check_accessibility(page, "admin-user-form-errors")


def test_language_switcher_on_the_login_page(page):
    page.goto("/login")
    page.get_by_label("Language").select_option("fa")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
