"""The archive's records beside the model's estimate, sortable by how much they disagree, filterable.

An archivist sorts by disagreement (|catalogued year - estimated year|) to find the records
whose catalogued date is probably wrong, or filters: a period (the estimate's), a holder, suspect
records (the catalogued date lies wholly outside the estimate's interval), undated records (no
catalogued year: the estimate is a suggestion), and who estimated (a model that never saw the photograph,
from cross-validation, or the served model). Each page is one SQL query over records, images and the
`estimates` the background worker (modeling/app/dating.py) or `cli.py date-undated` wrote: the page never
dates anything itself, and a record whose image is not dated yet shows as pending. The disagreement and
the suspect flag are stored on the estimate (schema v9, kept true by db/estimates.py), and every sort and
filter walks one index (estimates' (model_key, ...) indexes, records.holder, records.year; for the year order
under an estimate filter, the record's year copied onto its estimate, schema v10), from whichever end is nearer
the page, so the last page of a million records costs about what the first does. The totals a page shows (the
archive, the filtered records, the dating progress) are counted once and kept until the next write
(db/counts.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import Engine, and_, func, select, text, true
from sqlalchemy.orm import aliased

from db.counts import Counts
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
    catalogue_only: bool = False  # (schema v9) estimated from the catalogue alone: the record has no stored photograph


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

    A correlated subquery over images.record_id's index, evaluated only for the page's own records.
    """
    mine = aliased(Image)
    first_ok = select(func.min(mine.id)).where(mine.record_id == Record.id, mine.status == "ok")
    first_any = select(func.min(mine.id)).where(mine.record_id == Record.id)
    return func.coalesce(first_ok.scalar_subquery(), first_any.scalar_subquery())


def _estimate(row) -> Estimate:
    if row.estimate_status == "ok" and row.estimate_image_id is None:  # from the catalogue alone
        return Estimate(row.estimate_year, row.low, row.high, row.period, row.probability, None, None, row.kind,
                        bool(row.unsure), read_evidence(row.evidence), catalogue_only=True)
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

    The rule db/estimates.py stores in estimates.suspect.

    >>> is_suspect(1920, 1915, 1925, 1926, 1950), is_suspect(1920, 1915, 1925, 1924, 1950)
    (True, False)
    """
    if year is None or low is None or high is None:
        return False
    latest = year_max if year_max is not None else year
    earliest = year_min if year_min is not None else year
    return latest < low or earliest > high


def _row(row) -> RecordRow:
    estimate = _estimate(row)
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
        disagreement=row.disagreement if estimate.problem is None else None,
        suspect=estimate.problem is None and bool(row.suspect),
    )


def dating_progress(counts: Counts, model_key: str) -> tuple[int, int]:
    """(dated, datable): image estimate rows of `model_key`, and stored images.

    Two index-only counts (estimates' (model_key, image_id), images' status) instead of a join over every
    image: image estimates are only ever written for stored images, so the first counts the dated ones. Both
    are counted again only after a write (db/counts.py).
    """
    dated = counts(select(func.count()).select_from(ImageEstimate)
                   .where(ImageEstimate.model_key == model_key, ImageEstimate.image_id.is_not(None)))
    return dated, counts(select(func.count()).select_from(Image).where(Image.status == "ok"))


@dataclass(frozen=True)
class _Segment:
    """One run of the page order that a single index walks: its rows' record ids in `order`."""

    stmt: object  # SELECT of one column, the record id, with the segment's filters (no ORDER BY)
    order: tuple  # (column, descending) pairs, the record id last: the index's own order, read forwards or back
    few: bool = False  # the last segment, a small range of the same index (no year): the segment before it is
    #                    sized as the total less this one, which counts a tenth of the entries instead of 9 in 10

    def count(self, counts: Counts) -> int:
        return counts(select(func.count()).select_from(self.stmt.subquery()))

    def keys(self, session, offset: int, limit: int, size: int | None = None) -> list[int]:
        """Record ids offset..offset+limit of the segment; past the middle of its `size` rows the index is read
        from the other end, so the last page skips as few entries as the first."""
        backwards = size is not None and offset > size / 2
        if backwards:
            offset, limit = max(0, size - offset - limit), min(limit, size - offset)
        order = [column.desc() if descending != backwards else column.asc() for column, descending in self.order]
        ids = list(session.scalars(self.stmt.order_by(*order).offset(offset).limit(limit)))
        return ids[::-1] if backwards else ids


