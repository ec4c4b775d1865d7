"""What an earlier crawl already stored: the record pages (or OAI records) a later crawl need not fetch again."""

from __future__ import annotations

from sqlalchemy import Engine, and_, exists, select

from db.models import Image, OaiHarvest, Record, utcnow
from db.session import session_scope


def _complete(*columns):
    """Records stored complete: the page was read (status ok or incomplete: what the archive says
    is stored) and every image is stored ok, or the page shows none."""
    image_not_ok = exists().where(and_(Image.record_id == Record.id, Image.status != "ok"))
    image_ok = exists().where(and_(Image.record_id == Record.id, Image.status == "ok"))
    return select(*columns).where(
        Record.status.in_(("ok", "incomplete")),
        ~image_not_ok,
        (Record.image_url.is_(None)) | image_ok,
    )


def complete_page_urls(engine: Engine, source: str) -> set[str]:
    """Listing URLs of `source`'s records that are stored complete.

    A record whose image failed is fetched again, page and image, so a transient fault heals
    on the next crawl.
    """
    query = _complete(Record.page_url).where(Record.source == source, Record.page_url.is_not(None))
    with engine.connect() as conn:
        return {url for (url,) in conn.execute(query)}


def complete_record_hashes(engine: Engine, source: str) -> dict[str, str]:
    """source_id -> content_hash of `source`'s records stored complete: an OAI-PMH record that
    arrives with the same fields is not stored or its image fetched again."""
    query = _complete(Record.source_id, Record.content_hash).where(Record.source == source)
    with engine.connect() as conn:
        return {source_id: digest for source_id, digest in conn.execute(query)}


def image_failed_ids(engine: Engine, source: str) -> set[str]:
    """source_ids of `source`'s records stored with an image that failed: an incremental OAI-PMH
    harvest does not list them again (they did not change), so it asks for them one by one."""
    failed = exists().where(and_(Image.record_id == Record.id, Image.status != "ok"))
    query = select(Record.source_id).where(Record.source == source, Record.status.in_(("ok", "incomplete")), failed)
    with engine.connect() as conn:
        return set(conn.scalars(query))


def _harvest_query(source: str, endpoint: str, set_spec: str):
    return select(OaiHarvest).where(
        OaiHarvest.source == source, OaiHarvest.endpoint == endpoint, OaiHarvest.set_spec == set_spec
    )


def last_harvest(engine: Engine, source: str, endpoint: str, set_spec: str) -> OaiHarvest | None:
    """The last complete OAI-PMH harvest of this source, endpoint and set ("" for all), if any."""
    with session_scope(engine) as session:
        return session.execute(_harvest_query(source, endpoint, set_spec)).scalar_one_or_none()


def save_harvest(engine: Engine, source: str, endpoint: str, set_spec: str, granularity: str,
                 response_date: str, records: int, deleted: int) -> None:
    """Remember a complete harvest: the next one asks `from` its responseDate."""
    with session_scope(engine) as session:
        row = session.execute(_harvest_query(source, endpoint, set_spec)).scalar_one_or_none()
        if row is None:
            row = OaiHarvest(source=source, endpoint=endpoint, set_spec=set_spec)
            session.add(row)
        row.granularity, row.response_date, row.completed_at = granularity, response_date, utcnow()
        row.records, row.deleted = records, deleted
