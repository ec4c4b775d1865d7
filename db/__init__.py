"""The archive store: SQLAlchemy models, sessions, migrations and the shared date vocabulary."""

from db.errors import PipelineError
from db.models import Base, CrawlRun, Image, Page, Record, SchemaVersion
from db.session import DEFAULT_DB_URL, BadDatabaseURL, make_engine, resolve_url, session_scope

__all__ = [
    "PipelineError", "Base", "CrawlRun", "Image", "Page", "Record", "SchemaVersion",
    "DEFAULT_DB_URL", "BadDatabaseURL", "make_engine", "resolve_url", "session_scope",
]
