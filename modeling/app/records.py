"""The archive's records beside the model's estimate, sortable by how much they disagree, filterable.

An archivist sorts by disagreement (|catalogued year - estimated year|) to find the records
whose catalogued date is probably wrong, or filters: a period (the estimate's), a holder, suspect
records (the catalogued date lies wholly outside the estimate's interval), undated records (no
catalogued year: the estimate is a suggestion), and who estimated (a model that never saw the photograph,
from cross-validation, or the served model). Each page is one SQL query over records, images and the
`estimates` the background worker (modeling/app/dating.py) or `cli.py date-undated` wrote: the page never
dates anything itself, and a record whose image is not dated yet shows as pending. Every filter is an
indexed column (estimates.model_key+period, records.holder, records.year).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import aliased

from db.models import Image, ImageEstimate, Record
from db.session import session_scope
from modeling.answer import Evidence
from modeling.app.dating import read_evidence

SORTS = ("disagreement", "year", "id")
KINDS = ("out_of_fold", "model")  # a model that never saw the photograph (cross-validation) | the served model


@dataclass(frozen=True)
class Estimate:
    year: int | None  # the model's year, None when there is no estimate
    low: int | None  # lower end of the model's interval
    high: int | None  # upper end of the model's interval
    period: str | None  # the period holding the year
    probability: float | None  # that period's probability, when the dater gave one
    problem: str | None  # pending | no_image | image_failed | file_missing | unreadable, or None
    detail: str | None  # the reason behind `problem`, in the words of whoever found it
    kind: str | None = None  # out_of_fold (a CV model that never saw this image) | model (the served model)
    unsure: bool = False  # the interval is too wide to lead with a year
    evidence: tuple[Evidence, ...] = ()  # what the estimate rests on (none for estimates before schema v7)


@dataclass(frozen=True)
class RecordRow:
    record_id: int  # records.id
    source_id: str  # the archive's identifier
    title: str | None  # catalogued title
    date_raw: str | None  # the date exactly as catalogued
    year: int | None  # catalogued year, parsed
    holder: str | None  # catalogued holder or photographer
    record_status: str  # ok | incomplete | failed
    image_id: int | None  # the image shown and dated, if any
    estimate: Estimate  # the model's view of that image
    disagreement: int | None  # |year - estimate.year| when both exist
    suspect: bool  # the catalogued date (its whole range) lies outside the estimate's interval


@dataclass(frozen=True)
class RecordsQuery:
    page: int = 1  # 1-based page number; clamped to the pages there are
    sort: str = "disagreement"  # one of SORTS
    per_page: int = 25  # rows per page
    period: str | None = None  # only records whose estimate falls in this period (a bin label)
    holder: str | None = None  # only records of this holder, exactly as catalogued
    suspect: bool = False  # only records whose catalogued date lies outside the estimate's interval
    undated: bool = False  # only records without a catalogued year
    kind: str | None = None  # only estimates of this kind (KINDS)

    def filters(self) -> dict[str, str]:
        """The filters as URL parameters (what a pager link keeps)."""
        chosen = {"period": self.period, "holder": self.holder, "kind": self.kind,
                  "suspect": "1" if self.suspect else None, "undated": "1" if self.undated else None}
        return {name: value for name, value in chosen.items() if value}

    def link(self, **changes) -> str:
        """/records?... for this query with `changes` (page, sort, lang) applied."""
        params = {"page": self.page, "sort": self.sort, **self.filters(), **changes}
        return "/records?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def records_query(params, per_page: int) -> RecordsQuery:
    """A RecordsQuery from /records' URL parameters; unknown values are ignored, not errors (a person typed them)."""
    def number(name: str) -> int:
        try:
            return int(params.get(name) or 1)
        except ValueError:
            return 1

    sort = params.get("sort")
    kind = params.get("kind")
    return RecordsQuery(page=number("page"), sort=sort if sort in SORTS else "disagreement", per_page=per_page,
                        period=(params.get("period") or "").strip() or None,
                        holder=(params.get("holder") or "").strip() or None,
                        suspect=params.get("suspect") in ("1", "on", "true"),
                        undated=params.get("undated") in ("1", "on", "true"), kind=kind if kind in KINDS else None)


@dataclass(frozen=True)
class RecordsPage:
    rows: list[RecordRow]  # this page's rows, in order
    page: int  # the page shown (after clamping)
    pages: int  # how many pages there are (at least 1)
    total: int  # how many records match the filters
    sort: str  # the order used
    dated: int  # stored images the model has dated (or found unreadable) so far
    datable: int  # stored images there are to date
    query: RecordsQuery = field(default_factory=RecordsQuery)  # what was asked (filters, for the pager's links)
    archive_total: int | None = None  # records in the archive, filters aside

    @property
    def dating_complete(self) -> bool:
        return self.dated >= self.datable


def _shown_image_id():
    """Each record's image to show: its first stored ('ok') image, else its first image of any status.

    A correlated subquery over images.record_id's index, so a page filtered by an indexed record column
    (holder, year) reads only its own records' images, not every image of the archive.
    """
    mine = aliased(Image)
    first_ok = select(func.min(mine.id)).where(mine.record_id == Record.id, mine.status == "ok")
    first_any = select(func.min(mine.id)).where(mine.record_id == Record.id)
    return func.coalesce(first_ok.scalar_subquery(), first_any.scalar_subquery())


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
    return Estimate(row.estimate_year, row.low, row.high, row.period, row.probability, None, None, row.kind,
                    bool(row.unsure), read_evidence(row.evidence))


