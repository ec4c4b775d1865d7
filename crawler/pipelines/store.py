"""Write items to the database, one transaction per item (or per batch of items).

A record, its image row and the removal of a stale failed-page row commit together or not
at all, so a crawl killed at any moment leaves either the whole item or none of it: the
rerun fetches what is missing and the database ends as if never interrupted.
Items come one by one (the HTML crawl) or a list page at a time (the OAI-PMH spider's
RecordBatch, whose parts are stored exactly as if they had come one by one, in their order).
With FOTOFECHA_STORE_BATCH > 1 (the OAI-PMH spider, which lists thousands of records a
second) items are held and written together, in the order they came, in one transaction
every that many items or FOTOFECHA_STORE_BATCH_S seconds and at the end, by a writer thread
(crawler/pipelines/writer.py) while the reactor parses the next pages: the batches in order, what they
gave (counters, log lines) applied to the crawl on the reactor, and close_spider waits for the last
commit, so the spider decides whether the harvest is complete on final counts. A writer that dies
stops the crawl (STORE_FAILED_STAT says why) and what it did not commit counts as not stored. A run of records
then costs a few set-based statements (one SELECT of what is stored, one INSERT or UPDATE
each for the records and their images) instead of an ORM round per record. A batch the
database refuses is written again item by item, each in its own transaction, so one failing
item fails alone. A kill loses at most the batches not yet committed, and the rerun stores them again.
Counts new/updated/unchanged records (via content_hash and the image's sha256) in the stats.

An item that never reaches the database (the database refused it, or an earlier pipeline raised:
a full disk, a restarted server) cannot be a row, so it is counted instead: NOT_STORED_STAT and
fotofecha/failed/<kind>_not_stored. The OAI spider then keeps the harvest incomplete (its `from`
does not advance) and run.py says so and exits 1, so the rerun lists those records again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import SQLAlchemyError

from crawler.items import (
    RECORD_TYPES,
    DeletedItem,
    ListedRecord,
    PageItem,
    RecordBatch,
    RecordItem,
    batch_parts,
)
from crawler.pipelines.sql import IMAGE_COLUMNS, PAGES, RECORD_COLUMNS, RECORDS, sql_for
from crawler.pipelines.writer import StoreWriter
from db.estimates import refresh_estimates
from db.models import utcnow
from db.session import make_engine

logger = logging.getLogger(__name__)

# Values per IN (...) list: under SQLite's oldest limit of 999 bound parameters.
IN_CHUNK = 500
# Items (records, deletions, page rows) that reached no row this run: a harvest with any is not complete.
NOT_STORED_STAT = "fotofecha/not_stored"
# Why the store stopped the crawl (its writer thread died), one line; the OAI harvest is then not complete.
STORE_FAILED_STAT = "fotofecha/store/failed"
# Seconds the reactor waited for the writer thread in all (it runs at most writer.MAX_PENDING batches behind).
WAITED_STAT = "fotofecha/store/waited_s"
# The items this pipeline writes (a RecordBatch is taken apart into these).
STORED_TYPES = (*RECORD_TYPES, PageItem, DeletedItem)


def _image_state(image: tuple | dict | None) -> tuple | None:
    """(url, status, sha256, error) of a stored image row (see _ImageRow) or of an item's image dict."""
    if image is None:
        return None
    if isinstance(image, dict):
        return (image.get("url"), image.get("status"), image.get("sha256"), image.get("error"))
    return image[2:6]


def _chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# A stored record row: (id, source, source_id, content_hash, status); an image row: (id, record_id, url,
# status, sha256, error).
_RecordRow = tuple
_ImageRow = tuple


def _stored(connection: Connection, keys: Sequence[tuple[str, str]]) -> tuple[dict, dict[int, list[_ImageRow]]]:
    """What is stored for these (source, source_id) keys: {key: record row}, {record id: image rows by id}."""
    sql, cursor = sql_for(connection), connection.connection.cursor()
    try:
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, source_id in keys:
            by_source[source].append(source_id)
        records: dict[tuple[str, str], _RecordRow] = {}
        for source, source_ids in by_source.items():
            for chunk in _chunks(source_ids):
                query = (f"SELECT id, source, source_id, content_hash, status FROM records "
                         f"WHERE source = {sql.mark} AND source_id IN ({sql.marks(len(chunk))})")
                records.update(((row[1], row[2]), row) for row in sql.run(cursor, query, (source, *chunk)))
        images: dict[int, list[_ImageRow]] = defaultdict(list)
        for chunk in _chunks([row[0] for row in records.values()]):
            query = (f"SELECT id, record_id, url, status, sha256, error FROM images "
                     f"WHERE record_id IN ({sql.marks(len(chunk))}) ORDER BY id")
            for row in sql.run(cursor, query, tuple(chunk)):
                images[row[1]].append(row)
    finally:
        cursor.close()
    return records, images


