import csv
import datetime
import hashlib
import io
import json
import re
import zipfile

import pytest
import sqlalchemy as sa

from msc.core.db import db
from msc.core.roles import Role
from msc.research.audit import audit_package


def populate(make_user, make_migrant, n=40):
    counsellor = make_user(Role.COUNSELLOR)
    marker = []
    for i in range(n):
        migrant = make_migrant(
            counsellor,
            given_name=f"Zzmarker{i}",
            family_name="Plantedname",
            phone=f"+381 60 99{i:05d}",
            birth_date=datetime.date(1971 + i % 20, 7, 13),
            sex="F" if i % 3 else "M",
            destinations=("DE",),
            occupation_sought="53",
            education=str(i % 8),
            category="intending_emigrant",
        )
        marker.append(migrant.case_number)
    return marker


def test_researcher_downloads_an_audited_package_without_personal_data(
    client, login_as, make_user, make_migrant
):
    case_numbers = populate(make_user, make_migrant)
    login_as(Role.RESEARCHER)
    home = client.get("/research").get_data(as_text=True)
    assert "Persons registered by period, country, sex and age band" in home
    response = client.research_package()
    assert response.status_code == 200 and response.mimetype == "application/zip"
    data = response.data
    assert audit_package(data) == []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert "datapackage.json" in names and "codebook.csv" in names
        descriptor = json.loads(archive.read("datapackage.json"))
        content = b"".join(archive.read(name) for name in names)
    assert descriptor["msc"]["method"]["threshold_k"] == 10
    assert {r["name"] for r in descriptor["resources"]} >= {
        "persons_registered",
        "walk_ins",
        "codebook",
    }
    planted_values = [
        b"Zzmarker",
        b"Plantedname",
        b"99000",
        b"07-13",
        b"13.07.",
        b"7/13/",
        *(n.encode() for n in case_numbers[:5]),
    ]
    for planted in planted_values:
        assert planted not in content
    registered = zipfile.ZipFile(io.BytesIO(data)).read("data/persons_registered.csv").decode()
    assert registered.splitlines()[0] == "TIME_PERIOD,REF_AREA,SEX,AGE,OBS_VALUE,CONF_STATUS,FLAG"
    total = next(line for line in registered.splitlines() if line.startswith("_T,_T,_T,_T,"))
    assert total.startswith("_T,_T,_T,_T,40,F,")  # flagged G: everyone is in one country


def test_same_request_same_bytes(client, login_as, make_user, make_migrant):
    populate(make_user, make_migrant, 15)
    login_as(Role.RESEARCHER)
    first = client.research_package("table=persons_education&table=walk_ins").data
    second = client.research_package("table=persons_education&table=walk_ins").data
    assert first == second


def test_preview_shows_the_table_after_disclosure_control(
    client, login_as, make_user, make_migrant
):
    populate(make_user, make_migrant, 25)
    login_as(Role.RESEARCHER)
    html = client.get("/research/tables/persons_education").get_data(as_text=True)
    assert "Persons by education, sex and migration intention" in html
    assert (
        "<code>A</code>" in html and "<svg" not in html
    )  # every education cell is suppressed: no bars
    assert "<svg" in client.get("/research/tables/persons_category").get_data(as_text=True)
    assert client.get("/research/tables/no_such_table").status_code == 404


def test_only_consenting_profiles_are_counted(client, login_as, make_user, make_migrant):
    counsellor = make_user(Role.COUNSELLOR)
    for _ in range(12):
        make_migrant(counsellor, consents=("service", "statistics"))
    for _ in range(7):
        make_migrant(counsellor, consents=("service",))
    login_as(Role.RESEARCHER)
    registered = zipfile.ZipFile(io.BytesIO(client.research_package("table=persons_category").data))
    total = next(
        line
        for line in registered.read("data/persons_category.csv").decode().splitlines()
        if line.startswith("_T,_T,_T,")
    )
    assert total.startswith("_T,_T,_T,10,F,")  # 12 persons, rounded to base 5


def test_researcher_cannot_open_case_pages(client, login_as, make_user, make_migrant):
    migrant = make_migrant(make_user(Role.COUNSELLOR))
    login_as(Role.RESEARCHER)
    assert client.get(f"/cases/{migrant.id}").status_code == 403
    assert client.get("/cases/").status_code == 403


