"""The store's writer thread (crawler/pipelines/writer.py): batches stored beside the reactor, in order, and a
harvest that records itself complete only after the writer committed everything it was handed."""

from __future__ import annotations

import logging
import threading

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import text
from test_harvest_integrity import crawl_cli, harvests, not_stored_line, refuse_records, source_ids
from test_store import record, rows

from crawler.pipelines.store import STORE_FAILED_STAT, StorePipeline
from crawler.pipelines.writer import MAX_PENDING, StoreWriter
from crawler.replica import ReplicaServer
from crawler.spiders.oai import OaiSpider
from db.session import make_engine


def pipeline(db_url: str, batch: int) -> StorePipeline:
    """The store of an OAI harvest, holding `batch` items per transaction (the spider's own setting says 1000)."""
    crawler = get_crawler(OaiSpider, {"FOTOFECHA_DB_URL": db_url, "FOTOFECHA_STORE_BATCH_S": 60})
    crawler.spider = OaiSpider.from_crawler(crawler, profile="replica", endpoint="http://127.0.0.1:9/oai")
    store = StorePipeline.from_crawler(crawler)
    store.batch_size = batch
    store.open_spider()
    assert store.writer is not None
    return store


class ThreadNotingStats:
    """The crawl's stats, noting the threads that add to them."""

    def __init__(self, stats) -> None:
        self.stats, self.threads = stats, set()

    def inc_value(self, *args, **kwargs) -> None:
        self.threads.add(threading.current_thread().name)
        self.stats.inc_value(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.stats, name)


def test_batches_are_written_in_order_and_a_busy_writer_makes_submit_wait():
    gate, written = threading.Event(), []

    def write(batch):
        gate.wait(10)
        written.append(batch)
        return len(batch)

    writer = StoreWriter(write)
    submitted = []
    def feed():
        for n in range(MAX_PENDING + 3):
            submitted.append(writer.submit([n]))

    feeder = threading.Thread(target=feed)
    feeder.start()
    feeder.join(0.5)
    # the writer holds one batch and MAX_PENDING wait: the next submit waits, and the rest with it
    assert feeder.is_alive() and len(submitted) == MAX_PENDING + 1 and writer.pending.qsize() == MAX_PENDING
    gate.set()
    feeder.join(10)
    assert writer.close() and submitted == [True] * (MAX_PENDING + 3)
    assert written == [[n] for n in range(MAX_PENDING + 3)] and writer.results() == [1] * (MAX_PENDING + 3)


def test_a_writer_that_dies_gives_back_every_batch_it_did_not_finish():
    def write(batch):
        if batch == ["b"]:
            raise RuntimeError("planted bug\nsecond line")
        return batch

    writer = StoreWriter(write)
    assert writer.submit(["a"]) and writer.submit(["b"])
    writer.thread.join(10)
    assert not writer.submit(["c"])  # dead: kept, not handed to anyone
    assert not writer.close()
    assert writer.failure == "RuntimeError: planted bug"
    assert writer.results() == [["a"]] and writer.lost() == [["b"], ["c"]]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_dead_writer_counts_what_it_did_not_commit_and_says_why(fresh_db, db_url, monkeypatch, caplog):
    store_batch = StorePipeline._store
    calls = []

    def store_then_die(self, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("planted bug")
        return store_batch(self, items)

    monkeypatch.setattr(StorePipeline, "_store", store_then_die)
    store = pipeline(db_url, batch=2)
    with caplog.at_level(logging.ERROR):
        for n in range(1, 7):
            store.process_item(record(str(n), f"h{n}"))
        store.close_spider()
    assert set(rows(fresh_db)) == {"1", "2"}  # the first batch only
    stats = store.crawler.stats
    assert stats.get_value("fotofecha/records/new") == 2
    assert (stats.get_value("fotofecha/not_stored"), stats.get_value("fotofecha/failed/record_not_stored")) == (4, 4)
    reason = ("the database writer stopped (RuntimeError: planted bug): what it had not committed is not stored. "
              "Rerun the same command: it stores them again.")
    assert stats.get_value(STORE_FAILED_STAT) == reason
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"The store cannot go on: {reason}"]


@pytest.mark.backends("sqlite", "postgresql")
def test_the_stats_of_a_batch_reach_the_crawl_only_on_the_thread_that_runs_it(fresh_db, db_url):
    store = pipeline(db_url, batch=2)
    stats = store.crawler.stats = ThreadNotingStats(store.crawler.stats)
    for n in range(1, 6):
        store.process_item(record(str(n), f"h{n}"))
    store.close_spider()
    assert set(rows(fresh_db)) == {"1", "2", "3", "4", "5"} and stats.get_value("fotofecha/records/new") == 5
    assert stats.threads == {threading.current_thread().name}


@pytest.fixture
def refusing_db(tmp_path, replica_archive):
    """An SQLite file whose records table refuses the list's last page (OAI pages of 20: records 40-59)."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    refused = [r.source_id for r in replica_archive.records[52:60]]
    engine = make_engine(db_url)
    refuse_records(engine, refused)
    yield db_url, engine, refused
    engine.dispose()


def test_a_harvest_whose_last_batch_the_writer_could_not_commit_is_not_complete(refusing_db, tmp_path,
                                                                                replica_archive):
    """The last page is written by the writer while the spider closes: its loss must still be counted before the
    spider decides whether the harvest is complete (close_spider drains the writer first)."""
    db_url, engine, refused = refusing_db
    with ReplicaServer(replica_archive, oai_faults=False, oai_page_size=20) as server:
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == not_stored_line(len(refused))
        assert harvests(db_url) == 0  # `from` did not advance
        assert not set(refused) & set(source_ids(db_url))
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse"))
        rerun = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert rerun.exit_code == 0, rerun.output
        assert f"records: {len(refused)} new" in rerun.output
    assert source_ids(db_url) == sorted(r.source_id for r in replica_archive.records)
    assert harvests(db_url) == 1


def test_a_dead_writer_stops_the_harvest_with_one_reason_and_the_rerun_stores_everything(tmp_path, replica_archive,
                                                                                          monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    store_batch = StorePipeline._store

    def die(self, items):
        raise RuntimeError("planted bug")

    with ReplicaServer(replica_archive, oai_faults=False, oai_page_size=20) as server:
        monkeypatch.setattr(StorePipeline, "_store", die)
        result = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines()[-1] == (
            "Error: The harvest is not complete: the database writer stopped (RuntimeError: planted bug): what it "
            "had not committed is not stored. Rerun the same command: it stores them again.")
        assert harvests(db_url) == 0 and source_ids(db_url) == []
        monkeypatch.setattr(StorePipeline, "_store", store_batch)
        rerun = crawl_cli(f"{server.base_url}/oai", db_url, tmp_path / "images")
        assert rerun.exit_code == 0, rerun.output
    assert source_ids(db_url) == sorted(r.source_id for r in replica_archive.records)
    assert harvests(db_url) == 1
