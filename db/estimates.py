"""Keep the stored /records columns of `estimates` true: which estimate a record shows, the record's catalogued
year, the disagreement, suspect.

/records sorts a million records by |catalogued year - estimated year| and filters the suspect ones. Computed
at read time that is a full sort of a join (9.4 s at 1M); stored and indexed (schema v9) a page is an index
walk. The stored values depend on two tables, so whoever changes either side calls `refresh_estimates` in
the same transaction: the writers of estimates (modeling/app/dating.py, `cli.py date-undated`) and the
harvest when it rewrites a record's date or images (crawler/pipelines/store.py).

    >>> refresh_estimates(connection, [record.id])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection, and_, case, false, func, or_, select, true, update

from db.models import Image, ImageEstimate, Record

CHUNK = 500  # record ids per UPDATE ... WHERE record_id IN (...): well under every backend's bound-parameter limit

ESTIMATES, IMAGES, RECORDS = ImageEstimate.__table__, Image.__table__, Record.__table__


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _first_stored_image():
    """The id of the estimate's record's first stored ('ok') image, or NULL (correlated on estimates.record_id)."""
    return (select(func.min(IMAGES.c.id)).where(IMAGES.c.record_id == ESTIMATES.c.record_id, IMAGES.c.status == "ok")
            .scalar_subquery())


def _record_column(column):
    return select(column).where(RECORDS.c.id == ESTIMATES.c.record_id).scalar_subquery()


def _shown():
    """An image's estimate is shown when its image is the record's first stored one; a catalogue-only estimate
    (no image) when the record has no stored image."""
    first = _first_stored_image()
    return case((ESTIMATES.c.image_id.is_(None), first.is_(None)),
                else_=func.coalesce(ESTIMATES.c.image_id == first, false()))


def _gap_values() -> dict:
    year = _record_column(RECORDS.c.year)
    latest = func.coalesce(_record_column(RECORDS.c.year_max), year)
    earliest = func.coalesce(_record_column(RECORDS.c.year_min), year)
    counted = and_(ESTIMATES.c.shown == true(), ESTIMATES.c.status == "ok")
    return {
        "record_year": year,
        "disagreement": case((counted, func.abs(year - ESTIMATES.c.year)), else_=None),
        # modeling.app.records.is_suspect, in SQL: the catalogued date's whole range lies outside [low, high]
        "suspect": case((and_(counted, year.is_not(None), ESTIMATES.c.low.is_not(None), ESTIMATES.c.high.is_not(None)),
                         or_(latest < ESTIMATES.c.low, earliest > ESTIMATES.c.high)), else_=false()),
    }


def refresh_estimates(connection: Connection, record_ids: Iterable[int] | None = None) -> None:
    """Recompute `shown`, `record_year`, `disagreement` and `suspect` of the estimates of `record_ids` (None: of
    every record).

    Every writer sets estimates.record_id; rows without one (written before schema v9) get it from their image.
    """
    if record_ids is None:
        connection.execute(update(ESTIMATES).where(ESTIMATES.c.record_id.is_(None), ESTIMATES.c.image_id.is_not(None))
                           .values(record_id=select(IMAGES.c.record_id).where(IMAGES.c.id == ESTIMATES.c.image_id)
                                   .scalar_subquery()))
        connection.execute(update(ESTIMATES).values(shown=_shown()))
        connection.execute(update(ESTIMATES).values(**_gap_values()))
        return
    for chunk in _chunks(sorted(set(record_ids))):
        mine = ESTIMATES.c.record_id.in_(chunk)
        connection.execute(update(ESTIMATES).where(mine).values(shown=_shown()))
        connection.execute(update(ESTIMATES).where(mine).values(**_gap_values()))