def _record_conditions(query: RecordsQuery) -> list:
    conditions = []
    if query.holder:
        conditions.append(Record.holder == query.holder)
    if query.undated:
        conditions.append(Record.year.is_(None))
    return conditions


def _estimate_conditions(query: RecordsQuery, model_key: str, shown: bool = True) -> list:
    """Conditions on the record's shown estimate; empty when no filter is about the estimate. `shown=False`
    leaves the shown flag out, for rows with a disagreement (only a shown estimate has one)."""
    conditions = []
    if query.period:
        conditions.append(ImageEstimate.period == query.period)
    if query.kind:
        conditions.append(ImageEstimate.kind == query.kind)
    if query.suspect:
        conditions.append(ImageEstimate.suspect == true())
    if conditions:
        conditions.append(ImageEstimate.model_key == model_key)
        if shown and (query.period or query.kind):  # a suspect estimate is always the shown one
            conditions.append(ImageEstimate.shown == true())
    return conditions


def _shown_estimate(model_key: str):
    """Join condition: the record's estimate by `model_key` that /records shows (db/estimates.py keeps `shown`)."""
    return and_(ImageEstimate.record_id == Record.id, ImageEstimate.model_key == model_key,
                ImageEstimate.shown == true())


def _holder_segment(query: RecordsQuery, model_key: str) -> _Segment:
    """A holder's records, sorted as asked: few enough (a holder's share of the archive) to sort, and read off
    records.holder's index rather than by walking the whole archive's order for them."""
    stmt = (select(Record.id).outerjoin(ImageEstimate, _shown_estimate(model_key))
            .where(*_record_conditions(query), *_estimate_conditions(query, model_key)))
    gap = ImageEstimate.disagreement
    orders = {"id": ((Record.id, False),),
              "year": ((Record.year.is_(None), False), (Record.year, False), (Record.id, False)),
              "disagreement": ((gap.is_(None), False), (gap, True), (Record.id, True))}
    return _Segment(stmt, orders[query.sort])


def _segments(query: RecordsQuery, model_key: str) -> list[_Segment]:
    """The page order as index walks: one for the id order, two for year and disagreement (rows with a value,
    then those without, by record id: the records without one come last)."""
    if query.holder:
        return [_holder_segment(query, model_key)]
    by_estimate, by_record = _estimate_conditions(query, model_key), _record_conditions(query)
    if by_estimate and query.sort == "year":  # estimates' (model_key, [shown,] filter, record_year, record_id)
        rid, year = ImageEstimate.record_id, ImageEstimate.record_year  # (schema v10) the record's year, copied
        base = select(rid).where(*by_estimate, *([year.is_(None)] if query.undated else []))
        return [_Segment(base.where(year.is_not(None)), ((year, False), (rid, False))),
                _Segment(base.where(year.is_(None)), ((rid, False),), few=True)]
    if by_estimate:  # the filtered set is read off estimates' (model_key, [shown,] filter, ..., record_id) indexes
        rid = ImageEstimate.record_id
        base = select(rid).where(*by_estimate)
        if by_record:
            base = base.join(Record, Record.id == rid).where(*by_record)
    else:
        rid = Record.id
        base = select(rid).where(*by_record)
    if query.sort == "id" or (query.sort == "disagreement" and query.undated):  # an undated record has no gap
        return [_Segment(base, ((rid, False),))]
    if query.sort == "year":  # records' (year, id) index holds both segments
        return [_Segment(base.where(Record.year.is_not(None)), ((Record.year, False), (rid, False))),
                _Segment(base.where(Record.year.is_(None)), ((rid, False),), few=True)]
    # estimates' (model_key, [filter,] disagreement, record_id) index, walked backwards
    gap = ImageEstimate.disagreement
    valued = select(ImageEstimate.record_id).where(
        ImageEstimate.model_key == model_key, gap.is_not(None), *_estimate_conditions(query, model_key, False))
    if by_estimate:
        empty = base.where(gap.is_(None))
    else:
        has_gap = select(ImageEstimate.id).where(ImageEstimate.record_id == Record.id,
                                                 ImageEstimate.model_key == model_key, gap.is_not(None)).exists()
        empty = base.where(~has_gap)
    return [_Segment(valued, ((gap, True), (ImageEstimate.record_id, True))), _Segment(empty, ((rid, False),))]


