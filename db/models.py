"""The archive store: every stage reads and writes these tables.

Column types are portable (no SQLite-only types), so any SQLAlchemy URL works.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Record(Base):
    """One catalogued photograph: its metadata as the archive states it, plus the parsed date."""

    __tablename__ = "records"
    # (year, id) (schema v9): /records' year order as one index walk on PostgreSQL too (SQLite's year index
    # already ends with the rowid)
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_records_source_id"),
                      Index("ix_records_year_id", "year", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    source_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    # schema v7: indexed for /records' holder filter
    holder: Mapped[str | None] = mapped_column(Text, index=True)
    place: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    date_raw: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    year_min: Mapped[int | None] = mapped_column(Integer)
    year_max: Mapped[int | None] = mapped_column(Integer)
    date_precision: Mapped[str] = mapped_column(String(16), default="unknown")
    page_url: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    # sha256 of the extracted fields: tells "updated" from "unchanged" on a refresh.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # ok | incomplete (required field missing) | failed (page could not be read)
    # | deleted (an OAI-PMH repository withdrew it; fields and images are kept)
    status: Mapped[str] = mapped_column(String(16), default="ok", index=True)
    error: Mapped[str | None] = mapped_column(Text)

    images: Mapped[list[Image]] = relationship(back_populates="record", cascade="all, delete-orphan")


class Image(Base):
    """The file behind a record, stored content-addressed by sha256."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("record_id", "url", name="uq_images_record_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(16))
    bytes: Mapped[int | None] = mapped_column(Integer)
    # ok | failed (download or decode failed, see error) | pending
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime)

    record: Mapped[Record] = relationship(back_populates="images")


class Page(Base):
    """A fetched URL that did not yield a record (listing pages, failed record pages): failures are data."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    # listing | record
    kind: Mapped[str] = mapped_column(String(16))
    # ok | failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CrawlRun(Base):
    """One invocation of the crawler, with its counters as JSON text."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    start_url: Mapped[str | None] = mapped_column(Text)
    profile: Mapped[str | None] = mapped_column(String(256))
    # running | finished | interrupted | incomplete (ran to its end with records not stored or pages missing)
    status: Mapped[str] = mapped_column(String(16), default="running")
    stats: Mapped[str | None] = mapped_column(Text)
    refresh: Mapped[bool] = mapped_column(Boolean, default=False)