def test_cli_export_and_audit(runner, make_user, make_migrant, tmp_path):
    populate(make_user, make_migrant, 20)
    out = tmp_path / "national.zip"
    result = runner.invoke(
        args=[
            "msc",
            "research",
            "export",
            "--out",
            str(out),
            "--tables",
            "persons_category,walk_ins",
            "--locale",
            "sq",
        ]
    )
    assert result.exit_code == 0, result.output
    checked = runner.invoke(args=["msc", "research", "audit", str(out)])
    assert checked.exit_code == 0 and "audit passed" in checked.output
    codebook = zipfile.ZipFile(out).read("codebook.csv").decode()
    assert "intending_emigrant" in codebook  # codes stay language-neutral...
    assert (
        "Intending emigrant" not in codebook and "Total" not in codebook
    )  # ...labels are Albanian
    bad = runner.invoke(
        args=["msc", "research", "export", "--out", str(out), "--tables", "nonsense"]
    )
    assert bad.exit_code != 0 and "unknown table" in bad.output
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    assert runner.invoke(args=["msc", "research", "audit", str(broken)]).exit_code != 0


def two_national_packages(client, sign_as, query: str) -> tuple[bytes, bytes, dict]:
    """The same counts as packages of two instances ("msc-rs", "msc-al"), each signed with a
    key of its own, and the trust list that names both keys."""
    trusted = dict([sign_as("msc-rs")])
    serbia = client.research_package(query).data
    trusted.update([sign_as("msc-al")])
    return serbia, client.research_package(query).data, trusted


def test_regional_merge_of_signed_national_packages(
    app, runner, make_user, make_migrant, tmp_path, monkeypatch
):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    from msc.research.signing import key_id

    populate(make_user, make_migrant, 30)
    keys, trusted, paths = [], {}, []
    for country in ("rs", "al"):
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        monkeypatch.setitem(app.config, "RESEARCH_SIGNING_KEY", base64.b64encode(raw).decode())
        from flask import current_app

        monkeypatch.setitem(
            current_app.config, "RESEARCH_SIGNING_KEY", base64.b64encode(raw).decode()
        )
        monkeypatch.setitem(current_app.config, "RESEARCH_INSTANCE_ID", f"msc-{country}")
        path = tmp_path / f"{country}.zip"
        result = runner.invoke(
            args=[
                "msc",
                "research",
                "export",
                "--out",
                str(path),
                "--tables",
                "persons_category,walk_ins",
            ]
        )
        assert result.exit_code == 0, result.output
        public = key.public_key()
        trusted[key_id(public)] = base64.b64encode(
            public.public_bytes(
                Encoding.Raw,
                PublicFormat.Raw,
            )
        ).decode()
        keys.append(key)
        paths.append(str(path))
    trust_file = tmp_path / "trusted.json"
    trust_file.write_text(json.dumps(trusted))
    out = tmp_path / "regional.zip"
    from flask import current_app

    monkeypatch.setitem(current_app.config, "RESEARCH_INSTANCE_ID", "msc-hub")
    merged = runner.invoke(
        args=[
            "msc",
            "research",
            "merge",
            *paths,
            "--out",
            str(out),
            "--trusted-keys",
            str(trust_file),
        ]
    )
    assert merged.exit_code == 0, merged.output
    assert audit_package(out.read_bytes()) == []
    regional = zipfile.ZipFile(out)
    descriptor = json.loads(regional.read("datapackage.json"))
    # In the order of their instance ids, whatever the order given: the same bytes either way.
    assert [c["instance"] for c in descriptor["msc"]["components"]] == ["msc-al", "msc-rs"]
    national = {
        line.split(",")[3]
        for line in zipfile.ZipFile(paths[0])
        .read("data/persons_category.csv")
        .decode()
        .splitlines()
        if line.startswith("_T,_T,_T,")
    }
    total = next(
        line
        for line in regional.read("data/persons_category.csv").decode().splitlines()
        if line.startswith("_T,_T,_T,")
    )
    assert int(total.split(",")[3]) == 2 * int(national.pop())
    # An untrusted package is refused.
    untrusted = runner.invoke(args=["msc", "research", "merge", *paths, "--out", str(out)])
    assert untrusted.exit_code != 0 and "not signed by a trusted" in untrusted.output


def test_packages_validate_with_frictionless(client, login_as, make_user, make_migrant, tmp_path):
    from frictionless import Package

    populate(make_user, make_migrant, 15)
    login_as(Role.RESEARCHER)
    data = client.research_package().data
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    report = Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]


