"""Engines and sessions. SQLite by default; any SQLAlchemy URL through --db or FOTOFECHA_DB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import PipelineError
from db.migrations import upgrade

DEFAULT_DB_URL = "sqlite:///data/archive.db"
DB_URL_ENV = "FOTOFECHA_DB"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class BadDatabaseURL(PipelineError):
    """The database URL cannot be parsed or its driver is not installed."""


def resolve_url(url: str | None = None) -> str:
    """The URL to use: the explicit one, else $FOTOFECHA_DB, else data/archive.db."""
    return url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """An engine for `url`, with the schema brought up to date.

    >>> engine = make_engine("sqlite:///:memory:")
    """
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BadDatabaseURL(f"Cannot parse database URL {url!r}: expected e.g. sqlite:///data/archive.db") from exc
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except (ModuleNotFoundError, ImportError) as exc:
        raise BadDatabaseURL(f"No driver for {parsed.drivername!r}: {exc}. Install it with pip.") from exc
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        upgrade(engine)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
