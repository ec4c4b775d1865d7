"""Freeze the current database schema as tests/data/schema/vN.sql (N = the latest migration).

Run after adding a migration:  python -m scripts.schema_snapshot   (or: make schema-snapshot)

The file holds the SQLite DDL of a fresh database, one statement per line, so that later versions can
check that a database of version N migrates to exactly the schema a fresh database gets
(tests/test_migrations_frozen.py). A snapshot is never rewritten once released: the script refuses to
overwrite a different one unless --force is given.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "schema"


def sqlite_ddl(path: Path) -> str:
    """The CREATE statements of a SQLite file, sorted by type and name, one per line (whitespace folded)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("select type, name, sql from sqlite_master where sql is not null "
                            "and name not like 'sqlite_%' order by type desc, name").fetchall()
    conn.close()
    return "".join(" ".join(sql.split()) + ";\n" for _, _, sql in rows)


def fresh_ddl() -> tuple[int, str]:
    """(latest version, DDL) of a database created fresh by db.session.make_engine from today's models."""
    from db.migrations import latest_version
    from db.session import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fresh.db"
        make_engine(f"sqlite:///{path}").dispose()
        return latest_version(), sqlite_ddl(path)


def snapshot_path(version: int) -> Path:
    return SCHEMA_DIR / f"v{version}.sql"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="Overwrite an existing, different snapshot.")
    args = parser.parse_args(argv)
    version, ddl = fresh_ddl()
    path = snapshot_path(version)
    if path.is_file() and path.read_text(encoding="utf-8") != ddl and not args.force:
        print(f"{path} exists and differs from today's schema. A released schema is frozen: if the models changed, "
              f"add a migration (db/migrations.py) first; pass --force only to redo an unreleased snapshot.",
              file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ddl, encoding="utf-8")
    print(f"wrote {path} (schema version {version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
