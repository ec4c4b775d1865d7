"""Schema versions and the ordered migrations between them.

A fresh database gets the current schema from the models and is stamped with the latest
version. An older database gets each pending migration, in order, inside a transaction.
To change the schema: edit the models, then append a `Migration` that takes a database
of the previous version to the new one (tests/test_db.py checks that both paths agree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Engine, Index, inspect, select, text

from db.errors import PipelineError
from db.estimates import refresh_estimates
from db.models import (
    Base,
    ImageDuplicate,
    ImageEstimate,
    ImageHash,
    OaiHarvest,
    PeopleScan,
    PersonBox,
    Record,
    SchemaVersion,
)


@dataclass(frozen=True)
class Migration:
    version: int  # the schema version this migration produces
    description: str  # one line, stored in schema_version
    apply: Callable[[Connection], None]  # DDL/DML that takes version-1 to version


def _v1_baseline(conn: Connection) -> None:
    # Version 1 is the first schema; a database without schema_version is created fresh.
    Base.metadata.create_all(conn)


def _v2_curation(conn: Connection) -> None:
    # New tables only: the v1 tables are untouched.
    ImageHash.__table__.create(conn, checkfirst=True)
    ImageDuplicate.__table__.create(conn, checkfirst=True)


def _v3_estimates(conn: Connection) -> None:
    # A new table only: the web app keeps the model's estimates instead of dating the archive at each start.
    ImageEstimate.__table__.create(conn, checkfirst=True)


def _v4_oai_harvests(conn: Connection) -> None:
    # A new table only; a withdrawn record is status "deleted", a value of the existing column.
    OaiHarvest.__table__.create(conn, checkfirst=True)


def _add_columns(conn: Connection, columns: list[Column]) -> None:
    """ALTER TABLE ... ADD COLUMN for each model column the table lacks (nullable, no default: portable)."""
    for column in columns:
        table = column.table.name
        if column.name not in {c["name"] for c in inspect(conn).get_columns(table)}:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}"))


def _v5_orientations(conn: Connection) -> None:
    # New nullable columns: old hash rows (variants NULL) are hashed again by the next dedupe,
    # with trimming and all 8 orientations; old verdicts get transform NULL until then.
    hashes, duplicates = ImageHash.__table__.c, ImageDuplicate.__table__.c
    _add_columns(conn, [hashes.variants, hashes.trim, duplicates.transform])


def _v6_estimate_kind(conn: Connection) -> None:
    # One new column; rows written before it came from the served model. A database whose estimates table
    # was created by an older migration from today's model already has it.
    if "kind" not in {column["name"] for column in inspect(conn).get_columns(ImageEstimate.__tablename__)}:
        conn.execute(text("ALTER TABLE estimates ADD COLUMN kind VARCHAR(16) DEFAULT 'model' NOT NULL"))


def _create_index(conn: Connection, index: Index) -> None:
    if index.name not in {i["name"] for i in inspect(conn).get_indexes(index.table.name)}:
        index.create(conn)


def _v7_estimate_evidence(conn: Connection) -> None:
    # New nullable columns (rows of older models keep NULL: no sentence, unknown) and two indexes for /records'
    # filters, so a filtered page stays an index lookup on an archive of millions of records.
    estimates = ImageEstimate.__table__.c
    _add_columns(conn, [estimates.unsure, estimates.sources, estimates.evidence])
    for index in (*ImageEstimate.__table__.indexes, *Record.__table__.indexes):
        if index.name in ("ix_estimates_model_period", "ix_records_holder"):
            _create_index(conn, index)


def _v8_people(conn: Connection) -> None:
    # New tables only: the boxes the detection stage found and, per image, that it was examined.
    PersonBox.__table__.create(conn, checkfirst=True)
    PeopleScan.__table__.create(conn, checkfirst=True)


def _v9_estimates_by_record(conn: Connection) -> None:
    # estimates.image_id becomes nullable (an estimate from the catalogue alone has no image), which neither
    # backend can ALTER portably (SQLite cannot at all): the table is copied aside, created again from the model
    # (new columns, the /records indexes) and refilled with its own ids. Then db/estimates.py fills the new
    # columns for every row, so /records' stored sort and filters hold from the first page after the upgrade.
    kept = ("id", "image_id", "model_key", "year", "low", "high", "period", "probability", "unsure", "sources",
            "evidence", "status", "kind", "error", "created_at")
    columns = ", ".join(kept)
    conn.execute(text(f"CREATE TABLE estimates_v7 AS SELECT {columns} FROM estimates"))
    conn.execute(text("DROP TABLE estimates"))
    ImageEstimate.__table__.create(conn)
    conn.execute(text(f"INSERT INTO estimates ({columns}) SELECT {columns} FROM estimates_v7"))
    conn.execute(text("DROP TABLE estimates_v7"))
    if conn.dialect.name == "postgresql":  # ids were copied: the id sequence continues after the largest
        conn.execute(text("SELECT setval(pg_get_serial_sequence('estimates', 'id'), "
                          "COALESCE((SELECT MAX(id) FROM estimates), 0) + 1, false)"))
    _create_index(conn, next(i for i in Record.__table__.indexes if i.name == "ix_records_year_id"))
    refresh_estimates(conn)


def _v10_estimates_record_year(conn: Connection) -> None:
    # One new column (the record's catalogued year on its estimates) and three indexes that serve an estimate
    # filter and the year order together; db/estimates.py fills the column for every row.
    _add_columns(conn, [ImageEstimate.__table__.c.record_year])
    for index in ImageEstimate.__table__.indexes:
        if index.name.endswith("_year"):
            _create_index(conn, index)
    refresh_estimates(conn)


def _v11_hash_kind(conn: Connection) -> None:
    # Every hash stored so far was computed from the trimmed picture, which NULL stands for (dataset/hashing.py):
    # only a --no-trim run hashes them again.
    _add_columns(conn, [ImageHash.__table__.c.kind])


MIGRATIONS: list[Migration] = [
    Migration(1, "records, images, pages, crawl runs", _v1_baseline),
    Migration(2, "image_hashes, image_duplicates (curation)", _v2_curation),
    Migration(3, "estimates (the web app's dated archive)", _v3_estimates),
    Migration(4, "oai_harvests (incremental OAI-PMH state)", _v4_oai_harvests),
    Migration(5, "hashes of 8 orientations, trimmed borders, matched transform (dedupe)", _v5_orientations),
    Migration(6, "estimates.kind (out-of-fold or the served model)", _v6_estimate_kind),
    Migration(7, "estimates.unsure, sources, evidence; indexes for /records' holder and period filters",
              _v7_estimate_evidence),
    Migration(8, "people, people_scans (faces and figures found per image)", _v8_people),
    Migration(9, "estimates by record (catalogue-only estimates), stored disagreement and suspect for /records",
              _v9_estimates_by_record),
    Migration(10, "estimates.record_year and its indexes: /records' year order under an estimate filter",
              _v10_estimates_record_year),
    Migration(11, "image_hashes.kind: hashed trimmed or whole (dedupe --no-trim)", _v11_hash_kind),
]


class SchemaTooNew(PipelineError):
    """The database was written by a newer version of this toolkit."""


def latest_version() -> int:
    return MIGRATIONS[-1].version


def current_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table(SchemaVersion.__tablename__):
        return None
    return conn.execute(select(SchemaVersion.version).order_by(SchemaVersion.version.desc())).scalar()


def upgrade(engine: Engine) -> int:
    """Bring the database to the latest schema; returns the version it ends at."""
    with engine.begin() as conn:
        version = current_version(conn)
        if version is None:
            Base.metadata.create_all(conn)
            conn.execute(
                SchemaVersion.__table__.insert(),
                [{"version": m.version, "description": m.description} for m in MIGRATIONS],
            )
            return latest_version()
        if version > latest_version():
            raise SchemaTooNew(
                f"Database schema is version {version}, this code knows up to {latest_version()}. "
                "Upgrade the toolkit (pip install -U .) or point --db at another database."
            )
        for migration in MIGRATIONS:
            if migration.version > version:
                migration.apply(conn)
                conn.execute(
                    SchemaVersion.__table__.insert(),
                    {"version": migration.version, "description": migration.description},
                )
        return latest_version()