def _page_keys(session, counts: Counts, query: RecordsQuery, model_key: str, total: int, page: int) -> list[int]:
    """The record ids of `page`, in order, read off indexes only (no join, no sort of the archive).

    A segment in the front half of what is left is read forwards straight away: a short or empty answer tells
    where it ends, so the first pages count nothing; a page further on counts the segment (one index-only
    count) and reads it from the nearer end.
    """
    offset, wanted, keys, before = (page - 1) * query.per_page, query.per_page, [], 0
    segments = _segments(query, model_key)
    for index, segment in enumerate(segments):
        size = None if index < len(segments) - 1 else total - before
        if size is None and offset <= (total - before) / 2:
            taken = segment.keys(session, offset, wanted)
            keys += taken
            if len(taken) == wanted:
                return keys
            if taken:
                size, wanted, offset = offset + len(taken), wanted - len(taken), 0
                before += size
                continue
        if size is None and index == len(segments) - 2 and segments[-1].few:
            size = total - before - segments[-1].count(counts)
        elif size is None:
            size = segment.count(counts)
        before += size
        if offset >= size:
            offset -= size
            continue
        taken = segment.keys(session, offset, min(wanted, size - offset), size)
        keys += taken
        wanted, offset = wanted - len(taken), 0
        if wanted <= 0:
            break
    return keys


def explain_page(engine: Engine, model_key: str, query: RecordsQuery) -> list[str]:
    """The database's plan for each index walk of `query`'s order, forwards (what benchmarks and tests read to
    check that a page is an index walk, not a sort of the archive); one text per segment."""
    plans = []
    with session_scope(engine) as session:
        for segment in _segments(query, model_key):
            stmt = segment.stmt.order_by(*[column.desc() if descending else column.asc()
                                            for column, descending in segment.order]).limit(query.per_page)
            sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            lines = session.execute(text(prefix + sql)).all()
            plans.append("\n".join(str(line[-1]) for line in lines))
    return plans


def _count(counts: Counts, query: RecordsQuery, model_key: str) -> int:
    by_estimate, by_record = _estimate_conditions(query, model_key), _record_conditions(query)
    if by_estimate:
        stmt = select(func.count(ImageEstimate.record_id)).where(*by_estimate)
        if by_record:
            stmt = stmt.join(Record, Record.id == ImageEstimate.record_id).where(*by_record)
        return counts(stmt)
    return counts(select(func.count(Record.id)).where(*by_record))


def list_records(engine: Engine, model_key: str, query: RecordsQuery) -> RecordsPage:
    """One page of records with `model_key`'s estimates, filtered, in `query.sort` order, whatever has been
    dated so far.

    Disagreement sorts largest first (ties: the newest record first); records without one (pending, no image,
    no catalogued year) come last, by id. The page's record ids come from one index walk over the stored
    disagreement (db/estimates.py), the year or the id; only those records are then joined to their image and
    estimate, so any page of a million records costs about the same.
    """
    if query.sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, got {query.sort!r}")
    with session_scope(engine) as session:
        counts = Counts(session.connection())  # kept until the next write (db/counts.py)
        archive_total = counts(select(func.count(Record.id)))
        total = _count(counts, query, model_key) if query.filters() else archive_total
        pages = max(1, math.ceil(total / query.per_page))
        page = min(max(1, query.page), pages)
        keys = _page_keys(session, counts, query, model_key, total, page)
        dated, datable = dating_progress(counts, model_key)
        stmt = (select(Record.id, Record.source_id, Record.title, Record.date_raw, Record.year, Record.holder,
                       Record.status, Image.id.label("image_id"), Image.status.label("image_status"),
                       Image.error.label("image_error"), ImageEstimate.image_id.label("estimate_image_id"),
                       ImageEstimate.status.label("estimate_status"), ImageEstimate.error.label("estimate_error"),
                       ImageEstimate.year.label("estimate_year"), ImageEstimate.low, ImageEstimate.high,
                       ImageEstimate.period, ImageEstimate.probability, ImageEstimate.kind, ImageEstimate.unsure,
                       ImageEstimate.evidence, ImageEstimate.disagreement, ImageEstimate.suspect)
                .select_from(Record).outerjoin(Image, Image.id == _shown_image_id())
                .outerjoin(ImageEstimate, _shown_estimate(model_key))
                .where(Record.id.in_(keys)))
        found = {row.id: _row(row) for row in session.execute(stmt)} if keys else {}
    rows = [found[key] for key in keys if key in found]
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
