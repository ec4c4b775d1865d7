"""The archive's records beside the model's estimate, sortable by how much they disagree.

An archivist sorts by disagreement (|catalogued year - estimated year|) to find the records
whose catalogued date is probably wrong. Each page is one SQL query over records, images and
the `estimates` the background worker (modeling/app/dating.py) has written so far: the page never
dates anything itself, and a record whose image is not dated yet shows as pending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, and_, case, func, select

from db.models import Image, ImageEstimate, Record
from db.session import session_scope

SORTS = ("disagreement", "year", "id")


@dataclass(frozen=True)
class Estimate:
    year: int | None  # the model's year, None when there is no estimate
    low: int | None  # lower end of the model's interval
    high: int | None  # upper end of the model's interval
    period: str | None  # the most probable bin label
    probability: float | None  # that bin's probability
    problem: str | None  # pending | no_image | image_failed | file_missing | unreadable, or None
    detail: str | None  # the reason behind `problem`, in the words of whoever found it
    kind: str | None = None  # out_of_fold (a CV model that never saw this image) | model (the served model)


@dataclass(frozen=True)
class RecordRow:
    record_id: int  # records.id
    source_id: str  # the archive's identifier
    title: str | None  # catalogued title
    date_raw: str | None  # the date exactly as catalogued
    year: int | None  # catalogued year, parsed
    record_status: str  # ok | incomplete | failed
    image_id: int | None  # the image shown and dated, if any
    estimate: Estimate  # the model's view of that image
    disagreement: int | None  # |year - estimate.year| when both exist
    suspect: bool  # the catalogued year lies outside the model's interval


@dataclass(frozen=True)
class RecordsQuery:
    page: int = 1  # 1-based page number; clamped to the pages there are
    sort: str = "disagreement"  # one of SORTS
    per_page: int = 25  # rows per page


@dataclass(frozen=True)
class RecordsPage:
    rows: list[RecordRow]  # this page's rows, in order
    page: int  # the page shown (after clamping)
    pages: int  # how many pages there are (at least 1)
    total: int  # how many records there are
    sort: str  # the order used
    dated: int  # stored images the model has dated (or found unreadable) so far
    datable: int  # stored images there are to date

    @property
    def dating_complete(self) -> bool:
        return self.dated >= self.datable


def _shown_images():
    """Each record's image to show: its first stored ('ok') image, else its first image of any status."""
    first_ok = func.min(case((Image.status == "ok", Image.id)))
    return (select(Image.record_id, func.coalesce(first_ok, func.min(Image.id)).label("image_id"))
            .group_by(Image.record_id).subquery("shown"))


def _estimate(row) -> Estimate:
    if row.image_id is None:
        return Estimate(None, None, None, None, None, "no_image", None)
    if row.image_status != "ok":
        detail = row.image_error or f"image status is {row.image_status!r}"
        return Estimate(None, None, None, None, None, "image_failed", detail)
    if row.estimate_status is None:
        return Estimate(None, None, None, None, None, "pending", None)
    if row.estimate_status != "ok":
        return Estimate(None, None, None, None, None, row.estimate_status, row.estimate_error)
    return Estimate(row.estimate_year, row.low, row.high, row.period, row.probability, None, None, row.kind)


def _row(row) -> RecordRow:
    estimate = _estimate(row)
    suspect = False
    if row.disagreement is not None and estimate.low is not None and estimate.high is not None:
        suspect = not (estimate.low <= row.year <= estimate.high)
    return RecordRow(
        record_id=row.id,
        source_id=row.source_id,
        title=row.title,
        date_raw=row.date_raw,
        year=row.year,
        record_status=row.status,
        image_id=row.image_id,
        estimate=estimate,
        disagreement=row.disagreement,
        suspect=suspect,
    )


def dating_progress(engine: Engine, model_key: str) -> tuple[int, int]:
    """(dated, datable): stored images with an estimate row for `model_key`, and stored images."""
    has_estimate = and_(ImageEstimate.image_id == Image.id, ImageEstimate.model_key == model_key)
    stmt = select(func.count(Image.id), func.count(ImageEstimate.id)).select_from(Image).outerjoin(
        ImageEstimate, has_estimate).where(Image.status == "ok")
    with session_scope(engine) as session:
        datable, dated = session.execute(stmt).one()
    return dated, datable


def list_records(engine: Engine, model_key: str, query: RecordsQuery) -> RecordsPage:
    """One page of records with `model_key`'s estimates, in `query.sort` order, whatever has been dated so far.

    Disagreement sorts largest first; records without one (pending, no image, no catalogued year) come last.
    """
    if query.sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, got {query.sort!r}")
    with session_scope(engine) as session:
        total = session.scalar(select(func.count(Record.id))) or 0
    pages = max(1, math.ceil(total / query.per_page))
    page = min(max(1, query.page), pages)

    shown = _shown_images()
    gap = func.abs(Record.year - ImageEstimate.year)
    orders = {
        "disagreement": (gap.is_(None), gap.desc(), Record.id),
        "year": (Record.year.is_(None), Record.year, Record.id),
        "id": (Record.id,),
    }
    has_estimate = and_(ImageEstimate.image_id == Image.id, ImageEstimate.model_key == model_key)
    stmt = (
        select(Record.id, Record.source_id, Record.title, Record.date_raw, Record.year, Record.status,
               Image.id.label("image_id"), Image.status.label("image_status"), Image.error.label("image_error"),
               ImageEstimate.status.label("estimate_status"), ImageEstimate.error.label("estimate_error"),
               ImageEstimate.year.label("estimate_year"), ImageEstimate.low, ImageEstimate.high,
               ImageEstimate.period, ImageEstimate.probability, ImageEstimate.kind, gap.label("disagreement"))
        .select_from(Record)
        .outerjoin(shown, shown.c.record_id == Record.id)
        .outerjoin(Image, Image.id == shown.c.image_id)
        .outerjoin(ImageEstimate, has_estimate)
        .order_by(*orders[query.sort])
        .offset((page - 1) * query.per_page)
        .limit(query.per_page)
    )
    with session_scope(engine) as session:
        rows = [_row(row) for row in session.execute(stmt)]
    dated, datable = dating_progress(engine, model_key)
    return RecordsPage(rows=rows, page=page, pages=pages, total=total, sort=query.sort, dated=dated, datable=datable)


SQL_BIGINT_MAX = 2**63 - 1


def image_path(engine: Engine, image_id: int) -> Path | None:
    """The stored file of image `image_id`, when the database knows it and it exists."""
    if not 1 <= image_id <= SQL_BIGINT_MAX:  # ids are positive 64-bit integers; SQLite overflows past that
        return None
    with session_scope(engine) as session:
        path = session.scalar(select(Image.path).where(Image.id == image_id))
    if not path or not Path(path).is_file():
        return None
    return Path(path)
