"""What an earlier crawl already stored: the record pages a later crawl need not fetch again."""

from __future__ import annotations

from sqlalchemy import Engine, and_, exists, select

from db.models import Image, Record


def complete_page_urls(engine: Engine, source: str) -> set[str]:
    """Listing URLs of `source`'s records that are stored complete.

    Complete: the page was read (status ok or incomplete: what the archive says is stored)
    and every image is stored ok, or the page shows none. A record whose image failed is
    fetched again, page and image, so a transient fault heals on the next crawl.
    """
    image_not_ok = exists().where(and_(Image.record_id == Record.id, Image.status != "ok"))
    image_ok = exists().where(and_(Image.record_id == Record.id, Image.status == "ok"))
    query = select(Record.page_url).where(
        Record.source == source,
        Record.page_url.is_not(None),
        Record.status.in_(("ok", "incomplete")),
        ~image_not_ok,
        (Record.image_url.is_(None)) | image_ok,
    )
    with engine.connect() as conn:
        return {url for (url,) in conn.execute(query)}