def test_xlsx_numbers_equal_the_csv_and_hxl_has_hashtags(client, login_as, make_user, make_migrant):
    import csv as csv_module

    from msc.research.formats import escape_formula, read_xlsx

    populate(make_user, make_migrant, 25)
    login_as(Role.RESEARCHER)
    archive = zipfile.ZipFile(io.BytesIO(client.research_package().data))
    sheets = read_xlsx(archive.read("tables.xlsx"))
    for name in ("persons_registered", "walk_ins", "persons_education"):
        rows = list(csv_module.reader(io.StringIO(archive.read(f"data/{name}.csv").decode())))
        sheet = sheets[name]
        assert [str(c) for c in sheet[0]] == rows[0]
        value = rows[0].index("OBS_VALUE")
        assert [r[value] for r in sheet[1:]] == [
            int(r[value]) if r[value] else None for r in rows[1:]
        ]
        # Codes stay text, as in the codebook sheet (ISCED "1", the year "2026").
        assert [r[:value] for r in sheet[1:]] == [r[:value] for r in rows[1:]]
    assert {"codebook", "method"} <= set(sheets)
    hxl = archive.read("hxl/persons_registered.csv").decode().splitlines()
    hashtags = "#date+period,#country+code,#category+sex,#category+age,#indicator+num,#status+conf"
    assert hxl[1] == hashtags + ",#meta+flag"
    assert (
        escape_formula("=HYPERLINK(1)") == "'=HYPERLINK(1)" and escape_formula("Welder") == "Welder"
    )


def test_every_release_is_in_the_ledger_admins_see(app, client, login_as, make_user, make_migrant):
    from msc.core.db import db
    from msc.research.models import ResearchRelease
    from tests.fixtures.factories import log_in

    populate(make_user, make_migrant, 12)
    researcher = login_as(Role.RESEARCHER)
    data = client.research_package("table=walk_ins").data
    release = db.session.scalars(sa.select(ResearchRelease)).one()
    link = re.search(r'href="(/research/packages/\d+/file)"', client.get("/research/packages").text)
    assert client.head(link.group(1)).status_code == 200  # a HEAD downloads nothing: no release
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ResearchRelease)) == 1
    import hashlib

    assert release.sha256 == hashlib.sha256(data).hexdigest() and release.user_id == researcher.id
    assert release.tables == ["walk_ins"]
    admin = app.test_client()
    log_in(admin, make_user(Role.ADMIN).username)
    ledger = admin.get("/admin/releases").get_data(as_text=True)
    assert release.sha256[:16] in ledger and researcher.username in ledger
    assert client.get("/admin/releases").status_code == 403


def test_hub_researcher_merges_on_the_page(
    app, client, login_as, make_user, make_migrant, monkeypatch, tmp_path, sign_as
):
    from msc.research.models import ResearchRelease

    populate(make_user, make_migrant, 15)
    researcher = login_as(Role.RESEARCHER)
    serbia, albania, trusted = two_national_packages(client, sign_as, "table=persons_category")
    sign_as("msc-hub")
    uploads = {"packages": [(io.BytesIO(serbia), "rs.zip"), (io.BytesIO(albania), "al.zip")]}
    page = client.post_form("/research/merge", uploads, content_type="multipart/form-data")
    assert page.status_code == 400 and "not signed by a trusted" in page.get_data(as_text=True)
    # The page says so before anything is uploaded, and which national systems it trusts.
    told = "This system trusts no national system yet"
    assert told in client.get("/research/merge").get_data(as_text=True)
    monkeypatch.setitem(app.config, "RESEARCH_TRUSTED_KEYS", json.dumps(trusted))
    page = client.get("/research/merge").get_data(as_text=True)
    assert told not in page and all(f"<code>{key_id}</code>" in page for key_id in trusted)
    uploads = {"packages": [(io.BytesIO(serbia), "rs.zip"), (io.BytesIO(albania), "al.zip")]}
    asked = client.post_form("/research/merge", uploads, content_type="multipart/form-data")
    # It is audited like a national package (here at once), then offered on the page of packages.
    assert asked.status_code == 302 and asked.headers["Location"] == "/research/packages"
    page = client.get("/research/packages").get_data(as_text=True)
    assert "regional merge" in page and "Of: msc-al, msc-rs" in page
    link = re.search(r'href="(/research/packages/\d+/file)"', page).group(1)
    merged = client.get(link)
    assert merged.status_code == 200 and merged.mimetype == "application/zip"
    assert "msc-regional-tables.zip" in merged.headers["Content-Disposition"]
    assert audit_package(merged.data) == []
    from frictionless import Package

    zipfile.ZipFile(io.BytesIO(merged.data)).extractall(tmp_path)
    report = Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]
    # The ledger knows what the regional release holds and which national packages it sums.
    release = db.session.scalar(sa.select(ResearchRelease).where(ResearchRelease.kind == "merge"))
    assert release.sha256 == hashlib.sha256(merged.data).hexdigest()
    assert release.tables == ["persons_category"] and release.user_id == researcher.id
    assert release.parameters["components"] == [
        {"instance": "msc-al", "sha256": hashlib.sha256(albania).hexdigest()},
        {"instance": "msc-rs", "sha256": hashlib.sha256(serbia).hexdigest()},
    ]
    # A refusal is told in the researcher's language.
    from msc.auth.models import User

    db.session.execute(sa.update(User).where(User.id == researcher.id).values(locale="sq"))
    db.session.commit()
    alone = client.post_form(
        "/research/merge",
        {"packages": [(io.BytesIO(serbia), "a.zip")]},
        content_type="multipart/form-data",
    )
    assert alone.status_code == 400
    assert "Jepni të paktën dy paketa kombëtare." in alone.get_data(as_text=True)


