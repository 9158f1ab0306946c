"""A researcher previews a table, has the package and the XLSX prepared and downloads them, opens
the report."""

import re
import zipfile

import pytest
from playwright.sync_api import expect

from msc.core.roles import Role
from msc.research.audit import audit_package
from msc.research.formats import read_xlsx
from tests.browser.test_login_and_homes import log_in
from tests.integration.test_research import populate

pytestmark = pytest.mark.browser


def test_researcher_day(
    app, page, make_user, make_migrant, check_accessibility, tmp_path, monkeypatch
):
    case_numbers = populate(make_user, make_migrant, 30)
    researcher = make_user(Role.RESEARCHER)
    log_in(page, researcher.username)
    check_accessibility(page, "research-home")
    page.get_by_role(
        "link", name="Persons by migrant category, labour-market status and sex", exact=True
    ).click()
    expect(
        page.get_by_role(
            "heading", name="Persons by migrant category, labour-market status and sex"
        )
    ).to_be_visible()
    expect(page.locator("svg.msc-chart")).to_be_visible()
    check_accessibility(page, "research-preview")
    # The registrations by region: the centre's region beside its country.
    page.goto("/research")
    page.get_by_role(
        "link", name="Persons registered by period, country, sex and age band", exact=True
    ).click()
    page.get_by_label("Areas").select_option("region")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Areas: the regions of the centres (ISO 3166-2).")).to_be_visible()
    expect(page.get_by_role("cell", name="(Serbia)").first).to_be_visible()
    check_accessibility(page, "research-preview-by-region")
    # Packages are prepared in the background; the page of packages offers them when ready.
    monkeypatch.setitem(app.config, "RESEARCH_PACKAGES_PREPARED_BY", "thread")
    page.goto("/research")
    page.get_by_role("button", name="Prepare all tables (zip)").click()
    expect(page.get_by_role("heading", name="Your packages")).to_be_visible()
    downloads = page.get_by_role("link", name=re.compile("^Download"))
    expect(downloads).to_have_count(1, timeout=60_000)  # the page refreshes itself meanwhile
    check_accessibility(page, "research-packages")
    with page.expect_download() as download:
        downloads.first.click()
    package = tmp_path / "package.zip"
    download.value.save_as(package)
    assert audit_package(package.read_bytes()) == []
    assert "datapackage.json" in zipfile.ZipFile(package).namelist()
    page.get_by_role("link", name="Back to the research tables").click()
    page.get_by_role("button", name="Prepare as XLSX").click()
    expect(downloads).to_have_count(2, timeout=60_000)
    with page.expect_download() as download:
        downloads.first.click()  # the newest first
    workbook = tmp_path / "tables.xlsx"
    download.value.save_as(workbook)
    assert "persons_registered" in read_xlsx(workbook.read_bytes())
    page.get_by_role("link", name="Back to the research tables").click()
    page.get_by_role("link", name="Read the research report").click()
    expect(page.get_by_role("heading", name="Method")).to_be_visible()
    check_accessibility(page, "research-report")
    response = page.goto("/cases/")
    assert response.status == 403
    assert all(number not in page.content() for number in case_numbers)