def is_suspect(year: int | None, year_min: int | None, year_max: int | None, low: int | None, high: int | None) -> bool:
    """The catalogued date, taken as its whole range (1915-1925, or the year), lies wholly outside [low, high].

    >>> is_suspect(1920, 1915, 1925, 1926, 1950), is_suspect(1920, 1915, 1925, 1924, 1950)
    (True, False)
    """
    if year is None or low is None or high is None:
        return False
    latest = year_max if year_max is not None else year
    earliest = year_min if year_min is not None else year
    return latest < low or earliest > high


def suspect_clause():
    """is_suspect in SQL, for the suspect filter (the same rule, over records joined to estimates)."""
    latest = func.coalesce(Record.year_max, Record.year)
    earliest = func.coalesce(Record.year_min, Record.year)
    return and_(Record.year.is_not(None), ImageEstimate.status == "ok",
                or_(latest < ImageEstimate.low, earliest > ImageEstimate.high))


def _row(row) -> RecordRow:
    estimate = _estimate(row)
    suspect = estimate.problem is None and is_suspect(row.year, row.year_min, row.year_max, estimate.low,
                                                      estimate.high)
    return RecordRow(
        record_id=row.id,
        source_id=row.source_id,
        title=row.title,
        date_raw=row.date_raw,
        year=row.year,
        holder=row.holder,
        record_status=row.status,
        image_id=row.image_id,
        estimate=estimate,
        disagreement=row.disagreement,
        suspect=suspect,
    )


def dating_progress(engine: Engine, model_key: str) -> tuple[int, int]:
    """(dated, datable): estimate rows of `model_key`, and stored images.

    Two index-only counts (estimates' (model_key, image_id), images' status) instead of a join over every
    image: estimates are only ever written for stored images, so the first counts the dated ones.
    """
    with session_scope(engine) as session:
        dated = session.scalar(select(func.count()).select_from(ImageEstimate)
                               .where(ImageEstimate.model_key == model_key)) or 0
        datable = session.scalar(select(func.count()).select_from(Image).where(Image.status == "ok")) or 0
    return dated, datable


def _filtered(stmt, query: RecordsQuery, model_key: str):
    conditions = []
    if query.period or query.kind:
        # Start from the estimates (index model_key+period), not from every record: the records whose images
        # this model placed in the period (or estimated this way); the shown image's estimate is checked below.
        chosen = select(Image.record_id).join(ImageEstimate, ImageEstimate.image_id == Image.id).where(
            ImageEstimate.model_key == model_key)
        if query.period:
            chosen = chosen.where(ImageEstimate.period == query.period)
            conditions.append(ImageEstimate.period == query.period)
        if query.kind:
            chosen = chosen.where(ImageEstimate.kind == query.kind)
            conditions.append(ImageEstimate.kind == query.kind)
        conditions.append(Record.id.in_(chosen))
    if query.holder:
        conditions.append(Record.holder == query.holder)
    if query.suspect:
        conditions.append(suspect_clause())
    if query.undated:
        conditions.append(Record.year.is_(None))
    return stmt.where(*conditions) if conditions else stmt


def _joined(stmt, model_key: str):
    """records -> each record's shown image -> its estimate by `model_key` (outer joins: every record stays)."""
    has_estimate = and_(ImageEstimate.image_id == Image.id, ImageEstimate.model_key == model_key)
    return (stmt.select_from(Record).outerjoin(Image, Image.id == _shown_image_id())
            .outerjoin(ImageEstimate, has_estimate))


def list_records(engine: Engine, model_key: str, query: RecordsQuery) -> RecordsPage:
    """One page of records with `model_key`'s estimates, filtered, in `query.sort` order, whatever has been
    dated so far.

    Disagreement sorts largest first; records without one (pending, no image, no catalogued year) come last.
    """
    if query.sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, got {query.sort!r}")
    with session_scope(engine) as session:
        archive_total = session.scalar(select(func.count(Record.id))) or 0
        total = (session.scalar(_filtered(_joined(select(func.count(Record.id)), model_key), query, model_key)) or 0
                 if query.filters() else archive_total)
    pages = max(1, math.ceil(total / query.per_page))
    page = min(max(1, query.page), pages)

    gap = func.abs(Record.year - ImageEstimate.year)
    orders = {
        "disagreement": (gap.is_(None), gap.desc(), Record.id),
        "year": (Record.year.is_(None), Record.year, Record.id),
        "id": (Record.id,),
    }
    stmt = _filtered(_joined(
        select(Record.id, Record.source_id, Record.title, Record.date_raw, Record.year, Record.year_min,
               Record.year_max, Record.holder, Record.status,
               Image.id.label("image_id"), Image.status.label("image_status"), Image.error.label("image_error"),
               ImageEstimate.status.label("estimate_status"), ImageEstimate.error.label("estimate_error"),
               ImageEstimate.year.label("estimate_year"), ImageEstimate.low, ImageEstimate.high,
               ImageEstimate.period, ImageEstimate.probability, ImageEstimate.kind, ImageEstimate.unsure,
               ImageEstimate.evidence, gap.label("disagreement")), model_key), query, model_key)
    stmt = stmt.order_by(*orders[query.sort]).offset((page - 1) * query.per_page).limit(query.per_page)
    with session_scope(engine) as session:
        rows = [_row(row) for row in session.execute(stmt)]
    dated, datable = dating_progress(engine, model_key)
    return RecordsPage(rows=rows, page=page, pages=pages, total=total, sort=query.sort, dated=dated, datable=datable,
                       query=query, archive_total=archive_total)


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
