"""`cli.py db copy`: move an archive between databases (SQLite <-> PostgreSQL), ids and schema version kept.

The copy walks `Base.metadata` in foreign-key order, so a table added by a later migration comes along
without touching this module. The whole copy (dropping a --force'd target's tables, creating the schema,
every row, PostgreSQL's sequence reset) is one transaction on the target: a copy that fails half way
leaves the target as it was, and an empty target empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from db.errors import PipelineError
from db.migrations import current_version, upgrade
from db.models import Base
from db.progress import progress
from db.session import database_error, make_engine

# Rows read from the source and inserted into the target per round trip.
CHUNK_ROWS = 2000


class NoArchive(PipelineError):
    """The database to read from does not exist or holds no archive."""


class TargetNotEmpty(PipelineError):
    """The database to copy into already holds rows."""


@dataclass(frozen=True)
class CopyConfig:
    source_url: str  # SQLAlchemy URL of the archive to read (brought to the latest schema first, as every command does)
    target_url: str  # SQLAlchemy URL to write; must hold no rows unless `force`
    force: bool = False  # replace the target's tables (and their rows) instead of refusing
    progress: bool = True  # a bar of rows copied out of the source's rows, on stderr (a million rows take minutes)


@dataclass(frozen=True)
class CopyResult:
    version: int  # schema version of source and target
    rows: dict[str, int]  # rows copied per table, in copy order


def open_archive(url: str, option: str = "--db") -> Engine:
    """An engine on an existing archive, brought to the latest schema; NoArchive when there is none at `url`.

    A database that cannot be reached raises DatabaseUnavailable naming `url` and `option` (the option that gave it).
    """
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise NoArchive(f"No archive at {shown(url)}: {path} does not exist. Check the URL, or run "
                        f"'cli.py crawl' or 'cli.py import' to make one.")
    engine = make_engine(url, migrate=False)
    try:
        with engine.connect() as conn:
            version = current_version(conn)
    except DBAPIError as exc:
        engine.dispose()
        raise database_error(url, exc, option) from None
    if version is None:
        engine.dispose()
        raise NoArchive(f"{shown(url)} holds no archive (no schema_version table). Check the URL, or run "
                        f"'cli.py crawl' or 'cli.py import' to make one.")
    upgrade(engine)
    return engine


def shown(url: str) -> str:
    """The URL as it may be printed: any password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def format_copy(result: CopyResult, config: CopyConfig) -> str:
    """What `cli.py db copy` prints: the rows per table and the schema version."""
    width = max(len(name) for name in result.rows)
    lines = [f"Copied {shown(config.source_url)} -> {shown(config.target_url)} (schema version {result.version}):"]
    lines += [f"  {name:<{width}}  {count:>8}" for name, count in result.rows.items()]
    return "\n".join(lines)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other backends, in-memory databases and unparsable URLs)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None  # make_engine reports the bad URL
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per archive table that exists in the database (tables of Base.metadata, in foreign-key order)."""
    present = set(inspect(conn).get_table_names())
    return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables if table.name in present}


def copy_archive(config: CopyConfig, *, on_table: Callable[[str, int], None] | None = None) -> CopyResult:
    """Copy every table of the archive at `source_url` into `target_url`, ids kept.

    `on_table(name, rows)` is called after each table is written (progress; tests use it to fail half way).
    """
    same_file = sqlite_path(config.source_url) is not None and \
        sqlite_path(config.source_url).resolve() == (sqlite_path(config.target_url) or Path()).resolve()
    if same_file or config.source_url == config.target_url:
        raise TargetNotEmpty(f"--from and --to name the same database ({shown(config.target_url)}); expected two "
                             f"databases. Choose another --to.")
    source = open_archive(config.source_url, "--from")
    target = make_engine(config.target_url, migrate=False)
    try:
        target.connect().close()
    except DBAPIError as exc:
        source.dispose()
        target.dispose()
        raise database_error(config.target_url, exc, "--to") from None
    _transactional_ddl(target)
    rows: dict[str, int] = {}
    try:
        with source.connect() as reader, target.begin() as writer:
            version = current_version(reader)
            filled = {name: n for name, n in table_counts(writer).items() if n}
            if filled and not config.force:
                raise TargetNotEmpty(
                    f"{shown(config.target_url)} already holds rows ("
                    + ", ".join(f"{name} {n}" for name, n in filled.items())
                    + "); expected an empty database. Pass --force to replace them, or choose another --to.")
            Base.metadata.drop_all(writer)
            Base.metadata.create_all(writer)
            bar = progress(total=sum(table_counts(reader).values()), desc="copying", unit="row",
                           enabled=config.progress)
            try:
                for table in Base.metadata.sorted_tables:
                    bar.set_postfix_str(table.name, refresh=False)
                    rows[table.name] = _copy_table(reader, writer, table, bar.update)
                    if on_table is not None:
                        on_table(table.name, rows[table.name])
            finally:
                bar.close()
            if writer.dialect.name == "postgresql":
                _reset_sequences(writer)
    finally:
        source.dispose()
        target.dispose()
    return CopyResult(version=version, rows=rows)


def _copy_table(reader: Connection, writer: Connection, table: Table, copied_rows: Callable[[int], object]) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    result = reader.execution_options(yield_per=CHUNK_ROWS).execute(select(table).order_by(*order))
    copied = 0
    if writer.dialect.name == "postgresql":
        # COPY ... FROM STDIN on the transaction's own connection: several times faster than batched INSERTs
        # (a million records), and still undone with everything else if the copy fails.
        quote = writer.dialect.identifier_preparer.quote
        columns = ", ".join(quote(column.name) for column in table.columns)
        cursor = writer.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as stream:
            for chunk in result.partitions(CHUNK_ROWS):
                for row in chunk:
                    stream.write_row(tuple(row))
                copied += len(chunk)
                copied_rows(len(chunk))
        return copied
    for chunk in result.mappings().partitions(CHUNK_ROWS):
        writer.execute(table.insert(), [dict(row) for row in chunk])
        copied += len(chunk)
        copied_rows(len(chunk))
    return copied


def _reset_sequences(writer: Connection) -> None:
    # Rows came in with their ids, so each serial column's sequence must continue after the largest one.
    for table in Base.metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        writer.execute(text(
            f"SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX({column.name}), 1), "
            f"MAX({column.name}) IS NOT NULL) FROM {table.name}"), {"table": table.name, "column": column.name})


def _transactional_ddl(engine: Engine) -> None:
    # pysqlite commits CREATE/DROP outside the transaction unless it is told to leave transactions to us
    # (SQLAlchemy's documented recipe); then the whole copy is one BEGIN ... COMMIT on SQLite too.
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN")
