"""Date the archive's stored images (in the background, or all at once for `cli.py date-undated`) and keep
the answers in the database.

`ArchiveDater` dates, in batches, every stored image (images.status = 'ok'; with `undated_only`, only those
of records without a catalogued year) that has no row in `estimates` for this model yet, and commits each
batch. The dater reads each record's catalogue facts (title, description, holder, place) with its picture;
each row keeps the Answer: year, interval, the period holding the year, unsure, sources and evidence.
Catalogue fields are never written. A restart resumes where it stopped; a file
that is missing or cannot be decoded gets a row with its reason, so it is not tried again.
Uploads go first: before each forward pass the worker waits until no upload is being dated.
A run trained with --cv brings each exported image's out-of-fold estimate (oof.csv); those are stored
first, with kind 'out_of_fold', so the records page compares a catalogued year with a model that never
saw it. Every other image is dated by the served model (kind 'model').

>>> dater = ArchiveDater(engine, load_dater(run_dir), model_key(run_dir))  # doctest: +SKIP
>>> dater.start(); dater.join(timeout=60)                         # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from dataset.imageio import load_image
from db.estimates import refresh_estimates
from db.models import Image, ImageEstimate, Record
from db.progress import progress
from db.session import session_scope
from modeling.answer import INTERVAL_LEVEL, Answer, Dater, Evidence, RecordFacts, make_answer
from modeling.errors import ImageTooLarge, UnreadableImage
from modeling.evidence.fit import read_fused_oof
from modeling.features.run import read_oof
from modeling.inference.dater import FUSION_FILE

WEIGHTS_FILE = "model.safetensors"
DIGEST_BYTES = 1024 * 1024  # the weights' first MiB (and their size) tell two trainings apart
BATCH_SIZE = 32  # images per forward pass: one batch is the longest an upload can wait
ID_CHUNK = 500  # image ids per IN (...) when looking up their records


def model_key(run_dir: str | Path) -> str:
    """Which run's estimates these are: the run directory's name and a digest of its weights.

    Retraining into the same directory changes the weights (or the fusion), so the archive is dated again.

    >>> model_key("runs/demo/lite0-20y")  # doctest: +SKIP
    'lite0-20y:5f0c3b9e2d1a4c77'
    """
    weights = Path(run_dir) / WEIGHTS_FILE
    digest = hashlib.sha256(str(weights.stat().st_size).encode())
    with weights.open("rb") as handle:
        digest.update(handle.read(DIGEST_BYTES))
    fusion = Path(run_dir) / FUSION_FILE
    if fusion.is_file():
        digest.update(fusion.read_bytes())
    return f"{Path(run_dir).resolve().name[:100]}:{digest.hexdigest()[:16]}"


class UploadsFirst:
    """Counts the uploads being dated; the archive worker waits for none before each batch."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = threading.Condition()

    @contextmanager
    def upload(self) -> Iterator[None]:
        """Hold this while an upload is received, queued and dated."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, stop: threading.Event) -> None:
        """Return once no upload is being dated (or `stop` is set)."""
        with self._idle:
            while self._active and not stop.is_set():
                self._idle.wait(timeout=0.1)


@dataclass(frozen=True)
class PendingImage:
    image_id: int  # images.id
    path: str | None  # the stored file, as the crawler recorded it
    facts: RecordFacts = RecordFacts()  # what its record's catalogue says besides the date


def _failed(image: PendingImage, status: str, error: str) -> dict:
    return {"image_id": image.image_id, "year": None, "low": None, "high": None, "period": None,
            "probability": None, "unsure": None, "sources": None, "evidence": None, "status": status,
            "error": error, "kind": "model"}


def evidence_json(evidence) -> str:
    return json.dumps([{"source": e.source, "es": e.es, "en": e.en} for e in evidence], ensure_ascii=False)


def read_evidence(text: str | None) -> tuple[Evidence, ...]:
    """The stored evidence column back as Evidence sentences (none for rows written before schema v7)."""
    return tuple(Evidence(e["source"], e["es"], e["en"]) for e in json.loads(text)) if text else ()


def answer_row(image_id: int, said: Answer, kind: str = "model") -> dict:
    """An estimates row holding one Answer."""
    return {"image_id": image_id, "year": said.year, "low": said.low, "high": said.high, "period": said.period,
            "probability": dict(said.top).get(said.period), "unsure": said.unsure,
            "sources": ",".join(said.sources), "evidence": evidence_json(said.evidence), "status": "ok",
            "error": None, "kind": kind}


def out_of_fold_for(run_dir: str | Path, run_config: dict, db_url: str) -> list[dict]:
    """The run's out-of-fold rows when its export came from the database at `db_url` (image ids mean the same
    images there): the fusion's (RUN_DIR/fusion/oof.csv, resting on all the evidence) when the run has one, else
    the picture's (oof.csv); otherwise none, and the served model dates every image."""
    exported_from = (run_config.get("validated_on") or {}).get("database")
    if not exported_from or _render(exported_from) != _render(db_url):
        return []
    return read_fused_oof(run_dir) or read_oof(run_dir)


