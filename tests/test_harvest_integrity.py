"""Harvest integrity against faults and hostile OAI-PMH servers (issue 17 items 1, 2, 5, 9).

No record is lost for good: a harvest advances its incremental `from` only when every listed record
was stored or is a row with its reason; resumptionTokens that repeat, cycle or outgrow a URL do not
loop or cut the list short; a badResumptionToken restarts from the last good datestamp.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, text

from cli import main
from crawler.replica import ReplicaServer
from db.models import OaiHarvest, Record
from db.session import make_engine, session_scope


def crawl_cli(oai: str, db_url: str, images_dir: Path, *extra: str):
    return CliRunner().invoke(main, ["crawl", "--profile", "replica", "--oai", oai, "--db", db_url,
                                     "--images-dir", str(images_dir), "--no-autothrottle", "--delay", "0",
                                     "--concurrency", "8", *extra])


def source_ids(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        ids = sorted(session.scalars(select(Record.source_id)))
    engine.dispose()
    return ids


def harvests(db_url: str) -> int:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        count = session.query(OaiHarvest).count()
    engine.dispose()
    return count


def test_records_the_database_refuses_keep_the_harvest_incomplete_and_the_rerun_stores_them(tmp_path,
                                                                                              replica_archive):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    refused = [r.source_id for r in replica_archive.records[25:31]]
    engine = make_engine(db_url)
    with engine.begin() as connection:  # the database itself refuses these rows, as a full disk would
        connection.execute(text(
            "CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.source_id IN "
            f"({', '.join(repr(s) for s in refused)}) BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))
    with ReplicaServer(replica_archive, oai_faults=False, oai_page_size=20) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert result.exit_code == 1, result.output
        assert f"record_not_stored {len(refused)}" in " ".join(result.output.split()), result.output
        assert result.output.strip().splitlines()[-1] == (
            f"Error: The harvest is not complete: {len(refused)} listed records or rows could not be stored "
            "(see failed by reason). Rerun the same command: it lists them again.")
        assert harvests(db_url) == 0  # `from` did not advance
        assert not set(refused) & set(source_ids(db_url))
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse"))
        rerun = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert rerun.exit_code == 0, rerun.output
        assert "records: 6 new" in rerun.output
    engine.dispose()
    assert source_ids(db_url) == sorted(r.source_id for r in replica_archive.records)
    assert harvests(db_url) == 1