def test_the_command_line_and_the_web_give_the_same_package(
    runner, client, login_as, make_user, make_migrant, tmp_path
):
    populate(make_user, make_migrant, 12)
    out = tmp_path / "cli.zip"
    assert (
        runner.invoke(
            args=[
                "msc",
                "research",
                "export",
                "--out",
                str(out),
                "--tables",
                "persons_category,walk_ins",
                "--from",
                "2020-01",
                "--to",
                "2030-12",
            ]
        ).exit_code
        == 0
    )
    login_as(Role.RESEARCHER)
    web = client.research_package(
        "table=persons_category&table=walk_ins&from=2020-01&to=2030-12"
    ).data
    assert web == out.read_bytes()


def test_a_range_of_months_is_widened_to_whole_periods(
    runner, client, login_as, make_user, make_migrant, tmp_path
):
    """A year asked for from February to November is the whole year, a quarter the whole
    quarter: else two releases side by side would give the months between them, which neither
    protects. By month the range stays as asked. (Everyone here registered in December.)"""
    from msc.migrants.models import Migrant
    from msc.research.package import Request

    populate(make_user, make_migrant, 12)
    december = datetime.datetime(2025, 12, 15, 10, tzinfo=datetime.UTC)
    db.session.execute(sa.update(Migrant).values(created_at=december))
    db.session.commit()

    def exported(period, start, end):
        out = tmp_path / f"{period}-{start}-{end}.zip"
        arguments = ["--period", period, "--from", start, "--to", end]
        result = runner.invoke(args=["msc", "research", "export", "--out", str(out), *arguments])
        assert result.exit_code == 0, result.output
        return out.read_bytes()

    def registered(package):
        with zipfile.ZipFile(io.BytesIO(package)) as z:
            rows = csv.DictReader(io.StringIO(z.read("data/persons_category.csv").decode()))
            total = ("_T", "_T", "_T")
            return next(
                r["OBS_VALUE"]
                for r in rows
                if (r["CATEGORY"], r["LABOUR_STATUS"], r["SEX"]) == total
            )

    whole_year = exported("year", "2025-01", "2025-12")
    assert registered(whole_year) == "10"  # the twelve December registrations, rounded
    assert exported("year", "2025-02", "2025-11") == whole_year
    assert exported("quarter", "2025-10", "2025-10") == exported("quarter", "2025-10", "2025-12")
    assert registered(exported("month", "2025-02", "2025-11")) == "0"
    login_as(Role.RESEARCHER)
    assert client.research_package("period=year&from=2025-02&to=2025-11").data == whole_year
    # A day after the first counts its whole month; a range that ends before it starts, none.
    day = datetime.date
    mid_march = Request((), day(2025, 3, 15), day(2025, 3, 20), "month")
    assert (mid_march.start, mid_march.end) == (day(2025, 3, 1), day(2025, 4, 1))
    backwards = Request((), day(2025, 5, 1), day(2025, 3, 1), "year")
    assert (backwards.start, backwards.end) == (day(2025, 5, 1), day(2025, 3, 1))


