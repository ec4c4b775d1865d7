"""Engines and sessions. SQLite by default; any SQLAlchemy URL through --db or FOTOFECHA_DB."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import PipelineError
from db.migrations import upgrade

DEFAULT_DB_URL = "sqlite:///data/archive.db"
DB_URL_ENV = "FOTOFECHA_DB"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class BadDatabaseURL(PipelineError):
    """The database URL cannot be parsed or its driver is not installed."""


class DatabaseUnavailable(PipelineError):
    """The database cannot be reached or opened; the message names the URL (password masked) and the fix."""


class NoArchive(PipelineError):
    """A command that reads an archive was pointed at a database that does not exist."""


def masked(url: str) -> str:
    """The URL as typed, with its password (if any) hidden, for messages.

    >>> masked("postgresql://me:secret@db.example/photos")
    'postgresql://me:***@db.example/photos'
    """
    try:
        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def archive_exists(url: str) -> bool:
    """False for an SQLite URL whose file is not there; True otherwise (a server says for itself)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).is_file()


def database_error(url: str, exc: DBAPIError, option: str = "--db") -> DatabaseUnavailable:
    """One line for a driver's failure: the URL, the driver's first line and the likely fix.

    `option` is the command-line option that gave the URL (--db, or db copy's --from / --to).
    """
    reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0].rstrip(".")
    if make_url(url).get_backend_name() == "sqlite":
        fix = f"Check that the file is an SQLite database and its folder is writable, or pass another {option}."
    else:
        also = f" (or ${DB_URL_ENV})" if option == "--db" else ""
        fix = f"Is the database server running and reachable? Check host, port, user and password in {option}{also}."
    return DatabaseUnavailable(f"Cannot open database {masked(url)}: {reason}. {fix}")


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


def make_engine(url: str | None = None, *, migrate: bool = True, must_exist: bool = False) -> Engine:
    """An engine for `url`, connected once and with the schema brought up to date.

    must_exist: raise NoArchive instead of creating an SQLite file (for commands that only read an archive).

    >>> engine = make_engine("sqlite:///:memory:")
    """
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number ("h:notaport")
        raise BadDatabaseURL(f"Cannot parse database URL {masked(url)!r}: expected e.g. sqlite:///data/archive.db "
                             "or postgresql://user@host:5432/db.") from None
    if must_exist and not archive_exists(url):
        raise NoArchive(f"No archive at {masked(url)}: expected a database made by 'cli.py crawl' or 'cli.py import'. "
                        f"Check --db (or ${DB_URL_ENV}).")
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(f"Cannot open database {masked(url)}: cannot create its folder {folder} "
                                      f"({exc.strerror}). Pass a --db in a writable folder.") from None
    try:
        engine = create_engine(url, future=True)
    except NoSuchModuleError:
        raise BadDatabaseURL(f"Unknown database kind {parsed.drivername!r} in {masked(url)}: expected e.g. "
                             "sqlite:///data/archive.db or postgresql://user@host/db.") from None
    except (ModuleNotFoundError, ImportError) as exc:
        raise BadDatabaseURL(f"No driver for {parsed.drivername!r}: {exc}. Install it with pip.") from exc
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        try:
            upgrade(engine)
        except DBAPIError as exc:
            engine.dispose()
            raise database_error(url, exc) from None
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
