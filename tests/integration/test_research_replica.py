"""Research tables read from a replica when MSC_RESEARCH_DATABASE_URL names one; the release
ledger is still written to the primary."""

import io
import zipfile

import sqlalchemy as sa

from config import settings
from msc import create_app
from msc.core.db import db
from msc.core.roles import Role
from msc.research.models import ResearchRelease
from tests.fixtures.app import MSCClient
from tests.fixtures.factories import log_in


def test_the_setting_adds_a_research_bind():
    values = settings.load("testing", {"MSC_RESEARCH_DATABASE_URL": "sqlite:///replica.db"})
    assert values["SQLALCHEMY_BINDS"] == {"research": "sqlite:///replica.db"}
    assert "research" not in (settings.load("testing", {}).get("SQLALCHEMY_BINDS") or {})


def _copy_database(source: sa.Engine, target: sa.Engine) -> None:
    """The replica: the same schema and rows (a streaming replica, as far as reads go)."""
    db.metadata.create_all(target)
    with source.connect() as reading, target.begin() as writing:
        for table in db.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in reading.execute(sa.select(table))]
            if rows:
                writing.execute(table.insert(), rows)


def _total_persons(data: bytes) -> str:
    lines = zipfile.ZipFile(io.BytesIO(data)).read("data/persons_category.csv").decode()
    total = next(line for line in lines.splitlines() if line.startswith("_T,_T,_T,"))
    return total.split(",")[3]


def test_tables_are_read_from_the_replica_and_releases_written_to_the_primary(
    app, make_user, make_migrant, tmp_path, monkeypatch
):
    from msc.migrants.models import Consent

    counsellor = make_user(Role.COUNSELLOR)
    migrants = [make_migrant(counsellor).id for _ in range(20)]
    researcher = make_user(Role.RESEARCHER)
    db.session.commit()
    replica_url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    monkeypatch.setenv("MSC_RESEARCH_DATABASE_URL", replica_url)
    replicated = create_app("testing", {"SQLALCHEMY_DATABASE_URI": db.engine.url})
    replicated.test_client_class = MSCClient
    with replicated.app_context():
        replica = db.engines["research"]
        assert replica.url.database.endswith("replica.sqlite3")
        _copy_database(db.engine, replica)
    # On the primary 8 persons withdraw their consent after the copy: the figures tell where the
    # reads went (20 persons on the replica, 12 on the primary).
    db.session.execute(
        sa.update(Consent)
        .where(Consent.migrant_id.in_(migrants[:8]), Consent.purpose == "statistics")
        .values(withdrawn_on=sa.func.current_date())
    )
    db.session.commit()
    client = replicated.test_client()
    log_in(client, researcher.username)
    data = client.research_package("table=persons_category").data
    assert _total_persons(data) == "20"
    releases = db.session.scalars(sa.select(ResearchRelease)).all()
    assert [r.tables for r in releases] == [["persons_category"]]  # the ledger: on the primary
    with replicated.app_context():
        with db.engines["research"].connect() as connection:
            assert connection.scalar(sa.select(sa.func.count(ResearchRelease.id))) == 0
        db.engines["research"].dispose()
    monkeypatch.delenv("MSC_RESEARCH_DATABASE_URL")
    primary_only = create_app("testing", {"SQLALCHEMY_DATABASE_URI": db.engine.url})
    primary_only.test_client_class = MSCClient
    client = primary_only.test_client()
    log_in(client, researcher.username)
    assert _total_persons(client.research_package("table=persons_category").data) == "10"
