"""A researcher previews a table, has the package and the XLSX prepared and downloads them, opens
the report."""

import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from msc.core.roles import Role
from msc.research import cache
from msc.research.audit import audit_package
from msc.research.formats import read_xlsx
from msc.research.package import Request, all_tables, build_package
from msc.research.signing import instance_key, public_key_entry
from tests.browser.test_login_and_homes import log_in
from tests.integration.test_research import populate

pytestmark = pytest.mark.browser


def test_researcher_day(
    app, page, make_user, make_migrant, check_accessibility, tmp_path, monkeypatch, sign_as
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
    # A regional hub merges national packages (here this instance's and the same counts signed
    # as another's): checked at once, audited in the background, offered on the same page.
    trusted = dict([public_key_entry(instance_key())])
    trusted.update([sign_as("msc-al")])
    descriptor = json.loads(zipfile.ZipFile(package).read("datapackage.json"))
    with app.test_request_context():
        other, _descriptor = build_package(
            Request(all_tables(), None, None, descriptor["msc"]["period"]["granularity"])
        )
    (tmp_path / "al.zip").write_bytes(other)
    monkeypatch.setitem(app.config, "RESEARCH_TRUSTED_KEYS", json.dumps(trusted))
    page.goto("/research/merge")
    check_accessibility(page, "research-merge")
    page.get_by_label("National packages (zip)").set_input_files([package, tmp_path / "al.zip"])
    page.get_by_role("button", name="Merge").click()
    expect(page.get_by_text("The packages were merged")).to_be_visible()
    expect(downloads).to_have_count(3, timeout=60_000)
    with page.expect_download() as download:
        downloads.first.click()
    regional = tmp_path / "regional.zip"
    download.value.save_as(regional)
    assert download.value.suggested_filename == "msc-regional-tables.zip"
    assert audit_package(regional.read_bytes()) == []
    # A preview that cannot be protected in time says so and offers the package.
    monkeypatch.setattr(cache, "_too_long_until", {})
    monkeypatch.setitem(app.config, "RESEARCH_PREVIEW_SECONDS", 0)
    page.goto("/research/tables/persons_registered?period=month")
    expect(page.get_by_text("takes too long to protect while you wait")).to_be_visible()
    check_accessibility(page, "research-preview-too-long")
    monkeypatch.setitem(app.config, "RESEARCH_PREVIEW_SECONDS", 20)
    page.goto("/research")
    page.get_by_role("link", name="Read the research report").click()
    expect(page.get_by_role("heading", name="Method")).to_be_visible()
    expect(page.locator("svg.msc-chart").first).to_be_visible()
    check_accessibility(page, "research-report")
    response = page.goto("/cases/")
    assert response.status == 403
    assert all(number not in page.content() for number in case_numbers)
