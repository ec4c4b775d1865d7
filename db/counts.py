"""Counts that hold until the next write: a page of a million records without counting them on every view.

/records shows the archive's total, the filtered total and the dating progress, and its later pages need the
size of the index segment they read from the far end. Each is an index-only count of up to a million entries
(60-125 ms of CPU each at 1M on SQLite, benchmarks/results/records_floor.md), the same on every view while
nothing is written. `Counts` keeps each count on the database connection beside a change token, and counts
again as soon as the token differs:

- SQLite: `PRAGMA data_version` (changes when another connection commits), this connection's
  `total_changes` (its own inserts, updates and deletes) and `PRAGMA schema_version`;
- PostgreSQL: the current snapshot (`txid_current_snapshot()`: the same text means the same committed
  transactions are visible, so the same rows), not cached inside a transaction that has written.

Whatever writes, and from whichever process, the next view counts again: no writer has to remember a counter.

    >>> counts = Counts(connection)  # doctest: +SKIP
    >>> counts(select(func.count()).select_from(Record))  # doctest: +SKIP
    1000000
"""

from __future__ import annotations

from sqlalchemy import Connection, Select

CACHE_KEY = "fotofecha_counts"  # the key of (token, {statement: count}) in the pooled DBAPI connection's info dict
HELD = 1000  # counts kept per connection at most (one per filter a person chose): past it they are dropped


def change_token(connection: Connection) -> tuple | None:
    """A value that differs after any committed write to the database (None: do not keep counts now)."""
    if connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        data_version = connection.exec_driver_sql("PRAGMA data_version").scalar()
        schema_version = connection.exec_driver_sql("PRAGMA schema_version").scalar()
        return ("sqlite", data_version, schema_version, dbapi.total_changes)
    if connection.dialect.name == "postgresql":
        snapshot, writing = connection.exec_driver_sql(
            "SELECT txid_current_snapshot()::text, txid_current_if_assigned()").one()
        return None if writing is not None else ("postgresql", snapshot)
    return None


class Counts:
    """The counts of one read (a page view): the change token is read once, first, so every count taken after
    it holds at least what the token stands for; a later write changes the token and they are taken again."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.token = change_token(connection)
        held_token, held = connection.connection.info.get(CACHE_KEY, (None, {}))
        self.counts = held if self.token is not None and held_token == self.token and len(held) < HELD else {}
        if self.token is not None:
            connection.connection.info[CACHE_KEY] = (self.token, self.counts)

    def __call__(self, stmt: Select) -> int:
        """`stmt` (a SELECT of one count), run only when this token has not seen it."""
        key = str(stmt.compile(dialect=self.connection.dialect, compile_kwargs={"literal_binds": True}))
        if key not in self.counts:
            self.counts[key] = self.connection.execute(stmt).scalar() or 0
        return self.counts[key]
