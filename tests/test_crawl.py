"""The harvester over real HTTP against the replica archive: values, bytes, faults, increments."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.extract import normalize_label
from crawler.profile import load_profile
from crawler.run import CrawlConfig, run_crawl
from db.models import CrawlRun, Image, Page, Record
from db.session import make_engine, session_scope

LABEL_TO_FIELD = {normalize_label(label): name for label, name in load_profile("replica").labels.items()}
IMAGE_FAULTS = {"image_404": "image_http_404", "image_html": "image_not_an_image", "image_truncated": "image_truncated"}


def crawl(server, db_url: str, images_dir: Path, **options):
    """A crawl of the replica with politeness off (it is our own server on loopback)."""
    config = CrawlConfig(profile="replica", start_url=server.base_url, db_url=db_url, images_dir=str(images_dir),
                         concurrency=8, delay=0.0, autothrottle=False, progress=False, **options)
    return run_crawl(config)


def record_paths(archive) -> set[str]:
    return {r.listed_path for r in archive.records} | {r.page_path for r in archive.records}


def image_paths(archive) -> set[str]:
    return {r.image_path for r in archive.records}


@pytest.fixture(scope="module")
def first_crawl(tmp_path_factory, replica_archive):
    """One full crawl of a fresh replica, shared by the assertions below."""
    from crawler.replica import ReplicaServer

    tmp = tmp_path_factory.mktemp("crawl")
    db_url = f"sqlite:///{tmp / 'archive.db'}"
    with ReplicaServer(replica_archive) as server:
        summary = crawl(server, db_url, tmp / "images")
        yield {"summary": summary, "server": server, "db_url": db_url, "images": tmp / "images",
               "hits": server.hits, "log": server.request_log}


@pytest.fixture(scope="module")
def stored(first_crawl):
    engine = make_engine(first_crawl["db_url"])
    with session_scope(engine) as session:
        records = {r.source_id: r for r in session.scalars(select(Record))}
        images = {i.record.source_id: i for i in session.scalars(select(Image))}
        pages = {p.url: p for p in session.scalars(select(Page))}
        runs = list(session.scalars(select(CrawlRun)))
    engine.dispose()
    return {"records": records, "images": images, "pages": pages, "runs": runs}


def test_every_good_record_has_exactly_the_served_fields(first_crawl, stored, replica_archive):
    base = first_crawl["server"].base_url
    fetched = [r for r in replica_archive.records if "robots_disallowed" not in r.faults]
    assert set(stored["records"]) == {r.source_id for r in fetched}
    for truth in fetched:
        record = stored["records"][truth.source_id]
        served = {LABEL_TO_FIELD[normalize_label(label)]: value for label, value in truth.fields.items()}
        for name in ("source_id", "title", "holder", "place", "description", "date_raw"):
            assert getattr(record, name) == served.get(name), (truth.source_id, name)
        assert record.date_raw == truth.date_raw
        assert record.source == "replica"
        assert record.page_url == base + truth.listed_path  # the listing's link, before any redirect
        assert record.image_url == base + truth.image_path
        assert record.content_hash and len(record.content_hash) == 64


def test_the_catalogue_is_stored_as_the_evidence_it_is(stored, replica_archive):
    # Holders, titles that name a date, and descriptions (mostly missing: a record without one is "ok").
    pairs = [(truth, stored["records"][truth.source_id]) for truth in replica_archive.records
             if truth.source_id in stored["records"]]
    holders = replica_archive.holders()
    for truth, record in pairs:
        if record.holder is not None:
            assert record.holder == truth.holder.name
            assert holders[record.holder].first_year <= truth.true_year <= holders[record.holder].last_year
    described = [record for _, record in pairs if record.description]
    assert 0 < len(described) < len(pairs) / 2
    assert any(r.status == "ok" and r.description is None for _, r in pairs)
    dated_titles = [(t, r) for t, r in pairs if t.text.title_date is not None]
    assert dated_titles and all(t.text.title_date in r.title for t, r in dated_titles)


def test_images_are_byte_identical(first_crawl, stored, replica_archive):
    images_dir = first_crawl["images"].absolute()
    good = [r for r in replica_archive.records if not set(r.faults) & {"robots_disallowed", *IMAGE_FAULTS}]
    assert len(good) > 40
    for truth in good:
        image = stored["images"][truth.source_id]
        expected = replica_archive.image_bytes(truth.source_id)
        sha = hashlib.sha256(expected).hexdigest()
        assert (image.status, image.error, image.sha256) == ("ok", None, sha), truth.source_id
        assert image.format == truth.image_format and image.bytes == len(expected)
        path = Path(image.path)
        assert path.is_absolute() and path == images_dir / sha[:2] / f"{sha}.{'png' if truth.image_format == 'PNG' else 'jpg'}"
        assert path.read_bytes() == expected
        assert (image.width, image.height) == truth.image_size
    assert not list(images_dir.glob("*/.*.part"))


def test_every_fault_is_a_row_with_its_reason(first_crawl, stored, replica_archive):
    base = first_crawl["server"].base_url
    summary = first_crawl["summary"]
    seen_faults = set()
    for truth in replica_archive.records:
        record = stored["records"].get(truth.source_id)
        for fault in truth.faults:
            seen_faults.add(fault)
            if fault == "robots_disallowed":
                page = stored["pages"][base + truth.listed_path]
                assert (page.kind, page.status) == ("record", "failed")
                assert page.error.startswith("page_robots_disallowed: ")
                assert record is None
            elif fault in IMAGE_FAULTS:
                image = stored["images"][truth.source_id]
                assert image.status == "failed" and image.error.startswith(IMAGE_FAULTS[fault] + ": ")
                assert image.path is None and image.sha256 is None
            elif fault == "missing_fields":
                absent = {"title", "holder", "place", "date_raw"} - {  # required ones: a description is not
                    LABEL_TO_FIELD[normalize_label(label)] for label in truth.fields
                }
                assert record.status == "incomplete"
                assert record.error.startswith("record_missing_fields: ") and all(n in record.error for n in absent)
            elif fault == "unparseable_date":
                assert (record.status, record.year, record.date_precision) == ("incomplete", None, "unknown")
                assert record.error == f"record_date_not_understood: {truth.date_raw!r} gives no year"
            elif fault == "no_date":
                assert (record.status, record.year) == ("incomplete", None)
                assert record.error.startswith(("record_undated: ", "record_missing_fields: date_raw"))
            else:  # transient 500, 429 and redirect heal: the record is stored whole
                assert fault in {"page_500_transient", "page_429", "redirect"}
                assert record.status == "ok" and record.error is None
    assert seen_faults >= {"robots_disallowed", "image_404", "image_html", "image_truncated", "missing_fields",
                           "unparseable_date", "page_500_transient", "page_429", "redirect"}
    expected_failed = {"page_robots_disallowed": 1, "image_http_404": 1, "image_not_an_image": 1, "image_truncated": 1}
    assert {k: v for k, v in summary.failed.items() if k in expected_failed} == expected_failed
    assert summary.robots_disallowed == 1 and summary.internal_errors == 0
    assert summary.new == len(stored["records"]) and summary.updated == summary.unchanged == summary.skipped == 0
    ok_statuses = {r.status for r in stored["records"].values() if r.status != "incomplete"}
    assert ok_statuses == {"ok"}


def test_dates_are_parsed(stored):
    from db.dates import parse_date

    ranges = 0
    for record in stored["records"].values():
        estimate = parse_date(record.date_raw)
        assert (record.year, record.year_min, record.year_max, record.date_precision) == (
            estimate.year, estimate.year_min, estimate.year_max, estimate.precision)
        ranges += record.year_min != record.year_max
    assert ranges > 5


def test_listing_pages_and_run_row(first_crawl, stored):
    base = first_crawl["server"].base_url
    listings = {url for url, p in stored["pages"].items() if p.kind == "listing" and p.status == "ok"}
    assert listings == {f"{base}/fotos", f"{base}/fotos?pagina=2", f"{base}/fotos?pagina=3"}
    (run,) = stored["runs"]
    assert run.status == "finished" and run.finished_at is not None and run.profile == "replica"
    stats = json.loads(run.stats)
    assert stats["new"] == first_crawl["summary"].new and stats["failed"]["image_truncated"] == 1


def test_robots_txt_is_obeyed(first_crawl, replica_archive):
    hits = first_crawl["hits"]
    assert hits["/robots.txt"] >= 1
    assert not [path for path in hits if path.startswith("/privado/")]


def test_retry_after_delays_the_retry(first_crawl, replica_archive):
    (truth,) = [r for r in replica_archive.records if "page_429" in r.faults]
    requests = [(t, status) for t, path, status in first_crawl["log"] if path == truth.listed_path]
    assert [status for _, status in requests] == [429, 200]
    assert requests[1][0] - requests[0][0] >= 1.0  # Retry-After: 1


def test_transient_500_is_retried(first_crawl, replica_archive):
    (truth,) = [r for r in replica_archive.records if "page_500_transient" in r.faults]
    statuses = [status for _, path, status in first_crawl["log"] if path == truth.listed_path]
    assert statuses == [500, 500, 200]


@pytest.mark.backends("sqlite", "postgresql")
def test_second_crawl_fetches_nothing_stored_complete_and_refresh_fetches_all(db_url, tmp_path, replica, replica_archive):
    first = crawl(replica, db_url, tmp_path / "images")
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        failed_images = {i.record.source_id for i in session.scalars(select(Image).where(Image.status != "ok"))}
    engine.dispose()
    complete = [r for r in replica_archive.records if r.source_id not in failed_images and "robots_disallowed" not in r.faults]

    replica.reset_hits()
    second = crawl(replica, db_url, tmp_path / "images")
    hits = replica.hits
    for truth in complete:
        assert hits[truth.listed_path] == 0 and hits[truth.page_path] == 0 and hits[truth.image_path] == 0, truth.source_id
    assert hits["/fotos"] == 1 and hits["/fotos?pagina=3"] == 1  # listings are walked again
    assert second.new == 0 and second.skipped == len(complete)
    # records whose image failed are fetched again (a fault may heal) and found unchanged
    assert second.unchanged == len(failed_images) == 3 and second.updated == 0

    # Pretend the archive edited two records since: a refresh must see them as updated.
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        for source_id in ("LRM-000001", "LRM-000002"):
            record = session.scalars(select(Record).where(Record.source_id == source_id)).one()
            record.title, record.content_hash = "stale title", "0" * 64
    engine.dispose()
    replica.reset_hits()
    third = crawl(replica, db_url, tmp_path / "images", refresh=True)
    hits = replica.hits
    fetched = [r for r in replica_archive.records if "robots_disallowed" not in r.faults]
    assert all(hits[r.listed_path] >= 1 for r in fetched)
    assert all(hits[r.image_path] >= 1 for r in fetched)
    assert (third.new, third.updated, third.unchanged, third.skipped) == (0, 2, first.new - 2, 0)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        record = session.scalars(select(Record).where(Record.source_id == "LRM-000001")).one()
        served = replica_archive.record("LRM-000001").fields
        assert record.title == next(v for k, v in served.items() if LABEL_TO_FIELD[normalize_label(k)] == "title")
        assert session.query(Record).count() == len(fetched)
    engine.dispose()


@pytest.mark.backends("sqlite", "postgresql")
def test_limit_stops_early_and_the_next_run_continues(db_url, tmp_path, replica):
    first = crawl(replica, db_url, tmp_path / "images", limit=10)
    assert first.new == 10 and first.listing_pages == 1
    second = crawl(replica, db_url, tmp_path / "images", limit=10)
    # LRM-000008's image is a 404: not complete, so fetched again (and counted against the limit)
    assert (second.new, second.unchanged, second.skipped) == (9, 1, 9)


def test_a_page_the_spider_cannot_parse_is_a_failed_row(tmp_path, replica, replica_archive, monkeypatch):
    # One record per listing page, and an extractor that raises on every page.
    import dataclasses

    import crawler.run as crawl_run

    profile = load_profile("replica")
    bad = dataclasses.replace(profile, record_links="xpath://li[@class='resultado'][1]/a/@href")
    monkeypatch.setattr(crawl_run, "load_profile", lambda name: bad)
    monkeypatch.setattr("crawler.spiders.archive.extract_fields",
                        lambda *a, **k: (_ for _ in ()).throw(ValueError("markup not understood")))
    summary = crawl(replica, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images")
    assert summary.failed == {"page_parse_error": 3} and summary.internal_errors == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with session_scope(engine) as session:
        pages = session.scalars(select(Page).where(Page.kind == "record").order_by(Page.url)).all()
        assert pages[0].status == "failed" and pages[0].url == replica.base_url + replica_archive.records[0].listed_path
        assert all(p.error.startswith("page_parse_error: ValueError: markup not understood") for p in pages)
        assert len(pages) == 3 and session.query(Record).count() == 0
    engine.dispose()


def test_settings_are_polite_by_default_and_follow_the_config(tmp_path):
    from crawler.run import crawl_settings

    polite = crawl_settings(CrawlConfig(), "sqlite://", tmp_path, run_id=1)
    assert polite.getbool("ROBOTSTXT_OBEY") and polite.getbool("AUTOTHROTTLE_ENABLED")
    assert polite.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2 and polite.getfloat("DOWNLOAD_DELAY") >= 1.0
    assert "contact:" in polite.get("USER_AGENT") and "fotofecha" in polite.get("USER_AGENT")
    assert polite.getdict("DOWNLOADER_MIDDLEWARES")["crawler.middlewares.retry_after.RetryAfterMiddleware"] > 550
    # the order Scrapy's ItemPipelineManager will run them in, from the same helper it uses
    from scrapy.utils.conf import build_component_list

    assert build_component_list(polite.getwithbase("ITEM_PIPELINES")) == [
        "crawler.pipelines.dates.DatePipeline", "crawler.pipelines.validate.ValidatePipeline",
        "crawler.pipelines.images.ImageDownloadPipeline", "crawler.pipelines.store.StorePipeline"]
    fast = crawl_settings(CrawlConfig(concurrency=8, delay=0.0, autothrottle=False), "sqlite://", tmp_path, run_id=2)
    assert not fast.getbool("AUTOTHROTTLE_ENABLED") and fast.getfloat("DOWNLOAD_DELAY") == 0.0
    assert fast.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 8 and fast.getint("FOTOFECHA_RUN_ID") == 2
