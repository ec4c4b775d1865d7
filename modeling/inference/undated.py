"""Date the undated: estimate every record without a catalogued year, and export suggestions for cataloguing.

`date_undated` runs the archive worker (modeling/app/dating.py) in the foreground over the images of records
whose year is empty, with the run's dater (picture, or picture and catalogue facts when the run has a fusion).
Each estimate is stored in `estimates` under the model's key (run name + weights digest), with its evidence
and sources: the catalogue's own fields are never written. A second run resumes (what is stored is not
dated again); a new model (another key) estimates everything again. A run with a fusion also estimates the
undated records that have no stored photograph, from their catalogue alone (title, description, holder, place):
those rows have no image (schema v9) and say so; a record whose catalogue gives the fusion nothing to read gets
a row with status "no_evidence" instead, so it is not asked again. `write_suggestions` writes the CSV a
cataloguing system can import: source_id, catalogued date, estimate, interval, period, evidence.

>>> date_undated(engine, UndatedConfig(run_dir=Path("runs/lite0-head-20y"), csv=Path("suggestions.csv")))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, and_, func, select, true

from db import csvsafe
from db.estimates import refresh_estimates
from db.models import Image, ImageEstimate, Record
from db.session import session_scope
from modeling.answer import Dater, RecordFacts
from modeling.app.dating import ArchiveDater, answer_row, model_key, read_evidence
from modeling.evidence.dater import FusedDater
from modeling.inference.dater import load_dater

SUGGESTION_COLUMNS = ("source_id", "title", "holder", "catalogued_date", "estimate", "low", "high", "period", "unsure",
                      "evidence_es", "evidence_en", "estimated_by", "model", "rests_on")
CHUNK = 1000  # rows fetched at a time while writing suggestions (archives reach millions of records)
CATALOGUE_BATCH = 1000  # records dated at a time from their catalogue alone (no pictures to decode)
CATALOGUE_SOURCES = frozenset({"text", "explicit_date", "holder", "place"})  # what a record without a picture can offer
NO_EVIDENCE = "the catalogue gives the model nothing to read (no title, description, holder or place it knows)"


@dataclass(frozen=True)
class UndatedConfig:
    run_dir: Path  # the run that estimates (load_dater picks picture-only or fused)
    csv: Path | None = None  # write suggestions here after dating; None: none
    with_suspect: bool = False  # the CSV also lists dated records whose catalogued date lies outside the interval
    batch_size: int = 32  # pictures per forward pass
    progress: bool = True  # a progress bar on stderr


@dataclass(frozen=True)
class UndatedResult:
    model_key: str  # whose estimates these are
    undated_records: int  # records without a catalogued year
    without_image: int  # of them, records with no stored image (nothing to estimate from)
    resumed: int  # undated images this model had estimated before this run
    dated: int  # estimate rows written by this run (photographs)
    from_catalogue: int  # of the records without a stored photograph, those estimated now from the catalogue alone
    failed: int  # of all this model's estimates of undated images, those whose file could not be read
    suggestions: int | None  # rows written to the CSV (None without --csv)


def _undated_counts(engine: Engine, key: str) -> tuple[int, int, int, int]:
    """(undated records, of them without a stored image, undated images estimated by `key`, of them failed)."""
    has_image = select(Image.id).where(Image.record_id == Record.id, Image.status == "ok").exists()
    estimated = (select(func.count(ImageEstimate.id), func.count(ImageEstimate.id).filter(ImageEstimate.status != "ok"))
                 .select_from(ImageEstimate).join(Image, Image.id == ImageEstimate.image_id)
                 .join(Record, Record.id == Image.record_id)
                 .where(ImageEstimate.model_key == key, Record.year.is_(None)))
    with session_scope(engine) as session:
        undated = session.scalar(select(func.count(Record.id)).where(Record.year.is_(None))) or 0
        without = session.scalar(select(func.count(Record.id)).where(Record.year.is_(None), ~has_image)) or 0
        done, failed = session.execute(estimated).one()
    return undated, without, done or 0, failed or 0


def date_undated(engine: Engine, config: UndatedConfig) -> UndatedResult:
    """Estimate every undated record's stored image(s) not yet estimated by this run's model, then (a fused run)
    the undated records without a stored photograph from their catalogue; then the CSV."""
    key = model_key(config.run_dir)
    _, _, resumed, _ = _undated_counts(engine, key)
    dater = load_dater(config.run_dir)
    worker = ArchiveDater(engine, dater, key, batch_size=config.batch_size, progress=config.progress,
                          undated_only=True)
    dated = worker.run()
    from_catalogue = date_from_catalogue(engine, dater, key) if isinstance(dater, FusedDater) else 0
    undated, without, _, failed = _undated_counts(engine, key)
    written = write_suggestions(engine, key, config.csv, config.with_suspect) if config.csv else None
    return UndatedResult(model_key=key, undated_records=undated, without_image=without, resumed=resumed,
                         dated=dated, from_catalogue=from_catalogue, failed=failed, suggestions=written)


def date_from_catalogue(engine: Engine, dater: Dater, key: str) -> int:
    """Estimate, from the catalogue alone, each undated record without a stored photograph that `key` has not
    estimated yet (resumable); returns how many got an estimate resting on some catalogue source."""
    has_image = select(Image.id).where(Image.record_id == Record.id, Image.status == "ok").exists()
    estimated = select(ImageEstimate.id).where(ImageEstimate.record_id == Record.id,
                                               ImageEstimate.model_key == key).exists()
    pending = (select(Record.id, Record.title, Record.description, Record.holder, Record.place)
               .where(Record.year.is_(None), ~has_image, ~estimated).order_by(Record.id).limit(CATALOGUE_BATCH))
    after, estimated_now = 0, 0
    while True:
        with session_scope(engine) as session:
            batch = session.execute(pending.where(Record.id > after)).all()
        if not batch:
            return estimated_now
        answers = dater.date([RecordFacts(r.title, r.description, r.holder, r.place) for r in batch],
                             [None] * len(batch))
        rows = []
        for record, said in zip(batch, answers, strict=True):
            if CATALOGUE_SOURCES.intersection(said.sources):
                rows.append({**answer_row(None, said), "record_id": record.id, "model_key": key})
            else:
                rows.append({"image_id": None, "record_id": record.id, "model_key": key, "year": None, "low": None,
                             "high": None, "period": None, "probability": None, "unsure": None, "sources": None,
                             "evidence": None, "status": "no_evidence", "error": NO_EVIDENCE, "kind": "model"})
        with session_scope(engine) as session:
            session.execute(ImageEstimate.__table__.insert(), rows)
            refresh_estimates(session.connection(), [record.id for record in batch])
        estimated_now += sum(row["status"] == "ok" for row in rows)
        after = batch[-1].id


def write_suggestions(engine: Engine, key: str, path: Path, with_suspect: bool = False) -> int:
    """The CSV for the cataloguing system: each undated record (and, `with_suspect`, each suspect one) that
    `key` estimated, one row per record (its first stored image), in record order; returns the rows written."""
    wanted = Record.year.is_(None)
    if with_suspect:
        wanted = wanted | (ImageEstimate.suspect == true())
    stmt = (select(Record.source_id, Record.title, Record.holder, Record.date_raw, ImageEstimate.year,
                   ImageEstimate.low, ImageEstimate.high, ImageEstimate.period, ImageEstimate.unsure,
                   ImageEstimate.evidence, ImageEstimate.kind, ImageEstimate.image_id)
            .select_from(Record).join(ImageEstimate, and_(ImageEstimate.record_id == Record.id,
                                                          ImageEstimate.model_key == key, ImageEstimate.shown == true()))
            .where(ImageEstimate.status == "ok", wanted).order_by(Record.id))
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle, session_scope(engine) as session:
        writer = csvsafe.writer(handle)
        writer.writerow(SUGGESTION_COLUMNS)
        for row in session.execute(stmt.execution_options(yield_per=CHUNK)):
            evidence = read_evidence(row.evidence)
            writer.writerow([row.source_id, row.title or "", row.holder or "", row.date_raw or "", row.year, row.low,
                             row.high, row.period, "yes" if row.unsure else "no",
                             "; ".join(e.es for e in evidence), "; ".join(e.en for e in evidence),
                             "cross-validation (never saw it)" if row.kind == "out_of_fold" else "model", key,
                             "catalogue only" if row.image_id is None else "photograph"])
            written += 1
    return written