class ImageHash(Base):
    """A perceptual hash of one stored image by one algorithm (schema v2); computed once, reused by dedupe."""

    __tablename__ = "image_hashes"
    __table_args__ = (UniqueConstraint("image_id", "algorithm", name="uq_image_hashes_image_algorithm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    # phash | dhash (imagehash, 64 bits)
    algorithm: Mapped[str] = mapped_column(String(16))
    # 16 hex digits of the upright picture (after trimming); None when the image could not be decoded
    hash_hex: Mapped[str | None] = mapped_column(String(64))
    # schema v5: the hashes of the 7 other orientations (mirror, flip, rot180, transpose, rot90, rot270,
    # transverse: dataset/orientations.py), space-separated; None on rows hashed before v5 (hashed again);
    # "" when hashed upright only (dedupe --no-transforms; hashed again when orientations are wanted)
    variants: Mapped[str | None] = mapped_column(Text)
    # schema v5: borders trimmed before hashing, "left,top,right,bottom" as shares of the side; None if none
    trim: Mapped[str | None] = mapped_column(String(64))
    # schema v11: trimmed (borders cut before hashing, the default) | plain (the whole picture, dedupe
    # --no-trim); None on rows stored before v11, which are trimmed; a run that wants the other kind hashes again
    kind: Mapped[str | None] = mapped_column(String(16))
    # the Image.sha256 this hash was computed from: a re-downloaded file is hashed again
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    # ok | failed (unreadable file, see error)
    status: Mapped[str] = mapped_column(String(16), default="ok", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImageDuplicate(Base):
    """The latest dedupe verdict for one image (schema v2); rewritten by each dedupe run, no image is deleted."""

    __tablename__ = "image_duplicates"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    # id of the image kept for this image's cluster (itself when kept); every member is within threshold of it
    cluster_id: Mapped[int] = mapped_column(Integer, index=True)
    # connected component of the near-duplicate graph (smallest cluster id in it): splits never cut a group
    group_id: Mapped[int] = mapped_column(Integer, index=True)
    # True for the duplicates left out in favour of the kept image
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # unique | kept | duplicate | unreadable
    role: Mapped[str] = mapped_column(String(16))
    # Hamming distance to the kept image (0 for byte-identical files); None for unique/unreadable
    distance: Mapped[int | None] = mapped_column(Integer)
    # schema v5: how this image shows its kept image: "none", or an orientation such as "mirror" or
    # "rot90" (this image is the kept one mirrored / turned 90 degrees counter-clockwise); None for unique
    transform: Mapped[str | None] = mapped_column(String(16))
    # the algorithm(s) and threshold of the run that wrote this row, e.g. "phash", 8
    algorithm: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImageEstimate(Base):
    """One model's estimate for one stored image (schema v3); written once per model by the web app's archive
    worker or by `cli.py date-undated`; catalogue fields are never touched."""

    __tablename__ = "estimates"
    # (model_key, image_id): one row per image and model; the index also serves "estimates of this model".
    # (model_key, period) (schema v7) serves /records' period filter. Schema v9: the /records indexes below
    # hold the record id last, so each sort and filter of a page walks one index in order (no sort, no join).
    __table_args__ = (UniqueConstraint("model_key", "image_id", name="uq_estimates_model_image"),
                      Index("ix_estimates_model_period", "model_key", "period"),
                      Index("ix_estimates_record", "record_id", "model_key"),
                      Index("ix_estimates_model_gap", "model_key", "disagreement", "record_id"),
                      Index("ix_estimates_model_suspect", "model_key", "suspect", "disagreement", "record_id"),
                      Index("ix_estimates_model_suspect_id", "model_key", "suspect", "record_id"),
                      Index("ix_estimates_model_shown_period", "model_key", "shown", "period", "record_id"),
                      Index("ix_estimates_model_period_gap", "model_key", "period", "disagreement", "record_id"),
                      Index("ix_estimates_model_shown_kind", "model_key", "shown", "kind", "record_id"),
                      Index("ix_estimates_model_kind_gap", "model_key", "kind", "disagreement", "record_id"),
                      Index("ix_estimates_model_suspect_year", "model_key", "suspect", "record_year", "record_id"),
                      Index("ix_estimates_model_shown_period_year", "model_key", "shown", "period", "record_year",
                            "record_id"),
                      Index("ix_estimates_model_shown_kind_year", "model_key", "shown", "kind", "record_year",
                            "record_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the image dated; None (schema v9) for an estimate from the catalogue alone (a record without a stored photograph)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    # (schema v9) the record estimated: the image's record, or the record itself when image_id is None. No foreign
    # key: records are never deleted (a withdrawn one is status "deleted"), and a plain column migrates portably
    record_id: Mapped[int | None] = mapped_column(Integer)
    # the run that answered: its directory name and a digest of its weights, e.g. "lite0-20y:3f2a9c0d51b7e684"
    model_key: Mapped[str] = mapped_column(String(128))
    # the model's year and central interval; None when the image could not be dated (see status)
    year: Mapped[int | None] = mapped_column(Integer)
    low: Mapped[int | None] = mapped_column(Integer)
    high: Mapped[int | None] = mapped_column(Integer)
    # the label of the bin holding `year` (from v7; before, the most probable bin) and its probability
    period: Mapped[str | None] = mapped_column(String(64))
    probability: Mapped[float | None] = mapped_column(Float)
    # (schema v7) the interval is too wide to lead with a year (modeling.answer.UNSURE_WIDTH_YEARS); None before v7
    unsure: Mapped[bool | None] = mapped_column(Boolean)
    # (schema v7) the evidence sources the answer used, comma-separated, e.g. "picture,text"
    sources: Mapped[str | None] = mapped_column(String(128))
    # (schema v7) what the answer rests on: a JSON list of {"source", "es", "en"} sentences
    evidence: Mapped[str | None] = mapped_column(Text)
    # ok | file_missing | unreadable (see error); a failed image is not retried for the same model
    status: Mapped[str] = mapped_column(String(16), default="ok")
    # (schema v6) out_of_fold: from a cross-validation model that never saw this image nor its catalogued year;
    # model: from the served model, which may have been trained on this very record
    kind: Mapped[str] = mapped_column(String(16), default="model", server_default="model")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # (schema v9, kept by db/estimates.py) this is the estimate /records shows for its record: the record's first
    # stored image's, or the catalogue-only one of a record without a stored image
    shown: Mapped[bool | None] = mapped_column(Boolean)
    # (schema v9, kept by db/estimates.py) |catalogued year - year| on the shown estimate; None otherwise
    disagreement: Mapped[int | None] = mapped_column(Integer)
    # (schema v9, kept by db/estimates.py) the shown estimate's interval excludes the whole catalogued date
    suspect: Mapped[bool | None] = mapped_column(Boolean)
    # (schema v10, kept by db/estimates.py) the record's catalogued year, copied here so that /records' year order
    # under an estimate filter (period, kind, suspect) walks one index instead of the whole archive's year order
    record_year: Mapped[int | None] = mapped_column(Integer)


class OaiHarvest(Base):
    """Where the last complete OAI-PMH harvest of one source (and set) ended (schema v4): the next one asks `from` it."""

    __tablename__ = "oai_harvests"
    __table_args__ = (UniqueConstraint("source", "endpoint", "set_spec", name="uq_oai_harvests_source_endpoint_set"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    # the repository's base URL, without a query
    endpoint: Mapped[str] = mapped_column(String(2048))
    # "" for the whole repository
    set_spec: Mapped[str] = mapped_column(String(256), default="")
    metadata_prefix: Mapped[str] = mapped_column(String(64), default="oai_dc")
    # the repository's datestamp granularity from Identify: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ
    granularity: Mapped[str] = mapped_column(String(32))
    # responseDate of the first ListRecords answer of the last complete harvest, as the repository wrote it
    response_date: Mapped[str] = mapped_column(String(32))
    # when that harvest finished (our clock), and how many records and deletions it listed
    completed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    records: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)


class PersonBox(Base):
    """One face or figure the detection stage found in one image (schema v8); `cli.py detect` rewrites an image's rows."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    # face | figure (dataset.people.FACE, FIGURE)
    kind: Mapped[str] = mapped_column(String(16))
    # the box in the pixels of the upright picture at its stored size: (x0, y0) inclusive, (x1, y1) exclusive
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    # the detector's confidence, larger is surer; comparable only within a kind and a detector
    score: Mapped[float] = mapped_column(Float)
    # the detector and settings that found it (dataset.people.detector_version), e.g. "opencv4.12-haar-hog-1:3f2a9c0d"
    detector: Mapped[str] = mapped_column(String(64))


class PeopleScan(Base):
    """That one image was examined for people, by which detector, and what it found (schema v8).

    No row: not examined yet. A row with status ok and people 0: examined, nobody found.
    """

    __tablename__ = "people_scans"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    # the detector and settings of the examination (dataset.people.detector_version); another one examines again
    detector: Mapped[str] = mapped_column(String(64))
    # the Image.sha256 examined: a re-downloaded file is examined again
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    # ok | failed (file missing or unreadable, see error; examined again by the next run)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # boxes found per kind, and people counted once (a face inside a figure is one person); None when failed
    faces: Mapped[int | None] = mapped_column(Integer)
    figures: Mapped[int | None] = mapped_column(Integer)
    people: Mapped[int | None] = mapped_column(Integer)
    # none | portrait (one prominent face) | one (one person, small) | group (two or more); None when failed
    category: Mapped[str | None] = mapped_column(String(16))
    examined_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SchemaVersion(Base):
    """One row per applied migration; the highest version is the schema's."""

    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    description: Mapped[str] = mapped_column(String(256))
