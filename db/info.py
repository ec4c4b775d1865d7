"""`cli.py db info`: what an archive holds — schema version, rows per table, rows per status."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from db.copy import open_archive, table_counts
from db.migrations import current_version, latest_version
from db.models import Base


@dataclass(frozen=True)
class ArchiveInfo:
    backend: str  # sqlite | postgresql | ...
    version: int  # the archive's schema version
    latest: int  # the newest schema version this code knows
    rows: dict[str, int]  # rows per table, in foreign-key order
    statuses: dict[str, dict[str, int]]  # for tables with a status column: rows per status value


def archive_info(url: str) -> ArchiveInfo:
    """Counts of the archive at `url` (NoArchive when there is none)."""
    engine = open_archive(url)
    try:
        with engine.connect() as conn:
            rows = table_counts(conn)
            statuses = {}
            for table in Base.metadata.sorted_tables:
                if "status" in table.columns and table.name in rows:
                    status = table.columns["status"]
                    found = conn.execute(select(status, func.count()).group_by(status).order_by(status)).all()
                    statuses[table.name] = {str(value): count for value, count in found}
            version = current_version(conn)
    finally:
        engine.dispose()
    return ArchiveInfo(backend=engine.dialect.name, version=version, latest=latest_version(), rows=rows,
                       statuses=statuses)


def format_info(info: ArchiveInfo) -> str:
    """The table `cli.py db info` prints: one line per table, its statuses beside it."""
    lines = [f"{info.backend} archive, schema version {info.version} (this code knows up to {info.latest})"]
    width = max(len(name) for name in info.rows)
    for name, count in info.rows.items():
        detail = ", ".join(f"{status} {n}" for status, n in info.statuses.get(name, {}).items())
        lines.append(f"  {name:<{width}}  {count:>8}" + (f"  ({detail})" if detail else ""))
    return "\n".join(lines)