def test_previews_show_a_recent_snapshot_and_downloads_count_afresh(
    app, client, login_as, make_user, make_migrant, monkeypatch
):
    import msc.research.cache as cache
    from msc.core.db import db
    from msc.research.models import ResearchTableCache

    monkeypatch.setitem(app.config, "RESEARCH_CACHE_SECONDS", 900)
    computed = []
    real_build_table = cache.build_table
    monkeypatch.setattr(
        cache,
        "build_table",
        lambda spec, req: computed.append(spec.id) or real_build_table(spec, req),
    )
    counsellor = make_user(Role.COUNSELLOR)
    for _ in range(12):
        make_migrant(counsellor, category="returnee")
    login_as(Role.RESEARCHER)

    first = client.get("/research/tables/persons_category").get_data(as_text=True)
    assert "Figures as of" in first and computed == ["persons_category"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ResearchTableCache)) == 1
    for _ in range(8):  # 20 returnees now: the published total moves from 10 to 20
        make_migrant(counsellor, category="returnee")
    again = client.get("/research/tables/persons_category").get_data(as_text=True)
    assert computed == ["persons_category"]  # the snapshot, not a new count
    # The same page but for the CSRF tokens (meta tag and hidden fields), which
    # carry the time to the second.
    token = re.compile(r'name="csrf[-_]token" (?:content|value)="[^"]+"')
    assert token.sub("", again) == token.sub("", first)
    # Another period is another table.
    client.get("/research/tables/persons_category?period=month")
    assert computed == ["persons_category", "persons_category"]
    # A download is a release: always counted afresh, with the new people.
    package = zipfile.ZipFile(io.BytesIO(client.research_package("table=persons_category").data))
    csv_text = package.read("data/persons_category.csv").decode()
    assert any(line.startswith("_T,_T,_T,20,F,") for line in csv_text.splitlines())
    # Once the snapshot is older than the cache period, the preview counts again.
    db.session.execute(
        sa.update(ResearchTableCache).values(
            computed_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
        )
    )
    db.session.commit()
    client.get("/research/tables/persons_category")
    assert computed.count("persons_category") == 3


def test_a_preview_and_its_snapshot_give_one_time_even_when_counting_crosses_a_minute(
    app, client, login_as, make_user, make_migrant, monkeypatch
):
    import msc.research.cache as cache
    from msc.research.models import ResearchTableCache

    monkeypatch.setitem(app.config, "RESEARCH_CACHE_SECONDS", 900)
    clock = iter(
        datetime.datetime(2026, 11, 27, 10, 0, 0, tzinfo=datetime.UTC)
        + datetime.timedelta(seconds=30 * step)
        for step in range(100)
    )  # every reading of the clock half a minute after the last: the count ends in another minute
    monkeypatch.setattr(cache, "utcnow", lambda: next(clock))
    for _ in range(12):
        make_migrant(make_user(Role.COUNSELLOR), category="returnee")
    login_as(Role.RESEARCHER)

    first = client.get("/research/tables/persons_category").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ResearchTableCache)) == 1
    again = client.get("/research/tables/persons_category").get_data(as_text=True)
    as_of = re.compile(r"Figures as of [^;]+;")
    assert as_of.search(first).group() == as_of.search(again).group()


def test_scheduled_refresh_computes_every_preview_ahead(
    app, data_app, runner, client, login_as, make_user, make_migrant, monkeypatch
):
    import msc.research.cache as cache
    from msc.core.db import db
    from msc.research.catalogue import CATALOGUE
    from msc.research.models import ResearchTableCache

    refused = runner.invoke(args=["msc", "research", "refresh"])
    assert refused.exit_code != 0 and "MSC_RESEARCH_CACHE_SECONDS is 0" in refused.output
    # The command runs in the test's own application context (data_app), the pages in `app`.
    monkeypatch.setitem(data_app.config, "RESEARCH_CACHE_SECONDS", 900)
    monkeypatch.setitem(app.config, "RESEARCH_CACHE_SECONDS", 900)
    populate(make_user, make_migrant, 12)
    bad = runner.invoke(args=["msc", "research", "refresh", "--period", "decade"])
    assert bad.exit_code != 0 and "unknown period" in bad.output
    result = runner.invoke(args=["msc", "research", "refresh", "--period", "year,quarter"])
    assert result.exit_code == 0, result.output
    assert "persons_registered by quarter" in result.output
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(ResearchTableCache))
    assert stored == 2 * len(CATALOGUE)
    computed = []
    monkeypatch.setattr(cache, "build_table", lambda *a: computed.append(a) or None)
    login_as(Role.RESEARCHER)
    for table in CATALOGUE:
        assert client.get(f"/research/tables/{table.id}?period=quarter").status_code == 200
    assert client.get("/research/report").status_code == 200
    assert computed == []  # every preview and the report came from the refresh


