"""A crawl (HTML or OAI-PMH) killed with SIGKILL midway and rerun ends with the same database as an uninterrupted one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.pipelines.validate import HASHED_FIELDS, content_hash
from crawler.replica import ReplicaServer
from crawler.run import CrawlConfig, run_crawl
from db.models import Image, Page, Record
from db.session import make_engine, session_scope

ROOT = Path(__file__).resolve().parent.parent
RECORD_SKIP = {"id", "first_seen", "last_seen", "content_hash"}
IMAGE_SKIP = {"id", "record_id", "fetched_at"}
PAGE_SKIP = {"id", "run_id", "fetched_at"}


def dump(db_url: str, base_url: str, images_dir: Path) -> dict[str, list[tuple]]:
    """Every table the crawl writes, as sorted tuples, without ids, timestamps, run ids or the port.

    content_hash covers the URLs, so it differs between servers on different ports: it is
    checked against the row's own fields instead of compared as is.
    """

    def clean(value):
        if isinstance(value, str):
            return value.replace(base_url, "BASE").replace(str(images_dir.absolute()), "IMAGES")
        return value

    def rows(model, skip, extra=()):
        columns = [c for c in model.__table__.columns if c.name not in skip]
        query = select(*columns, *extra)
        if model is Image:
            query = query.join(Record, Record.id == Image.record_id)
        return sorted(tuple(clean(v) for v in row) for row in session.execute(query))

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        for record in session.scalars(select(Record)):
            assert record.content_hash == content_hash({name: getattr(record, name) for name in HASHED_FIELDS})
        result = {
            "records": rows(Record, RECORD_SKIP),
            "images": rows(Image, IMAGE_SKIP, (Record.source, Record.source_id)),
            "pages": rows(Page, PAGE_SKIP),
        }
    engine.dispose()
    return result


def count_records(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def kill_twice_then_finish(command: list[str], db_path: Path, total: int, kill_at=(12, 35)) -> None:
    """Run `command`, SIGKILL it once `kill_at[k]` records are stored (twice), then run it to the end."""
    for threshold in kill_at:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while count_records(db_path) < threshold and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the crawl finished before it could be killed: slow it down"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert threshold <= count_records(db_path) < total - 1
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr


def assert_same(actual: dict, expected: dict) -> None:
    for table in expected:
        assert len(actual[table]) == len(expected[table]), table
        for got, want in zip(actual[table], expected[table], strict=True):
            assert got == want, table


@pytest.mark.slow
def test_sigkill_midway_then_rerun_equals_uninterrupted(tmp_path, replica, replica_archive):
    # Reference: an uninterrupted crawl of another server over the same archive.
    reference_db = f"sqlite:///{tmp_path / 'reference.db'}"
    with ReplicaServer(replica_archive) as other:
        run_crawl(CrawlConfig(profile="replica", start_url=other.base_url, db_url=reference_db,
                              images_dir=str(tmp_path / "ref_images"), concurrency=8, delay=0.0,
                              autothrottle=False, progress=False))
        expected = dump(reference_db, other.base_url, tmp_path / "ref_images")

    db_path = tmp_path / "killed.db"
    command = [sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", "replica", "--start-url", replica.base_url,
               "--db", f"sqlite:///{db_path}", "--images-dir", str(tmp_path / "images"),
               "--no-autothrottle", "--delay", "0.02", "--concurrency", "2"]
    # two kills: one early, one after the first resume got going
    kill_twice_then_finish(command, db_path, len(replica_archive.records))
    assert_same(dump(f"sqlite:///{db_path}", replica.base_url, tmp_path / "images"), expected)
    with sqlite3.connect(db_path) as conn:
        statuses = [s for (s,) in conn.execute("SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses == ["interrupted", "interrupted", "finished"]
    assert not list((tmp_path / "images").glob("*/.*.part"))


@pytest.mark.slow
def test_oai_harvest_killed_twice_then_rerun_equals_uninterrupted(tmp_path, replica_archive):
    reference_db = f"sqlite:///{tmp_path / 'reference.db'}"
    with ReplicaServer(replica_archive, oai_page_size=20) as other:
        run_crawl(CrawlConfig(profile="replica", oai=f"{other.base_url}/oai", db_url=reference_db,
                              images_dir=str(tmp_path / "ref_images"), concurrency=8, delay=0.0,
                              autothrottle=False, progress=False))
        expected = dump(reference_db, other.base_url, tmp_path / "ref_images")
    assert len(expected["records"]) == len(replica_archive.records)

    db_path = tmp_path / "killed.db"
    with ReplicaServer(replica_archive, oai_page_size=20) as server:
        command = [sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", "replica", "--oai", f"{server.base_url}/oai",
                   "--db", f"sqlite:///{db_path}", "--images-dir", str(tmp_path / "images"),
                   "--no-autothrottle", "--delay", "0.02", "--concurrency", "2"]
        kill_twice_then_finish(command, db_path, len(replica_archive.records))
        actual = dump(f"sqlite:///{db_path}", server.base_url, tmp_path / "images")
    # Listing rows log the pages asked for: after the replica's one badResumptionToken the list goes on from a
    # datestamp, so which pages those are depends on the run the fault met. Records and images do not.
    assert_same({table: actual[table] for table in ("records", "images")},
                {table: expected[table] for table in ("records", "images")})
    for pages in (actual["pages"], expected["pages"]):
        failed = [row for row in pages if row[2] != "ok"]
        assert all(row[4].startswith("listing_oai_badResumptionToken: ") for row in failed), failed
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM oai_harvests").fetchone()[0] == 1
