"""Migrations against frozen schemas: a database of every released version migrates to exactly a fresh one.

tests/data/schema/vN.sql is the SQLite DDL that version N of the toolkit created (v1 and v2 were
regenerated from db/models.py at the commits that released them; later ones are written by
`python -m scripts.schema_snapshot` when a migration is added). The old side is built from those files,
never from today's models, so a model change without a migration fails here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from db.migrations import MIGRATIONS, latest_version
from db.session import make_engine
from scripts.schema_snapshot import SCHEMA_DIR, snapshot_path

SNAPSHOT_FIX = "Run 'python -m scripts.schema_snapshot' (make schema-snapshot) after adding the migration."
SNAPSHOTS = sorted(int(p.stem[1:]) for p in SCHEMA_DIR.glob("v*.sql"))


def structure(url: str) -> dict:
    """Tables, columns (type, nullability, default), keys, indexes and constraints, as SQLAlchemy reads them."""
    engine = create_engine(url)
    with engine.connect() as conn:
        insp = inspect(conn)
        found = {
            table: {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                                  for c in insp.get_columns(table)),
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                               str(f.get("options"))) for f in insp.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in insp.get_indexes(table)),
                "uniques": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
                "checks": sorted(str(c["sqltext"]) for c in insp.get_check_constraints(table)),
            }
            for table in insp.get_table_names()
        }
    engine.dispose()
    return found


def frozen_database(path: Path, version: int) -> str:
    """A SQLite file as version `version` left it: its frozen DDL, its schema_version rows and one record."""
    with sqlite3.connect(path) as conn:
        conn.executescript(snapshot_path(version).read_text(encoding="utf-8"))
        conn.executemany("insert into schema_version(version, applied_at, description) values (?, '2024-01-01', ?)",
                         [(m.version, m.description) for m in MIGRATIONS if m.version <= version])
        conn.execute("insert into records(source, source_id, date_raw, year, date_precision, status, first_seen, "
                     "last_seen) values ('a', '1', '1950', 1950, 'year', 'ok', '2024-01-01', '2024-01-01')")
        conn.execute("insert into images(record_id, url, status) values (1, 'http://127.0.0.1/1.jpg', 'ok')")
    conn.close()
    return f"sqlite:///{path}"


def test_every_version_has_a_frozen_schema():
    missing = [m.version for m in MIGRATIONS if not snapshot_path(m.version).is_file()]
    assert not missing, f"No frozen schema for version(s) {missing} in {SCHEMA_DIR}. {SNAPSHOT_FIX}"
    assert SNAPSHOTS == [m.version for m in MIGRATIONS]


def test_the_models_match_the_latest_frozen_schema(tmp_path):
    """Fails when a model changes without a new migration: today's fresh schema must be the latest frozen one."""
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    make_engine(fresh).dispose()
    frozen = f"sqlite:///{tmp_path / 'frozen.db'}"
    with sqlite3.connect(tmp_path / "frozen.db") as conn:
        conn.executescript(snapshot_path(latest_version()).read_text(encoding="utf-8"))
    conn.close()
    assert structure(fresh) == structure(frozen), (
        f"db/models.py no longer creates the schema of version {latest_version()} (tests/data/schema/"
        f"v{latest_version()}.sql): add a Migration to db/migrations.py for the change. {SNAPSHOT_FIX}")


@pytest.mark.parametrize("version", SNAPSHOTS)
def test_a_frozen_database_migrates_to_the_fresh_schema(tmp_path, version):
    old = frozen_database(tmp_path / f"v{version}.db", version)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    make_engine(fresh).dispose()
    if version < latest_version():
        assert structure(old) != structure(fresh)  # there is something to migrate
    make_engine(old).dispose()
    assert structure(old) == structure(fresh)
    engine = create_engine(old)
    with engine.connect() as conn:
        versions = conn.execute(text("select version from schema_version order by version")).scalars().all()
        assert versions == [m.version for m in MIGRATIONS]
        assert conn.execute(text("select source_id, date_raw, year from records")).all() == [("1", "1950", 1950)]
        assert conn.execute(text("select url from images")).scalars().all() == ["http://127.0.0.1/1.jpg"]
    engine.dispose()


def test_the_snapshot_script_writes_what_a_fresh_database_holds(tmp_path, monkeypatch):
    from scripts import schema_snapshot

    committed = snapshot_path(latest_version()).read_text()
    monkeypatch.setattr(schema_snapshot, "SCHEMA_DIR", tmp_path)
    assert schema_snapshot.main([]) == 0
    written = tmp_path / f"v{latest_version()}.sql"
    assert written.read_text() == committed
    written.write_text("CREATE TABLE other (id INTEGER);\n")
    assert schema_snapshot.main([]) == 1  # a released snapshot is not silently rewritten
