"""The statements crawler/pipelines/store.py writes records, images and page rows with: DBAPI text per dialect."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from db.models import Image, Page, Record

RECORD_COLUMNS = (
    "title", "holder", "place", "description", "date_raw", "year", "year_min", "year_max",
    "date_precision", "page_url", "image_url", "content_hash", "status", "error",
)
PAGE_COLUMNS = ("kind", "status", "http_status", "error", "run_id", "fetched_at")
IMAGE_COLUMNS = ("path", "sha256", "width", "height", "format", "bytes", "status", "error", "fetched_at")
RECORDS, IMAGES, PAGES = Record.__table__, Image.__table__, Page.__table__


class StoreSql:
    """The store's per-record statements as DBAPI text for one dialect, run on the connection's own cursor.

    A harvest stores thousands of records a second: SQLAlchemy's per-row parameter handling (compiling,
    processing each bound value, building Row objects) cost as much as the rest of the store. These
    statements bind plain tuples with executemany instead, inside the same transaction; values a column
    type converts (a DateTime on SQLite) go through that type's own bind processor, so the rows are the
    ones SQLAlchemy would write. A DBAPI error is raised as SQLAlchemy's, as from any other statement.
    """

    def __init__(self, dialect) -> None:
        self.dialect = dialect
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.processors = {(table.name, column.name): processor
                           for table in (RECORDS, IMAGES, PAGES) for column in table.columns
                           if (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        self.new_columns = ("source", "source_id", *RECORD_COLUMNS, "first_seen", "last_seen")
        self.insert_record = self._insert("records", self.new_columns)
        self.update_record = self._update("records", (*RECORD_COLUMNS, "last_seen"))
        self.image_columns = ("record_id", "url", *IMAGE_COLUMNS)
        self.insert_image = self._insert("images", self.image_columns)
        self.update_image = self._update("images", IMAGE_COLUMNS)
        self.update_page = (f"UPDATE pages SET {', '.join(f'{c} = {self.mark}' for c in PAGE_COLUMNS)} "
                            f"WHERE url = {self.mark}")
        self.insert_page = self._insert("pages", ("url", *PAGE_COLUMNS))
        # (index, processor) of the columns that have one: applied per row (to `now` once, where it is computed).
        self.record_row = self._converted("records", RECORD_COLUMNS)
        self.image_row = self._converted("images", IMAGE_COLUMNS)

    def _converted(self, table: str, columns: Sequence[str]) -> list[tuple[int, object]]:
        return [(index, processor) for index, column in enumerate(columns)
                if (processor := self.processors.get((table, column))) is not None]

    def _insert(self, table: str, columns: Sequence[str]) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([self.mark] * len(columns))})"

    def _update(self, table: str, columns: Sequence[str]) -> str:
        return f"UPDATE {table} SET {', '.join(f'{c} = {self.mark}' for c in columns)} WHERE id = {self.mark}"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def value(self, table: str, column: str, value):
        processor = self.processors.get((table, column))
        return processor(value) if processor is not None and value is not None else value

    @staticmethod
    def convert(values: list, processors: list[tuple[int, object]]) -> list:
        """`values` with each column's bind processor applied (in place; None stays None)."""
        for index, processor in processors:
            if values[index] is not None:
                values[index] = processor(values[index])
        return values

    def run(self, cursor, statement: str, parameters, many: bool = False) -> list:
        try:
            if many:
                cursor.executemany(statement, parameters)
                return []
            cursor.execute(statement, parameters)
            return cursor.fetchall() if cursor.description is not None else []
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(statement, parameters, exc, self.dialect.loaded_dbapi.Error,
                                      dialect=self.dialect) from exc


_SQL: dict[str, StoreSql] = {}


def sql_for(connection: Connection) -> StoreSql:
    """The statements for this connection's dialect and driver, built once per process."""
    dialect = connection.dialect
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _SQL:
        _SQL[key] = StoreSql(dialect)
    return _SQL[key]
