"""The archive's records beside the model's estimate, sortable by how much they disagree.

An archivist sorts by disagreement (|catalogued year - estimated year|) to find the records
whose catalogued date is probably wrong. Estimates are computed on demand for the records a
page needs and kept in memory (keyed by image id and path), so each image is looked at once.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from tqdm import tqdm

from db.models import Image, Record
from db.session import session_scope
from modeling.errors import ImageTooLarge, UnreadableImage
from modeling.images import load_image
from modeling.predict import Predictor

SORTS = ("disagreement", "year", "id")


@dataclass(frozen=True)
class ImageRef:
    image_id: int  # images.id
    path: str | None  # absolute path of the stored file
    status: str  # ok | failed | pending, as the crawler left it
    error: str | None  # why the download failed, when it did


@dataclass(frozen=True)
class Estimate:
    year: int | None  # the model's year, None when there is no estimate
    low: int | None  # lower end of the model's interval
    high: int | None  # upper end of the model's interval
    period: str | None  # the most probable bin label
    probability: float | None  # that bin's probability
    problem: str | None  # no_image | image_failed | file_missing | unreadable, or None
    detail: str | None  # the reason behind `problem`, in the words of whoever found it


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


def _no_estimate(problem: str, detail: str | None) -> Estimate:
    return Estimate(None, None, None, None, None, problem, detail)


class EstimateCache:
    """The model's estimate for each stored image, computed once and kept in memory."""

    def __init__(self, predictor: Predictor) -> None:
        self._predictor = predictor
        self._estimates: dict[tuple[int, str | None], Estimate] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._estimates)

    def estimate(self, image: ImageRef | None) -> Estimate:
        """The estimate for `image`, or the reason there is none."""
        if image is None:
            return _no_estimate("no_image", None)
        key = (image.image_id, image.path)
        with self._lock:
            cached = self._estimates.get(key)
        if cached is not None:
            return cached
        estimate = self._compute(image)
        with self._lock:
            self._estimates[key] = estimate
        return estimate

    def _compute(self, image: ImageRef) -> Estimate:
        if image.status != "ok":
            return _no_estimate("image_failed", image.error or f"image status is {image.status!r}")
        if not image.path or not Path(image.path).is_file():
            return _no_estimate("file_missing", f"file missing: {image.path or '(no path recorded)'}")
        try:
            picture = load_image(Path(image.path), draft_size=self._predictor.img_size)
        except (UnreadableImage, ImageTooLarge) as exc:
            return _no_estimate("unreadable", str(exc))
        except OSError as exc:
            return _no_estimate("unreadable", f"cannot read {image.path}: {exc}")
        result = self._predictor.predict(picture, top_k=1)
        top = result.get("top") or [{}]
        interval = result.get("interval") or {}
        return Estimate(
            year=result.get("year"),
            low=interval.get("low"),
            high=interval.get("high"),
            period=top[0].get("bin"),
            probability=top[0].get("probability"),
            problem=None,
            detail=None,
        )


def _first_images(engine: Engine, record_ids: list[int] | None) -> dict[int, ImageRef]:
    """Each record's image to show: its first stored ('ok') image, else its first image of any status."""
    stmt = select(Image.id, Image.record_id, Image.path, Image.status, Image.error).order_by(Image.id)
    if record_ids is not None:
        stmt = stmt.where(Image.record_id.in_(record_ids))
    chosen: dict[int, ImageRef] = {}
    with session_scope(engine) as session:
        for image_id, record_id, path, status, error in session.execute(stmt):
            current = chosen.get(record_id)
            if current is None or (current.status != "ok" and status == "ok"):
                chosen[record_id] = ImageRef(image_id, path, status, error)
    return chosen


def _row(record, image: ImageRef | None, cache: EstimateCache) -> RecordRow:
    estimate = cache.estimate(image)
    disagreement = None
    suspect = False
    if record.year is not None and estimate.year is not None:
        disagreement = abs(record.year - estimate.year)
        if estimate.low is not None and estimate.high is not None:
            suspect = not (estimate.low <= record.year <= estimate.high)
    return RecordRow(
        record_id=record.id,
        source_id=record.source_id,
        title=record.title,
        date_raw=record.date_raw,
        year=record.year,
        record_status=record.status,
        image_id=image.image_id if image else None,
        estimate=estimate,
        disagreement=disagreement,
        suspect=suspect,
    )


def list_records(engine: Engine, cache: EstimateCache, query: RecordsQuery) -> RecordsPage:
    """One page of records with the model's estimates, in `query.sort` order.

    Sorting by disagreement needs every record's estimate, so the first such request dates the
    whole archive (once; the cache keeps the results). The other orders date only the page shown.
    """
    if query.sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}, got {query.sort!r}")
    columns = (Record.id, Record.source_id, Record.title, Record.date_raw, Record.year, Record.status)
    with session_scope(engine) as session:
        total = session.scalar(select(func.count(Record.id))) or 0
    pages = max(1, math.ceil(total / query.per_page))
    page = min(max(1, query.page), pages)
    offset = (page - 1) * query.per_page

    if query.sort == "disagreement":
        with session_scope(engine) as session:
            records = session.execute(select(*columns)).all()
        images = _first_images(engine, None)
        rows = [_row(r, images.get(r.id), cache) for r in records]
        rows.sort(key=lambda row: (row.disagreement is None, -(row.disagreement or 0), row.record_id))
        rows = rows[offset : offset + query.per_page]
    else:
        order = (Record.year.is_(None), Record.year, Record.id) if query.sort == "year" else (Record.id,)
        with session_scope(engine) as session:
            records = session.execute(
                select(*columns).order_by(*order).offset(offset).limit(query.per_page)
            ).all()
        images = _first_images(engine, [r.id for r in records])
        rows = [_row(r, images.get(r.id), cache) for r in records]
    return RecordsPage(rows=rows, page=page, pages=pages, total=total, sort=query.sort)


def warm_estimates(engine: Engine, cache: EstimateCache, stop: threading.Event) -> int:
    """Date every record's image into `cache` (one at a time, so uploads interleave); stops when `stop` is set.

    Returns how many images it looked at. The web app runs this on a background thread at startup so
    the first /records?sort=disagreement finds the archive already dated.
    """
    images = list(_first_images(engine, None).values())
    done = 0
    for image in tqdm(images, desc="dating archive records", unit="image", leave=False):
        if stop.is_set():
            break
        cache.estimate(image)
        done += 1
    return done


def image_path(engine: Engine, image_id: int) -> Path | None:
    """The stored file of image `image_id`, when the database knows it and it exists."""
    with session_scope(engine) as session:
        path = session.scalar(select(Image.path).where(Image.id == image_id))
    if not path or not Path(path).is_file():
        return None
    return Path(path)
