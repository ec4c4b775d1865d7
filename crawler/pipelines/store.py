"""Write items to the database, one transaction per item (or per batch of items).

A record, its image row and the removal of a stale failed-page row commit together or not
at all, so a crawl killed at any moment leaves either the whole item or none of it: the
rerun fetches what is missing and the database ends as if never interrupted.
With FOTOFECHA_STORE_BATCH > 1 (the OAI-PMH spider, which lists hundreds of records a
second) items share a transaction, committed every that many items or FOTOFECHA_STORE_BATCH_S
seconds and at the end; each item is a savepoint in it, so one failing item is rolled back
alone. A kill then loses at most the open batch, and the rerun stores it again.
Counts new/updated/unchanged records (via content_hash and the image's sha256) in the stats.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.items import DeletedItem, PageItem, RecordItem
from db.models import Image, Page, Record, utcnow
from db.session import make_engine

RECORD_COLUMNS = (
    "title", "holder", "place", "description", "date_raw", "year", "year_min", "year_max",
    "date_precision", "page_url", "image_url", "content_hash", "status", "error",
)
IMAGE_COLUMNS = ("path", "sha256", "width", "height", "format", "bytes", "status", "error", "fetched_at")


def _image_state(image: Image | dict | None) -> tuple | None:
    if image is None:
        return None
    get = image.get if isinstance(image, dict) else lambda key: getattr(image, key)
    return (get("url"), get("status"), get("sha256"), get("error"))


class StorePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.db_url = crawler.settings.get("FOTOFECHA_DB_URL")
        self.run_id = crawler.settings.getint("FOTOFECHA_RUN_ID") or None
        self.engine = None
        self.sessions: sessionmaker | None = None
        # Record pages stored as failed: the one DELETE per record that succeeds later is
        # issued only for these.
        self.failed_pages: set[str] = set()
        self.batch_size = max(1, crawler.settings.getint("FOTOFECHA_STORE_BATCH", 1))
        self.batch_seconds = crawler.settings.getfloat("FOTOFECHA_STORE_BATCH_S", 0.25)
        self.batch: Session | None = None  # the open transaction items share when batch_size > 1
        self.batch_items = 0
        self.batch_opened = 0.0

    @classmethod
    def from_crawler(cls, crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.engine = make_engine(self.db_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self.sessions() as session:
            query = select(Page.url).where(Page.kind == "record", Page.status == "failed")
            self.failed_pages = set(session.scalars(query))

    def close_spider(self) -> None:
        self._commit_batch()
        if self.engine is not None:
            self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction for one item: its own, or a savepoint in the open batch."""
        if self.batch_size == 1:
            with self.sessions.begin() as session:
                yield session
            return
        if self.batch is None:
            self.batch = self.sessions()
            self.batch.begin()
            self.batch_items, self.batch_opened = 0, time.monotonic()
        with self.batch.begin_nested():
            yield self.batch
        self.batch_items += 1
        if self.batch_items >= self.batch_size or time.monotonic() - self.batch_opened >= self.batch_seconds:
            self._commit_batch()

    def _commit_batch(self) -> None:
        batch, self.batch = self.batch, None
        if batch is not None:
            try:
                batch.commit()
            finally:
                batch.close()

    def process_item(self, item):
        if isinstance(item, RecordItem):
            outcome = self.store_record(item)
            self._count_record(item, outcome)
        elif isinstance(item, PageItem):
            self.store_page(item)
            self._count_page(item)
        elif isinstance(item, DeletedItem):
            marked = self.mark_deleted(item)
            self.crawler.stats.inc_value("fotofecha/records/deleted" if marked else "fotofecha/records/deleted_unseen")
        return item

    def mark_deleted(self, item: DeletedItem) -> bool:
        """Status "deleted" on the stored record, its fields and images kept; False when none is stored."""
        with self.writing() as session:
            record = session.execute(
                select(Record).where(Record.source == item["source"], Record.source_id == item["source_id"])
            ).scalar_one_or_none()
            if record is None:
                return False
            record.status = "deleted"
            record.error = f"record_deleted: the repository withdrew it (datestamp {item['datestamp']})"
            record.last_seen = utcnow()
            return True

    def store_record(self, item: RecordItem) -> str:
        """Upsert the record and its image; returns new | updated | unchanged."""
        image = item.get("image")
        with self.writing() as session:
            record = session.execute(
                select(Record).where(Record.source == item["source"], Record.source_id == item["source_id"])
            ).scalar_one_or_none()
            if record is None:
                record = Record(source=item["source"], source_id=item["source_id"])
                session.add(record)
                outcome = "new"
            else:
                before = (record.content_hash, record.status, [_image_state(i) for i in record.images])
                after = (item["content_hash"], item["status"], [_image_state(image)] if image else [])
                outcome = "unchanged" if before == after else "updated"
            for column in RECORD_COLUMNS:
                setattr(record, column, item.get(column))
            record.last_seen = utcnow()
            # Rows for images the page no longer shows go; the current one is updated in place
            # (its id is referenced by curation tables).
            for stale in [i for i in record.images if image is None or i.url != image["url"]]:
                record.images.remove(stale)
            if image is not None:
                row = next((i for i in record.images if i.url == image["url"]), None)
                if row is None:
                    row = Image(url=image["url"])
                    record.images.append(row)
                for column in IMAGE_COLUMNS:
                    setattr(row, column, image.get(column))
            page_url = item.get("page_url")
            if page_url in self.failed_pages:
                # The page yielded a record: an earlier failure of it is history, not a fault.
                session.execute(delete(Page).where(Page.url == page_url))
        self.failed_pages.discard(item.get("page_url"))
        return outcome

    def store_page(self, item: PageItem) -> None:
        with self.writing() as session:
            page = session.execute(select(Page).where(Page.url == item["url"])).scalar_one_or_none()
            if page is None:
                page = Page(url=item["url"])
                session.add(page)
            page.kind = item["kind"]
            page.status = item["status"]
            page.http_status = item.get("http_status")
            page.error = item.get("error")
            page.run_id = self.run_id
            page.fetched_at = utcnow()
            if item["kind"] == "record" and item["status"] == "failed":
                self.failed_pages.add(item["url"])
            seen = item.get("seen_urls")
            if seen:
                # Known records the listing still shows: seen now, not refetched.
                session.execute(
                    update(Record)
                    .where(Record.source == self.crawler.spider.profile.source, Record.page_url.in_(seen))
                    .values(last_seen=utcnow())
                )

    def _count_record(self, item: RecordItem, outcome: str) -> None:
        stats = self.crawler.stats
        stats.inc_value(f"fotofecha/records/{outcome}")
        stats.inc_value("fotofecha/records/done")
        if item["status"] != "ok":
            stats.inc_value(f"fotofecha/records/{item['status']}")
        for reason in item.get("reasons") or ():
            stats.inc_value(f"fotofecha/failed/{reason}")
        image = item.get("image")
        if image is not None:
            stats.inc_value(f"fotofecha/images/{image['status']}")
            if image["status"] != "ok":
                stats.inc_value(f"fotofecha/failed/{image['reason']}")

    def _count_page(self, item: PageItem) -> None:
        stats = self.crawler.stats
        if item["status"] == "ok":
            stats.inc_value(f"fotofecha/pages/{item['kind']}")
        else:
            stats.inc_value(f"fotofecha/failed/{item['reason']}")
