"""A ListRecords page as one RecordBatch: what the spider yields and in which order, the pipelines
treating each part as the item alone, the store replaying a refused batch item by item, and the
fast paths (parsing, content hashes, normalised Dublin Core) giving what the slow ones gave."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
import scrapy
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from crawler.items import DeletedItem, PageItem, RecordBatch, RecordItem, record_item
from crawler.oai import parse_list
from crawler.pipelines.dates import DatePipeline
from crawler.pipelines.store import StorePipeline
from crawler.pipelines.validate import HASHED_FIELDS, ValidatePipeline, content_hash
from crawler.spiders.oai import OaiSpider
from db.models import Page, Record
from db.session import session_scope
from tests.oai_hostile import envelope, records_page


def spider_for(db_url: str = "sqlite://", batch: int = 200) -> OaiSpider:
    crawler = get_crawler(OaiSpider, {"FOTOFECHA_DB_URL": db_url, "FOTOFECHA_STORE_BATCH": batch,
                                      "FOTOFECHA_STORE_BATCH_S": 60})
    spider = OaiSpider.from_crawler(crawler, profile="replica", endpoint="http://127.0.0.1:9/oai")
    crawler.spider = spider
    return spider


def list_response(body: bytes, url: str = "http://127.0.0.1:9/oai?verb=ListRecords&metadataPrefix=oai_dc"):
    return TextResponse(url, body=body, headers={"Content-Type": "text/xml"},
                        request=scrapy.Request(url, meta={"oai_token": None}))


def test_a_page_is_one_batch_and_the_next_page_is_asked_for_first():
    spider = spider_for()
    outputs = list(spider.parse_records(list_response(envelope(records_page(range(1, 4), "T2", 6)))))
    assert [type(output).__name__ for output in outputs] == ["Request", "RecordBatch"]
    request, batch = outputs
    assert request.url.endswith("verb=ListRecords&resumptionToken=T2")
    parts = batch["items"]
    # records with no picture to fetch are plain dicts (ListedRecord), not Scrapy items
    assert [type(part).__name__ for part in parts] == ["ListedRecord"] * 3 + ["PageItem"]
    assert [part["source_id"] for part in parts[:3]] == ["LRM-000001", "LRM-000002", "LRM-000003"]
    assert parts[3]["kind"] == "listing" and parts[3]["status"] == "ok"
    # the counters a page used to add record by record, added once
    assert spider.crawler.stats.get_value("fotofecha/oai/listed") == 3


def test_the_next_page_is_asked_for_before_the_items_are_built_and_a_page_lost_after_it_leaves_the_harvest_unfinished():
    spider = spider_for()

    def broken(record, **options):
        raise ValueError("a bug in mapping this record")

    spider._record_item = broken
    outputs = spider.parse_records(list_response(envelope(records_page(range(1, 4), "T2", 6))))
    request = next(outputs)  # before any item is built: the repository prepares the next page meanwhile
    assert isinstance(request, scrapy.Request) and request.url.endswith("resumptionToken=T2")
    with pytest.raises(ValueError):
        next(outputs)
    # the list goes on, but this page's records are lost: the harvest must not become the next one's `from`
    assert spider.list_broken and spider._unfinished() is not None


def test_records_with_a_picture_go_alone_and_a_withdrawn_one_stays_in_the_batch():
    picture = ('<record><header><identifier>oai:replica.larioja:P-1</identifier><datestamp>2024-01-01</datestamp>'
               '</header><metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
               'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Con foto</dc:title>'
               "<dc:identifier>http://127.0.0.1:9/media/p1.jpg</dc:identifier></oai_dc:dc></metadata></record>")
    deleted = ('<record><header status="deleted"><identifier>oai:replica.larioja:D-1</identifier>'
               "<datestamp>2024-01-02</datestamp></header></record>")
    body = envelope(f"<ListRecords>{picture}{deleted}</ListRecords>")
    spider = spider_for()
    outputs = list(spider.parse_records(list_response(body)))
    batch, alone = outputs  # the last page: no request
    assert [type(part).__name__ for part in batch["items"]] == ["DeletedItem", "PageItem"]
    assert isinstance(alone, RecordItem) and alone["image_url"] == "http://127.0.0.1:9/media/p1.jpg"
    assert spider.list_complete


def test_the_pipelines_treat_each_part_of_a_batch_as_the_item_alone():
    spider = spider_for()
    alone, inside = (record_item({"source": "replica", "source_id": "A", "title": "Plaza", "date_raw": "hacia 1950"})
                     for _ in range(2))
    page = PageItem(url="http://h/l", kind="listing", status="ok", http_status=200, seen_urls=[])
    batch = RecordBatch(items=[inside, page])
    for pipeline in (DatePipeline(), ValidatePipeline(spider.crawler)):
        assert pipeline.process_item(alone) is alone
        assert pipeline.process_item(batch) is batch
    assert dict(inside) == dict(alone)
    assert (inside["year"], inside["content_hash"]) == (1950, content_hash(alone))
    assert inside["status"] == "incomplete" and inside["reasons"] == ["record_missing_fields"]  # no holder or place
    assert dict(page) == {"url": "http://h/l", "kind": "listing", "status": "ok", "http_status": 200, "seen_urls": []}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_batch_the_database_refuses_is_stored_part_by_part(fresh_db, db_url, caplog):
    spider = spider_for(db_url, batch=1)  # even unbatched, a page's parts share one transaction first
    store = StorePipeline.from_crawler(spider.crawler)
    store.open_spider()

    def ready(source_id: str | None) -> RecordItem:
        item = record_item({"source": "replica", "source_id": source_id, "title": f"t{source_id}"})
        item.update(status="ok", error=None, reasons=[], content_hash=f"h{source_id}", date_precision="unknown")
        return item

    bad = ready("2")
    bad["source_id"] = None  # NOT NULL: the database refuses it, and the batch's transaction with it
    parts = [ready("1"), bad, DeletedItem(source="replica", source_id="9", datestamp="2024-01-01"),
             PageItem(url="http://h/l?page=1", kind="listing", status="ok", http_status=200, seen_urls=[]), ready("3")]
    with caplog.at_level(logging.WARNING):
        assert store.process_item(RecordBatch(items=parts)) is not None
    store.close_spider()
    with session_scope(fresh_db) as session:
        assert sorted(session.scalars(select(Record.source_id))) == ["1", "3"]
        assert list(session.scalars(select(Page.url))) == ["http://h/l?page=1"]
    stats = spider.crawler.stats
    assert stats.get_value("fotofecha/records/new") == 2
    assert stats.get_value("fotofecha/not_stored") == 1  # the harvest is then not complete (exit 1)
    assert stats.get_value("fotofecha/records/deleted_unseen") == 1
    assert any("refused a batch of 5 items" in r.getMessage() for r in caplog.records)


def test_a_batch_an_earlier_pipeline_failed_on_counts_every_part_as_not_stored():
    from scrapy import signals
    from twisted.python.failure import Failure

    spider = spider_for()
    store = StorePipeline.from_crawler(spider.crawler)  # connects to item_error (held weakly: keep it)
    try:
        raise OSError(28, "No space left on device")
    except OSError:
        failure = Failure()
    batch = RecordBatch(items=[record_item({"source": "replica", "source_id": "1"}),
                               PageItem(url="http://h/l", kind="listing", status="ok")])
    spider.crawler.signals.send_catch_log(signal=signals.item_error, item=batch, response=None, spider=spider,
                                          failure=failure)
    stats = spider.crawler.stats
    assert store.held == [] and stats.get_value("fotofecha/not_stored") == 2
    assert (stats.get_value("fotofecha/failed/record_not_stored"), stats.get_value("fotofecha/failed/page_not_stored")) == (1, 1)


def test_content_hash_is_the_sha256_of_the_sorted_json_of_the_fields():
    """Stored hashes stay valid: the formula written out by hand, and one value pinned."""
    item = RecordItem(source="s", source_id="LRM-1", title="Frontón de Nájera", date_raw="años 50",
                      page_url="http://h/1", year=1950)
    by_hand = hashlib.sha256(json.dumps({name: item.get(name) for name in HASHED_FIELDS}, sort_keys=True,
                                        ensure_ascii=False).encode("utf-8")).hexdigest()
    assert content_hash(item) == by_hand
    assert content_hash({"source_id": "1"}) == "3005af0a3f041e91a27f450b494522092b49b7e7fae5328101cd8e9562ec7927"


def test_normalised_dublin_core_loads_as_the_cleaning_path_does():
    values = {"source": "s", "source_id": "A-1", "title": "Plaza Mayor", "holder": "", "place": None,
              "page_url": "http://h/a b", "image_url": "", "image_via": None}
    assert dict(record_item(values, normalised=True)) == dict(record_item(values)) == {
        "source": "s", "source_id": "A-1", "title": "Plaza Mayor", "page_url": "http://h/a b", "image_url": ""}


def test_the_header_is_read_first_element_first_and_a_bare_header_too():
    body = envelope(
        "<ListRecords><record><header><identifier> oai:x:1 </identifier><identifier>oai:x:other</identifier>"
        "<datestamp>2024-01-01</datestamp><setSpec> a </setSpec><setSpec/><setSpec>b</setSpec></header>"
        '<metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title xml:lang=" Es-ES ">Plaza</dc:title>'
        "<dc:title>Square</dc:title><dc:subject>  </dc:subject></oai_dc:dc></metadata></record></ListRecords>")
    (record,) = parse_list(body).records
    assert (record.identifier, record.datestamp, record.set_specs, record.deleted) == ("oai:x:1", "2024-01-01",
                                                                                       ("a", "b"), False)
    assert record.dc == {"title": [("Plaza", "es-es"), ("Square", "")]}
    headers = parse_list(envelope('<ListIdentifiers><header status="deleted"><identifier>oai:x:2</identifier>'
                                  "<datestamp>2024-01-02</datestamp></header></ListIdentifiers>")).records
    assert [(h.identifier, h.deleted, h.dc) for h in headers] == [("oai:x:2", True, {})]


@pytest.mark.parametrize("value", ["http://h/x", "HTTPS://h", "https://h?q", "http://", "http:///x", "http:/h",
                                   "https:h", "ftp://h/x", "LRM-000001", "http://?q", "http://#f", "httpx://h", ""])
def test_is_http_agrees_with_urlsplit(value):
    from urllib.parse import urlsplit

    from crawler.dublincore import _is_http

    parts = urlsplit(value)
    assert _is_http(value) == (parts.scheme in ("http", "https") and bool(parts.netloc))


@pytest.mark.parametrize("value", ["http://h/x", "HTTPS://h", "https://h?q", "http://h/a/B.JPG?x=/y.png#z",
                                   "http://h#f/x.jpg", "http://h?x/info.json", "https://h:80/iiif/1/manifest",
                                   "http://u:p@h/a/info.json", "http://h/a b/c.tif", "http://h//x.jpg;p=1"])
def test_the_http_path_shortcut_agrees_with_urlsplit(value):
    from urllib.parse import urlsplit

    from crawler.dublincore import _HTTP_PATH, _links, image_kind

    assert _HTTP_PATH.match(value).group(1) == urlsplit(value).path
    assert _links({"identifier": [(value, "")]}) == {value: image_kind(value)}


def test_the_date_cache_holds_a_large_harvests_phrasings():
    from db.dates import parse_date

    # a 20,000-record harvest of the replica reads ~9,000 distinct date and coverage values, each up to four
    # times: with fewer entries they push each other out and every read parses again (~20 us each)
    assert parse_date.cache_info().maxsize >= 20_000


def test_content_hash_writes_what_json_dumps_writes_for_every_kind_of_value():
    """The payload is put together field by field (no dict per record): quotes, backslashes, control characters,
    non-ASCII and non-text values hash as json.dumps(sort_keys=True, ensure_ascii=False) writes them."""
    odd = ['"quoted" \\ back', "tab\tnew\nline\x00\x1f", "Nájera — «ñ» 𝄞", "", " ", 7, 1.5, True, ["a"]]
    for value in odd:
        for name in HASHED_FIELDS:
            item = {"source_id": "LRM-1", "title": "Plaza", name: value}
            by_hand = hashlib.sha256(json.dumps({field: item.get(field) for field in HASHED_FIELDS}, sort_keys=True,
                                                ensure_ascii=False).encode("utf-8")).hexdigest()
            assert content_hash(item) == by_hand, (name, value)


def _spider_middlewares(spider_class) -> set[str]:
    """The spider middlewares a crawl with crawler/settings.py runs for `spider_class`, by class name."""
    from scrapy.settings import Settings
    from scrapy.utils.conf import build_component_list

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    spider_class.update_settings(settings)
    return {(path if isinstance(path, str) else path.__name__).rpartition(".")[2]
            for path in build_component_list(settings.getwithbase("SPIDER_MIDDLEWARES"))}


def test_an_oai_crawl_leaves_out_the_spider_middlewares_a_list_does_not_need_and_an_html_crawl_keeps_them():
    from crawler.spiders.archive import ArchiveSpider

    oai = _spider_middlewares(OaiSpider)
    assert {"StartSpiderMiddleware", "HttpErrorMiddleware", "ParseErrorMiddleware"} <= oai
    assert not oai & {"RefererMiddleware", "UrlLengthMiddleware", "DepthMiddleware", "MetaCopyDetectionMiddleware"}
    html = _spider_middlewares(ArchiveSpider)
    assert {"RefererMiddleware", "UrlLengthMiddleware", "DepthMiddleware", "ParseErrorMiddleware"} <= html


def test_what_start_up_left_is_frozen_for_the_harvest_and_collectable_again_after_it(tmp_path):
    import asyncio
    import gc

    from crawler.spiders.oai_tuning import GC_YOUNG

    spider = spider_for(f"sqlite:///{tmp_path / 'archive.db'}")
    before = gc.get_threshold()

    async def first_request():
        return await anext(spider.start())

    try:
        assert isinstance(asyncio.run(first_request()), scrapy.Request)
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == (GC_YOUNG, *before[1:])
    finally:
        spider.closed("shutdown")
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_a_list_page_parsed_for_the_elements_dc_fields_reads_maps_to_the_same_fields():
    """The spider parses only the DC elements its holder setting and dc_fields read: same fields, fewer elements."""
    from pathlib import Path

    from crawler.dublincore import dc_fields, elements_read

    data = Path(__file__).parent / "data" / "oai"
    bodies = [(data / name).read_bytes() for name in ("dspace_listrecords.xml", "omeka_listrecords_latin1.xml",
                                                       "atom_listrecords.xml")]
    bodies.append(envelope(records_page(range(1, 40), "T2", 80)))
    compared = 0
    for holder in ("rights", ("creator", "contributor"), ("publisher", "rights"), "subject"):
        wanted = elements_read(holder)
        for body in bodies:
            whole, read = parse_list(body).records, parse_list(body, wanted).records
            assert len(whole) == len(read)
            for full, partial in zip(whole, read, strict=True):
                assert set(partial.dc) <= wanted and set(partial.dc) == set(full.dc) & wanted
                assert dc_fields(partial, holder, "oai:") == dc_fields(full, holder, "oai:")
                compared += 1
    assert compared > 150