def _render(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _held_out_evidence(sources: tuple[str, ...], low: int, high: int) -> Evidence:
    """What a cross-validation estimate rests on, in plain words (who estimated it is the row's own label).

    >>> _held_out_evidence(("picture",), 1990, 2005).en
    'the picture: 1990–2005'
    """
    if sources == ("picture",):
        return Evidence("picture", f"la imagen: {low}–{high}", f"the picture: {low}–{high}")
    return Evidence("+".join(sources), f"la imagen y el catálogo: {low}–{high}",
                    f"the picture and the catalogue: {low}–{high}")


def out_of_fold_rows(oof: list[dict], edges, labels) -> list[dict]:
    """Estimate rows (kind out_of_fold) from a run's oof.csv rows (modeling.features.run.read_oof), each an
    Answer through make_answer (so the period is the one holding the year) that says who estimated it."""
    rows = []
    for row in oof:
        if int(row["image_id"] or 0) <= 0:
            continue
        low, high = int(row["low"]), int(row["high"])
        sources = tuple((row.get("sources") or "picture").split(","))
        said = make_answer(float(row["estimate"]), low, high, INTERVAL_LEVEL, edges=edges, labels=labels,
                           sources=sources, evidence=(_held_out_evidence(sources, low, high),))
        rows.append(answer_row(int(row["image_id"]), said, kind="out_of_fold"))
    return rows


class ArchiveDater:
    """A background thread that dates the archive's undated images for one model, batch by batch."""

    def __init__(self, engine: Engine, dater: Dater, key: str, *, batch_size: int = BATCH_SIZE,
                 uploads: UploadsFirst | None = None, progress: bool = True,
                 decodes: threading.BoundedSemaphore | None = None, undated_only: bool = False) -> None:
        self.engine, self.dater, self.key = engine, dater, key  # dater: any Dater with an img_size
        self.batch_size = batch_size
        self.undated_only = undated_only  # date only images of records without a catalogued year
        self.uploads = uploads or UploadsFirst()
        self.progress = progress  # show a tqdm bar on stderr (the server's terminal)
        self.decodes = decodes or threading.BoundedSemaphore(1)  # shared with uploads: pictures decoded at once
        self.dated = 0  # estimate rows this process wrote (good and failed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker thread unless it is running (or stopped): a finished one looks again for new images."""
        with self._start_lock:
            if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self.run, name="date-archive", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the worker to stop after its current batch and wait up to `timeout` seconds for it."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to finish; True when it has (False when not started or still working)."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _undated(self, *columns):
        known = and_(ImageEstimate.image_id == Image.id, ImageEstimate.model_key == self.key)
        stmt = (select(*columns).select_from(Image).join(Record, Record.id == Image.record_id)
                .outerjoin(ImageEstimate, known).where(Image.status == "ok", ImageEstimate.id.is_(None)))
        return stmt.where(Record.year.is_(None)) if self.undated_only else stmt

    def pending(self, after_id: int, limit: int) -> list[PendingImage]:
        """Up to `limit` stored images without an estimate for this model, by id, after `after_id`."""
        stmt = (self._undated(Image.id, Image.path, Record.title, Record.description, Record.holder, Record.place)
                .where(Image.id > after_id).order_by(Image.id).limit(limit))
        with session_scope(self.engine) as session:
            return [PendingImage(image_id, path, RecordFacts(title, description, holder, place))
                    for image_id, path, title, description, holder, place in session.execute(stmt)]

    def pending_count(self) -> int:
        """How many stored images have no estimate for this model yet."""
        with session_scope(self.engine) as session:
            return session.scalar(self._undated(func.count(Image.id))) or 0

    def run(self) -> int:
        """Date every pending image (what the thread runs); returns how many rows it wrote."""
        undated = self.pending_count()
        bar = progress(total=undated, desc="dating the archive", unit="image",
                       enabled=self.progress and bool(undated))
        after_id = 0
        try:
            while not self._stop.is_set():
                batch = self.pending(after_id, self.batch_size)
                if not batch:
                    break
                rows = self.date_batch(batch)
                if self._stop.is_set():
                    break
                self.dated += self._store(rows)
                after_id = batch[-1].image_id
                bar.update(len(batch))
        finally:
            bar.close()
        return self.dated

    def store_out_of_fold(self, oof: list[dict], edges, labels) -> int:
        """Keep a --cv run's out-of-fold estimates for the images this database holds (before any dating),
        so the records page compares each catalogued year with a model that never saw it; returns rows written."""
        rows = out_of_fold_rows(oof, edges, labels)
        with session_scope(self.engine) as session:
            known = set(session.scalars(select(Image.id).where(Image.status == "ok")))
        return self._store([row for row in rows if row["image_id"] in known]) if rows else 0

    def date_batch(self, batch: list[PendingImage]) -> list[dict]:
        """One estimate row per image: decoded at the model's size, dated with its record's facts in one pass."""
        rows, pictures, decoded = [], [], []
        for image in batch:
            if not image.path or not Path(image.path).is_file():
                rows.append(_failed(image, "file_missing", f"file missing: {image.path or '(no path recorded)'}"))
                continue
            try:
                with self.decodes:
                    pictures.append(load_image(Path(image.path), min_side=self.dater.img_size))
                decoded.append(image)
            except (UnreadableImage, ImageTooLarge) as exc:
                rows.append(_failed(image, "unreadable", str(exc)))
            except OSError as exc:
                rows.append(_failed(image, "unreadable", f"cannot read {image.path}: {exc}"))
        if pictures:
            self.uploads.wait_idle(self._stop)
            answers = self.dater.date([image.facts for image in decoded], pictures)
            rows.extend(answer_row(image.image_id, said) for image, said in zip(decoded, answers, strict=True))
        return rows

    def _store(self, rows: list[dict]) -> int:
        """Insert the batch in one transaction, with the stored /records columns of the records it touches
        (db/estimates.py); rows another process wrote meanwhile are left as they are."""
        for row in rows:
            row["model_key"] = self.key
        with session_scope(self.engine) as session:
            _with_record_ids(session, rows)
        try:
            with session_scope(self.engine) as session:
                session.execute(ImageEstimate.__table__.insert(), rows)
                refresh_estimates(session.connection(), [row["record_id"] for row in rows])
            return len(rows)
        except IntegrityError:
            ids = [row["image_id"] for row in rows]
            with session_scope(self.engine) as session:
                taken = set(session.scalars(select(ImageEstimate.image_id).where(
                    ImageEstimate.model_key == self.key, ImageEstimate.image_id.in_(ids))))
                fresh = [row for row in rows if row["image_id"] not in taken]
                if fresh:
                    session.execute(ImageEstimate.__table__.insert(), fresh)
                    refresh_estimates(session.connection(), [row["record_id"] for row in fresh])
            return len(fresh)


def _with_record_ids(session, rows: list[dict]) -> None:
    """Set each image estimate's record_id from its image (a catalogue-only row carries its own)."""
    ids = [row["image_id"] for row in rows if row.get("image_id") is not None]
    owners: dict[int, int] = {}
    for start in range(0, len(ids), ID_CHUNK):
        owners.update((image_id, record_id) for image_id, record_id in session.execute(
            select(Image.id, Image.record_id).where(Image.id.in_(ids[start:start + ID_CHUNK]))))
    for row in rows:
        if row.get("image_id") is not None:
            row["record_id"] = owners.get(row["image_id"])