def _by_region(make_user, make_migrant, make_centre, make_region):
    """Persons registered at two centres in two regions of Serbia, one region coded without the
    country prefix; a counsellor in each."""
    belgrade = make_centre("RS", region=make_region("RS", code="RS-00", name="Beograd"))
    novi_sad = make_centre("RS", region=make_region("RS", code="06", name="Južnobački okrug"))
    for centre, n in ((belgrade, 14), (novi_sad, 12)):
        counsellor = make_user(Role.COUNSELLOR, centre=centre)
        for i in range(n):
            make_migrant(counsellor, given_name=f"Zzmarker{i}", sex="F" if i % 2 else "M")


def test_tables_by_region_in_the_package_the_preview_and_the_ledger(
    client, login_as, make_user, make_migrant, make_centre, make_region, tmp_path
):
    from frictionless import Package

    from msc.core.db import db
    from msc.research.models import ResearchRelease

    _by_region(make_user, make_migrant, make_centre, make_region)
    login_as(Role.RESEARCHER)
    tables = "table=persons_registered&table=visits_by_topic&table=walk_ins"
    data = client.research_package(f"{tables}&geography=region").data
    assert audit_package(data) == []
    archive = zipfile.ZipFile(io.BytesIO(data))
    descriptor = json.loads(archive.read("datapackage.json"))
    assert descriptor["msc"]["geography"] == "region"
    registered = archive.read("data/persons_registered.csv").decode().splitlines()
    areas = {line.split(",")[1] for line in registered[1:]}
    assert areas == {"RS", "RS-00", "RS-06", "_T"}
    belgrade = next(line for line in registered if line.startswith("_T,RS-00,_T,_T,"))
    assert belgrade.startswith("_T,RS-00,_T,_T,15,F,")  # 14 persons, rounded to base 5
    codebook = archive.read("codebook.csv").decode()
    assert "RS-06,Južnobački okrug (Serbia)" in codebook
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert "regions" in resources["persons_registered"]["description"]
    assert "areas" not in resources["walk_ins"]["description"]
    archive.extractall(tmp_path)
    report = Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]
    release = db.session.scalars(sa.select(ResearchRelease)).one()
    assert release.parameters["geography"] == "region"
    # By country (the default) the same persons are one area.
    national = zipfile.ZipFile(io.BytesIO(client.research_package(f"{tables}").data))
    lines = national.read("data/persons_registered.csv").decode().splitlines()
    assert {line.split(",")[1] for line in lines[1:]} == {"RS", "_T"}
    # The release by region holds the national release as it is, its regions beside it.
    assert set(lines) <= set(registered)

    page = client.get("/research/tables/persons_registered?geography=region").get_data(as_text=True)
    assert "Beograd (Serbia)" in page and '<option value="region" selected>' in page
    # The package asked for from the preview keeps the areas shown.
    assert '<input type="hidden" name="geography" value="region">' in page
    other = client.get("/research/tables/walk_ins?geography=region").get_data(as_text=True)
    assert 'name="geography"' not in other
    unknown = client.get("/research/tables/persons_registered?geography=centre")
    assert unknown.status_code == 200 and "Beograd" not in unknown.get_data(as_text=True)


def test_cli_exports_by_region(runner, make_user, make_migrant, make_centre, make_region, tmp_path):
    _by_region(make_user, make_migrant, make_centre, make_region)
    out = tmp_path / "regions.zip"
    args = ["msc", "research", "export", "--out", str(out), "--tables", "persons_registered"]
    result = runner.invoke(args=[*args, "--geography", "region"])
    assert result.exit_code == 0, result.output
    lines = zipfile.ZipFile(out).read("data/persons_registered.csv").decode().splitlines()
    assert {line.split(",")[1] for line in lines[1:]} == {"RS", "RS-00", "RS-06", "_T"}
    wrong = runner.invoke(args=[*args, "--geography", "centre"])
    assert wrong.exit_code != 0 and "centre" in wrong.output


