"""The detection stage (`cli.py detect`): find the faces and figures in every stored image, keep them.

Each image is decoded once (dataset/imageio.py), upright, in greyscale, at the smallest JPEG scale that
still gives the detector its full working size (PeopleConfig.max_side), and handed to
dataset.people.detect_people. Boxes are stored in the pixels of the upright picture at its stored size
(table `people`), and a row in `people_scans` says the image was examined, by which detector, and what
it shows (none | portrait | one | group), so "nobody found" differs from "not examined yet". A run
skips images examined by the same detector version whose file is unchanged, and commits every
COMMIT_EVERY images, so an interrupted run keeps what it did. A file that is missing or cannot be
decoded becomes a failed row with its reason, examined again by the next run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, Select, and_, delete, func, insert, or_, select

from dataset.imageio import UnreadableImage, load_image
from dataset.people import (
    CATEGORIES,
    FACE,
    FIGURE,
    PeopleConfig,
    Person,
    category,
    count_people,
    detect_people,
    detector_version,
)
from db.models import Image, PeopleScan, PersonBox, utcnow
from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import progress as progress_bar
from db.session import session_scope

COMMIT_EVERY = 50  # images examined between two commits: what an interrupted run keeps
READ_ROWS = 1000  # pending image rows read from the database at a time


@dataclass(frozen=True)
class DetectConfig:
    people: PeopleConfig = PeopleConfig()  # the detector's settings (their digest is part of the detector version)
    redo: bool = False  # examine again images already examined by this detector version
    limit: int | None = None  # examine at most this many images this run (None: all pending)
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures become failed rows (db.pixels)
    progress: bool = True  # tqdm bar on stderr


@dataclass(frozen=True)
class DetectFailure:
    image_id: int  # images.id
    path: str | None  # the stored file
    error: str  # why it could not be examined


@dataclass(frozen=True)
class DetectSummary:
    detector: str  # the detector version that examined them
    examined: int  # images examined in this run (failures not included)
    skipped: int  # images already examined by this detector version, left alone
    failed: list[DetectFailure]  # could not be examined, each with its reason
    categories: dict[str, int] = field(default_factory=dict)  # category -> images examined in this run
    faces: int = 0  # face boxes found in this run
    figures: int = 0  # figure boxes found in this run
    left: int = 0  # pending images not examined because of `limit`


@dataclass(frozen=True)
class ImageFindings:
    boxes: list[Person]  # in the pixels of the upright picture at its stored size
    people: int  # people counted once (dataset.people.count_people)
    category: str  # dataset.people.CATEGORIES
    width: int  # the upright picture's width at its stored size, the boxes' frame
    height: int  # its height


def examine(source: str | Path | bytes, width: int | None, height: int | None, config: PeopleConfig,
            max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageFindings:
    """The people in one file (a path, or its bytes), boxes scaled to its stored size.

    `width` and `height` are the stored size as the header gives it (before EXIF orientation; None if unknown:
    the boxes are then in the decoded picture's pixels). Raises UnreadableImage (or PeopleUnavailable).
    """
    short_needed = config.max_side
    if width and height:  # the long side must reach max_side: ask the decoder for the matching short side
        short_needed = math.ceil(config.max_side * min(width, height) / max(width, height))
    picture = load_image(source, "L", min_side=short_needed, max_pixels=max_pixels)
    found = detect_people(picture, config)
    scale = max(width, height) / max(picture.size) if width and height else 1.0
    if scale != 1.0:
        found = [Person(p.kind, int(p.x0 * scale), int(p.y0 * scale), math.ceil(p.x1 * scale),
                        math.ceil(p.y1 * scale), p.score) for p in found]
    size = (round(picture.width * scale), round(picture.height * scale))
    return ImageFindings(found, count_people(found), category(found, *size, config), *size)


def run_detect(engine: Engine, config: DetectConfig) -> DetectSummary:
    """Examine every stored image not yet examined by this detector version; store boxes and a scan row each."""
    detector = detector_version(config.people)
    query = _pending_query(detector, config.redo)
    with session_scope(engine) as session:
        pending = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        stored = session.execute(select(func.count()).select_from(Image).where(Image.status == "ok")).scalar_one()
    todo = pending if config.limit is None else min(config.limit, pending)
    categories = {name: 0 for name in CATEGORIES}
    failed: list[DetectFailure] = []
    faces = figures = examined = 0
    batch: list[tuple[int, str | None, ImageFindings | None, str | None]] = []
    bar = progress_bar(total=todo, desc="Detecting people", unit="img", enabled=config.progress)
    for image_id, path, sha256, width, height in _rows(engine, query, todo):
        try:
            if path is None:
                raise UnreadableImage("no stored file")
            findings = examine(path, width, height, config.people, config.max_pixels)
        except UnreadableImage as exc:
            failed.append(DetectFailure(image_id, path, str(exc)))
            batch.append((image_id, sha256, None, str(exc)))
        else:
            examined += 1
            categories[findings.category] += 1
            faces += sum(p.kind == FACE for p in findings.boxes)
            figures += sum(p.kind == FIGURE for p in findings.boxes)
            batch.append((image_id, sha256, findings, None))
        bar.update(1)
        if len(batch) >= COMMIT_EVERY:
            _store(engine, detector, batch)
            batch = []
    _store(engine, detector, batch)
    bar.close()
    return DetectSummary(detector, examined, stored - pending, failed, categories, faces, figures, pending - todo)


def _pending_query(detector: str, redo: bool) -> Select:
    """(image_id, path, sha256, width, height) of the stored images to examine, by id."""
    done = and_(PeopleScan.status == "ok", PeopleScan.detector == detector,
                or_(PeopleScan.image_sha256 == Image.sha256,
                    and_(PeopleScan.image_sha256.is_(None), Image.sha256.is_(None))))
    query = (select(Image.id, Image.path, Image.sha256, Image.width, Image.height)
             .outerjoin(PeopleScan, PeopleScan.image_id == Image.id).where(Image.status == "ok").order_by(Image.id))
    return query if redo else query.where(or_(PeopleScan.image_id.is_(None), ~done))


def _rows(engine: Engine, query: Select, todo: int) -> Iterator[tuple]:
    """The first `todo` rows of `query`, READ_ROWS at a time (by id), so an archive of millions never sits in memory."""
    last, given = 0, 0
    while given < todo:
        with session_scope(engine) as session:
            rows = session.execute(query.where(Image.id > last).limit(min(READ_ROWS, todo - given))).all()
        if not rows:
            return
        yield from (tuple(row) for row in rows)
        given, last = given + len(rows), rows[-1][0]


def _store(engine: Engine, detector: str, batch: list[tuple[int, str | None, ImageFindings | None, str | None]]) -> None:
    if not batch:
        return
    ids = [image_id for image_id, *_ in batch]
    boxes, scans = [], []
    for image_id, sha256, findings, error in batch:
        scan = {"image_id": image_id, "detector": detector, "image_sha256": sha256, "examined_at": utcnow(),
                "status": "failed" if findings is None else "ok", "error": error,
                "faces": None, "figures": None, "people": None, "category": None}
        if findings is not None:
            scan.update(faces=sum(p.kind == FACE for p in findings.boxes),
                        figures=sum(p.kind == FIGURE for p in findings.boxes),
                        people=findings.people, category=findings.category)
            boxes += [{"image_id": image_id, "kind": p.kind, "x0": p.x0, "y0": p.y0, "x1": p.x1, "y1": p.y1,
                       "score": p.score, "detector": detector} for p in findings.boxes]
        scans.append(scan)
    with session_scope(engine) as session:
        session.execute(delete(PersonBox).where(PersonBox.image_id.in_(ids)))
        session.execute(delete(PeopleScan).where(PeopleScan.image_id.in_(ids)))
        if boxes:
            session.execute(insert(PersonBox), boxes)
        session.execute(insert(PeopleScan), scans)


def format_summary(summary: DetectSummary) -> str:
    """A few lines for the terminal: what was examined, what it shows, what failed and why."""
    c = summary.categories
    lines = [f"Examined {summary.examined} images for people ({summary.skipped} already examined, "
             f"{len(summary.failed)} failed) with {summary.detector}.",
             f"Found {summary.faces} faces and {summary.figures} figures: {c.get('portrait', 0)} portraits, "
             f"{c.get('group', 0)} groups, {c.get('one', 0)} with one small person, {c.get('none', 0)} with nobody."]
    for failure in summary.failed[:10]:
        lines.append(f"  failed: image {failure.image_id} ({failure.path}): {failure.error}")
    if len(summary.failed) > 10:
        lines.append(f"  ... and {len(summary.failed) - 10} more (people_scans rows with status 'failed').")
    if summary.left:
        lines.append(f"{summary.left} images left for the next run (--limit).")
    return "\n".join(lines)