def write_records(connection: Connection, items: Sequence[RecordItem], failed_pages: set[str]) -> list[str]:
    """Upsert records and their images, keyed (source, source_id), unique within `items`.

    Returns new | updated | unchanged per item. Image rows the record no longer shows are deleted;
    the current one is updated in place (curation tables reference its id). A stored failed-page
    row for a record's page_url is deleted: the page yielded a record, so the failure is history.
    """
    sql = sql_for(connection)
    now = sql.value("records", "last_seen", utcnow())
    keys = [(item["source"], item["source_id"]) for item in items]
    stored, stored_images = _stored(connection, keys)
    outcomes: list[str] = []
    new_rows, updated_rows, image_updates, stale_image_ids, changed_ids = [], [], [], [], []
    image_inserts: list[tuple[tuple[str, str], dict]] = []  # (record key, image) for rows not stored yet
    convert, record_row, image_row = sql.convert, sql.record_row, sql.image_row
    for key, item in zip(keys, items, strict=True):
        # A plain dict as it is, a Scrapy item copied once: then C-level lookups (this runs for every record)
        present = item if item.__class__ is ListedRecord else dict(item)
        get = present.get
        image = get("image")
        values = convert(list(map(get, RECORD_COLUMNS)), record_row)
        row, kept = stored.get(key), None
        if row is None:
            new_rows.append((*key, *values, now, now))
            outcomes.append("new")
        else:
            images = stored_images.get(row[0], [])
            before = (row[3], row[4], [_image_state(i) for i in images])
            after = (present["content_hash"], present["status"], [_image_state(image)] if image else [])
            outcomes.append("unchanged" if before == after else "updated")
            if before != after:
                changed_ids.append(row[0])
            updated_rows.append((*values, now, row[0]))
            kept = next((i for i in images if image is not None and i[2] == image["url"]), None)
            stale_image_ids += [i[0] for i in images if i is not kept]
            if kept is not None:
                image_updates.append((*convert([image.get(c) for c in IMAGE_COLUMNS], image_row), kept[0]))
        if image is not None and kept is None:
            image_inserts.append((key, image))
    cursor = connection.connection.cursor()
    try:
        if new_rows:
            sql.run(cursor, sql.insert_record, new_rows, many=True)
        if updated_rows:
            sql.run(cursor, sql.update_record, updated_rows, many=True)
        for chunk in _chunks(stale_image_ids):
            sql.run(cursor, f"DELETE FROM images WHERE id IN ({sql.marks(len(chunk))})", tuple(chunk))
        if image_updates:
            sql.run(cursor, sql.update_image, image_updates, many=True)
        if image_inserts:
            record_ids = {key: row[0] for key, row in _stored(connection, [key for key, _ in image_inserts])[0].items()}
            sql.run(cursor, sql.insert_image, [
                (record_ids[key], image["url"], *convert([image.get(c) for c in IMAGE_COLUMNS], image_row))
                for key, image in image_inserts], many=True)
        succeeded_pages = [item.get("page_url") for item in items if item.get("page_url") in failed_pages]
        for chunk in _chunks(succeeded_pages):
            sql.run(cursor, f"DELETE FROM pages WHERE url IN ({sql.marks(len(chunk))})", tuple(chunk))
    finally:
        cursor.close()
    refresh_estimates(connection, changed_ids)  # a new date or image moves /records' order; unchanged rows keep theirs
    return outcomes


def mark_deleted(connection: Connection, item: DeletedItem) -> bool:
    """Status "deleted" on the stored record, its fields and images kept; False when none is stored."""
    result = connection.execute(
        update(RECORDS)
        .where(RECORDS.c.source == item["source"], RECORDS.c.source_id == item["source_id"])
        .values(status="deleted", last_seen=utcnow(),
                error=f"record_deleted: the repository withdrew it (datestamp {item['datestamp']})")
    )
    return result.rowcount > 0


def store_page(connection: Connection, item: PageItem, run_id: int | None, source: str) -> None:
    """Insert or update the page row; a listing's seen_urls mark the known records it shows as seen now.

    On the connection's cursor, as the records are (an OAI-PMH harvest stores a listing row per page)."""
    now = utcnow()
    sql = sql_for(connection)
    values = (item["kind"], item["status"], item.get("http_status"), item.get("error"), run_id,
              sql.value("pages", "fetched_at", now))
    cursor = connection.connection.cursor()
    try:
        sql.run(cursor, sql.update_page, (*values, item["url"]))
        if cursor.rowcount == 0:
            sql.run(cursor, sql.insert_page, (item["url"], *values))
    finally:
        cursor.close()
    seen = item.get("seen_urls")
    if seen:
        # Known records the listing still shows: seen now, not refetched.
        connection.execute(
            update(RECORDS).where(RECORDS.c.source == source, RECORDS.c.page_url.in_(seen)).values(last_seen=now)
        )