def test_merge_refuses_packages_of_other_periods_or_areas(
    app, client, login_as, make_user, make_migrant, monkeypatch, sign_as
):
    from msc.research.merge import MergeRefused, merge_packages
    from msc.research.signing import instance_key

    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    base = "table=persons_registered"
    trusted = dict([sign_as("msc-rs")])
    by_year = client.research_package(base).data
    trusted.update([sign_as("msc-al")])
    for other, refusal in (
        (
            client.research_package(f"{base}&period=quarter").data,
            "different months, or count by different",
        ),
        (
            client.research_package(f"{base}&from=2024-01").data,
            "different months, or count by different",
        ),
        (client.research_package(f"{base}&geography=region").data, "different areas"),
    ):
        with pytest.raises(MergeRefused, match=refusal):
            merge_packages([by_year, other], trusted, instance_key(), "msc-hub")
    merged = merge_packages(
        [by_year, client.research_package(base).data], trusted, instance_key(), "msc-hub"
    )
    assert audit_package(merged) == []
    # A package of the first specification, whose REF_AREA had no regions, is not merged.
    monkeypatch.setattr("msc.research.package.SPEC_VERSION", "msc-research-1")
    older = client.research_package(base).data
    with pytest.raises(MergeRefused, match="different specifications"):
        merge_packages([by_year, older], trusted, instance_key(), "msc-hub")


def test_merge_refuses_a_package_changed_after_signing_or_too_large_to_unpack(
    client, login_as, make_user, make_migrant, monkeypatch
):
    from msc.research import merge
    from msc.research.merge import MergeRefused, merge_packages
    from msc.research.signing import instance_key, public_key_entry

    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    national = client.research_package("table=persons_category").data
    trusted = dict([public_key_entry(instance_key())])
    # The signature covers the descriptor, which holds each file's hash: a count changed in the
    # CSV (the signature and the descriptor left as they were) is caught.
    changed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(national)) as source, zipfile.ZipFile(changed, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "data/persons_category.csv":
                data = data.replace(b"_T,_T,_T,", b"_T,_T,_T,9")
            out.writestr(info, data)
    with pytest.raises(MergeRefused, match="Package 2 was changed after it was signed"):
        merge_packages([national, changed.getvalue()], trusted, instance_key(), "msc-hub")
    # A zip that would unpack to more than any package of ours is not opened.
    monkeypatch.setattr(merge, "MAX_UNPACKED_BYTES", len(national))
    with pytest.raises(MergeRefused, match="Package 1 is not a signed research package"):
        merge_packages([national, national], trusted, instance_key(), "msc-hub")


def test_previews_leave_no_expired_snapshots_behind(app, client, login_as, monkeypatch):
    from msc.research.models import ResearchTableCache

    monkeypatch.setitem(app.config, "RESEARCH_CACHE_SECONDS", 900)
    login_as(Role.RESEARCHER)
    for month in ("01", "02", "03"):  # each range of months is a snapshot of its own
        client.get(f"/research/tables/persons_category?period=month&from=2025-{month}")
    keys = sa.select(ResearchTableCache.key)
    assert len(db.session.scalars(keys).all()) == 3
    db.session.execute(
        sa.update(ResearchTableCache).values(
            computed_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
        )
    )
    db.session.commit()
    client.get("/research/tables/persons_category?period=month&from=2025-04")
    assert len(db.session.scalars(keys).all()) == 1


def rezipped(package: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, replace.get(info.filename, source.read(info)))
    return out.getvalue()


def with_every_entry(package: bytes, offset: int, change) -> bytes:
    """The package with a byte of every central directory header changed."""
    data, at = bytearray(package), 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        data[at + offset] = change(data[at + offset])
        at += 4
    return bytes(data)


def corrupt_deflate(package: bytes) -> bytes:
    data = bytearray(package)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        info = archive.getinfo("datapackage.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for at in range(start + 5, start + 40):
        data[at] ^= 0xFF
    return bytes(data)


MALFORMED = {
    "signature a list": lambda p: rezipped(p, {"signature.json": b"[]"}),
    "signature a string": lambda p: rezipped(p, {"signature.json": b'"x"'}),
    "signature not JSON": lambda p: rezipped(p, {"signature.json": b"{"}),
    "descriptor nested too deep": lambda p: rezipped(p, {"datapackage.json": b"[" * 200_000}),
    "compressed data corrupt": corrupt_deflate,
    "entries marked encrypted": lambda p: with_every_entry(p, 8, lambda b: b | 1),
    "unknown compression method": lambda p: with_every_entry(p, 10, lambda b: 6),
    "not a zip": lambda p: b"PK\x03\x04 not a zip at all",
}


@pytest.fixture
def national_package(app, client, login_as, make_user, make_migrant, monkeypatch, sign_as):
    """A package of this instance, trusted by the hub."""
    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    trusted = dict([sign_as("msc-rs")])
    package = client.research_package("table=walk_ins").data
    monkeypatch.setitem(app.config, "RESEARCH_TRUSTED_KEYS", json.dumps(trusted))
    return package


def merge_on_the_page(client, *packages: bytes):
    uploads = [(io.BytesIO(package), f"{n}.zip") for n, package in enumerate(packages)]
    return client.post_form(
        "/research/merge", {"packages": uploads}, content_type="multipart/form-data"
    )


@pytest.mark.parametrize("malformation", MALFORMED)
def test_the_merge_refuses_what_is_not_a_package_with_a_message(
    client, runner, tmp_path, national_package, malformation
):
    bad = MALFORMED[malformation](national_package)
    page = merge_on_the_page(client, bad, national_package)
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "Package 1 is not" in text and "The packages were not merged." in text
    (tmp_path / "bad.zip").write_bytes(bad)
    audited = runner.invoke(args=["msc", "research", "audit", str(tmp_path / "bad.zip")])
    assert audited.exit_code == 1 and "Traceback" not in audited.output
    assert "not a research package" in audited.output or "signature.json" in audited.output


def test_the_merge_sums_each_country_once(client, national_package):
    page = merge_on_the_page(client, national_package, national_package)
    assert page.status_code == 400
    assert "Packages 1 and 2 come from the same instance" in page.get_data(as_text=True)


def test_an_unsigned_package_fails_its_audit(national_package):
    unsigned = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(national_package)) as source,
        zipfile.ZipFile(unsigned, "w") as target,
    ):
        for info in source.infolist():
            if info.filename != "signature.json":
                target.writestr(info, source.read(info))
    assert audit_package(unsigned.getvalue()) == [
        "signature.json: missing, the package is not signed"
    ]