def _runs(items: list) -> Iterator[list]:
    """Items in order, consecutive records with distinct keys grouped (written together), others alone."""
    run: list[RecordItem] = []
    keys: set[tuple[str, str]] = set()
    for item in items:
        key = (item["source"], item["source_id"]) if isinstance(item, RECORD_TYPES) else None
        if run and (key is None or key in keys):
            yield run
            run, keys = [], set()
        if key is None:
            yield [item]
        else:
            run.append(item)
            keys.add(key)
    if run:
        yield run


@dataclass
class Stored:
    """What storing some items gave, for the crawl's stats and log: applied on the reactor (StorePipeline._apply)."""

    counts: Counter[str] = field(default_factory=Counter)  # stat -> how much to add
    logs: list[tuple[int, str, tuple, object]] = field(default_factory=list)  # (level, message, args, exc_info)

    def log(self, level: int, message: str, *args, exc_info: object = None) -> None:
        self.logs.append((level, message, args, exc_info))


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _count_not_stored(counts: Counter[str], item) -> None:
    if isinstance(item, STORED_TYPES):
        counts[NOT_STORED_STAT] += 1
        counts[f"fotofecha/failed/{'page' if isinstance(item, PageItem) else 'record'}_not_stored"] += 1


class StorePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.db_url = crawler.settings.get("FOTOFECHA_DB_URL")
        self.run_id = crawler.settings.getint("FOTOFECHA_RUN_ID") or None
        self.engine = None
        # Record pages stored as failed: the one DELETE per record that succeeds later is
        # issued only for these. Only the thread that writes touches it.
        self.failed_pages: set[str] = set()
        self.batch_size = max(1, crawler.settings.getint("FOTOFECHA_STORE_BATCH", 1))
        self.batch_seconds = crawler.settings.getfloat("FOTOFECHA_STORE_BATCH_S", 0.25)
        self.held: list = []  # items waiting for the batch's transaction when batch_size > 1
        self.held_since = 0.0
        # With batches (batch_size > 1), the thread that writes them: the reactor goes on meanwhile.
        self.writer: StoreWriter[Stored] | None = None
        self.writer_lost = False  # the writer died and what it had not stored is counted

    @classmethod
    def from_crawler(cls, crawler) -> StorePipeline:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.item_error, signal=signals.item_error)
        return pipeline

    def item_error(self, item, response, spider, failure) -> None:
        """An earlier pipeline raised on `item` (Scrapy logged it): it never reaches this one (nor a batch's parts)."""
        counts: Counter[str] = Counter()
        for part in batch_parts(item):
            _count_not_stored(counts, part)
        self._apply(Stored(counts))

    def open_spider(self) -> None:
        self.engine = make_engine(self.db_url)
        with self.engine.connect() as connection:
            query = select(PAGES.c.url).where(PAGES.c.kind == "record", PAGES.c.status == "failed")
            self.failed_pages = set(connection.scalars(query))
        if self.batch_size > 1:
            self.writer = StoreWriter(self._store)

    def close_spider(self) -> None:
        """Everything held is written and committed (the writer drained and joined) before this returns, so the
        spider's closed() reads final counts: a harvest records itself complete only after its last commit."""
        self._hand_over()
        if self.writer is not None:
            self.writer.close()
            self._collect(stop_crawl=False)  # it is closing already
            self.crawler.stats.set_value(WAITED_STAT, round(self.writer.waited_s, 3))
        if self.engine is not None:
            self.engine.dispose()

    def process_item(self, item):
        if self.writer is not None:
            self._collect()
        parts = [part for part in batch_parts(item) if isinstance(part, STORED_TYPES)]
        if not parts:
            return item
        if self.batch_size == 1 and not isinstance(item, RecordBatch):
            self._apply(self._store_each(parts))
            return item
        if not self.held:
            self.held_since = time.monotonic()
        self.held += parts  # a RecordBatch's parts are written as if they had come one by one
        if len(self.held) >= self.batch_size or time.monotonic() - self.held_since >= self.batch_seconds:
            self._hand_over()
        return item

    def _hand_over(self) -> None:
        """The held items to the writer (or written here without one)."""
        items, self.held = self.held, []
        if not items:
            return
        if self.writer is None:
            self._apply(self._store(items))
        elif not self.writer.submit(items):
            self._collect()

    def _collect(self, stop_crawl: bool = True) -> None:
        """On the reactor: the stats and log lines of the batches the writer committed; a dead writer's loss."""
        for stored in self.writer.results():
            self._apply(stored)
        if self.writer.failure is None:
            return
        lost = Stored()
        for batch in self.writer.lost():
            for item in batch:
                _count_not_stored(lost.counts, item)
        if not self.writer_lost:
            self.writer_lost = True
            reason = (f"the database writer stopped ({self.writer.failure}): what it had not committed is not "
                      "stored. Rerun the same command: it stores them again.")
            lost.log(logging.ERROR, "The store cannot go on: %s", reason)
            self.crawler.stats.set_value(STORE_FAILED_STAT, reason)
            if stop_crawl and self.crawler.engine is not None:
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="store_failed"))
        self._apply(lost)

    def _apply(self, stored: Stored) -> None:
        stats = self.crawler.stats
        for key, count in stored.counts.items():
            stats.inc_value(key, count)
        for level, message, args, exc_info in stored.logs:
            logger.log(level, message, *args, exc_info=exc_info)

    def _store(self, items: list) -> Stored:
        """Items in one transaction; a batch the database refuses goes again item by item (on the writer thread
        when there is one: nothing here touches the crawl's stats or the reactor)."""
        try:
            return Stored(self._write(items))
        except Exception as exc:  # noqa: BLE001 - each item is tried alone next, and one that fails is counted
            retried = self._store_each(items)
            retried.logs.insert(0, (logging.WARNING, "The database refused a batch of %d items (%s); storing them "
                                    "one by one", (len(items), _first_line(exc)), None))
            return retried

    def _store_each(self, items: list) -> Stored:
        """Each item in its own transaction; one that fails is counted as not stored (the harvest is then not
        complete), with the traceback logged when the database is not to blame (a bug)."""
        stored = Stored()
        for item in items:
            try:
                stored.counts.update(self._write([item]))
            except Exception as exc:  # noqa: BLE001 - counted and logged, never passed over
                stored.log(logging.ERROR, "Could not store %s %s: %s", type(item).__name__,
                           item.get("source_id") or item.get("url"), _first_line(exc),
                           exc_info=None if isinstance(exc, SQLAlchemyError) else (type(exc), exc, exc.__traceback__))
                _count_not_stored(stored.counts, item)
        return stored

    def _write(self, items: list) -> Counter[str]:
        """Store `items` in one transaction, in order; their counters once it has committed."""
        source = self.crawler.spider.profile.source
        # (item, outcome) in order; a run of records as one entry: (the run, its outcomes)
        done: list[tuple[object, list[str] | bool | None]] = []
        with self.engine.begin() as connection:
            for run in _runs(items):
                first = run[0]
                if isinstance(first, RECORD_TYPES):
                    done.append((run, write_records(connection, run, self.failed_pages)))
                elif isinstance(first, PageItem):
                    store_page(connection, first, self.run_id, source)
                    if first["kind"] == "record" and first["status"] == "failed":
                        self.failed_pages.add(first["url"])  # a later record of this batch removes it
                    done.append((first, None))
                else:
                    done.append((first, mark_deleted(connection, first)))
        counts: Counter[str] = Counter()  # summed here, then one stats call per counter (not per item)
        for item, outcome in done:
            if isinstance(item, list):
                if self.failed_pages:
                    self.failed_pages.difference_update(record.get("page_url") for record in item)
                _count_records(counts, item, outcome)
            elif isinstance(item, PageItem):
                if item["kind"] == "record" and item["status"] == "failed":
                    self.failed_pages.add(item["url"])
                counts[f"fotofecha/pages/{item['kind']}" if item["status"] == "ok" else f"fotofecha/failed/{item['reason']}"] += 1
            else:
                counts["fotofecha/records/deleted" if outcome else "fotofecha/records/deleted_unseen"] += 1
        return counts


def _count_records(counts: Counter[str], run: list, outcomes: list[str]) -> None:
    """A stored run of records in the counters: outcomes, statuses, failure reasons, images."""
    counts["fotofecha/records/done"] += len(run)
    for outcome, count in Counter(outcomes).items():
        counts[f"fotofecha/records/{outcome}"] += count
    for item in run:
        get = item.get
        if item["status"] != "ok":
            counts[f"fotofecha/records/{item['status']}"] += 1
        for reason in get("reasons") or ():
            counts[f"fotofecha/failed/{reason}"] += 1
        image = get("image")
        if image is not None:
            counts[f"fotofecha/images/{image['status']}"] += 1
            if image["status"] != "ok":
                counts[f"fotofecha/failed/{image['reason']}"] += 1