def test_a_destination_rare_in_one_country_is_other_in_the_region(
    client, login_as, make_user, make_migrant, sign_as
):
    from msc.migrants.models import MigrantCode
    from msc.research.merge import merge_packages
    from msc.research.signing import instance_key

    counsellor = make_user(Role.COUNSELLOR)
    ids = [
        make_migrant(counsellor, destinations=("DE", "FR"), sex="F", birth_year=1990).id
        for _ in range(20)
    ]
    login_as(Role.RESEARCHER)
    trusted = dict([sign_as("msc-rs")])
    serbia = client.research_package("table=persons_destination").data
    # In Albania only 3 of the 20 name France: rare there, so inside Albania's "other".
    db.session.execute(
        sa.delete(MigrantCode).where(
            MigrantCode.kind == "destination",
            MigrantCode.code == "FR",
            MigrantCode.migrant_id.in_(ids[3:]),
        )
    )
    db.session.commit()
    trusted.update([sign_as("msc-al")])
    albania = client.research_package("table=persons_destination").data
    merged = merge_packages([serbia, albania], trusted, instance_key(), "msc-hub")
    assert merged == merge_packages([albania, serbia], trusted, instance_key(), "msc-hub")
    assert audit_package(merged) == []

    def totals(package: bytes) -> dict[str, str]:
        text = zipfile.ZipFile(io.BytesIO(package)).read("data/persons_destination.csv").decode()
        rows = csv.DictReader(io.StringIO(text))
        return {
            r["DESTINATION"]: r["OBS_VALUE"] or r["CONF_STATUS"]
            for r in rows
            if r["SEX"] == r["AGE"] == "_T"
        }

    assert totals(serbia) == {"DE": "20", "FR": "20", "_T": "20"}
    assert totals(albania) == {"DE": "20", "_O": "A", "_T": "20"}
    # France is not summed as 20 + 0: the region's France holds 20 to 23 persons. It is "other"
    # in the region too, and unpublished, since Albania's part of it is.
    assert totals(merged) == {"DE": "40", "_O": "D", "_T": "40"}
    codebook = zipfile.ZipFile(io.BytesIO(merged)).read("codebook.csv").decode()
    assert "persons_destination,DESTINATION,FR," not in codebook
    assert "persons_destination,DESTINATION,_O," in codebook


def test_a_regional_package_is_not_merged_again(client, login_as, make_user, make_migrant, sign_as):
    from msc.research.merge import MergeRefused, merge_packages
    from msc.research.signing import instance_key

    populate(make_user, make_migrant, 12)
    login_as(Role.RESEARCHER)
    serbia, albania, trusted = two_national_packages(client, sign_as, "table=walk_ins")
    trusted.update([sign_as("msc-hub")])
    regional = merge_packages([serbia, albania], trusted, instance_key(), "msc-hub")
    with pytest.raises(MergeRefused, match="Package 1 is a regional package"):
        merge_packages([regional, serbia], trusted, instance_key(), "msc-hub")
