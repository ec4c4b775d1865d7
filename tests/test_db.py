import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from db import Image, Record, make_engine, session_scope
from db.migrations import MIGRATIONS, SchemaTooNew, current_version, latest_version
from db.session import BadDatabaseURL

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def test_fresh_db_is_stamped_with_latest_version(fresh_db):
    with fresh_db.connect() as conn:
        assert current_version(conn) == latest_version() == MIGRATIONS[-1].version
        tables = set(inspect(conn).get_table_names())
    assert {"records", "images", "pages", "crawl_runs", "schema_version"} <= tables


@pytest.mark.backends("sqlite")
def test_sqlite_pragmas_are_on(fresh_db):
    with fresh_db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_upgrade_is_idempotent(db_url):
    make_engine(db_url).dispose()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        versions = conn.execute(text("select version from schema_version")).scalars().all()
    assert versions == sorted(set(versions))


def test_newer_schema_is_refused(fresh_db, db_url):
    with fresh_db.begin() as conn:
        conn.execute(text("insert into schema_version(version, applied_at, description) values (999, '2030-01-01', 'x')"))
    with pytest.raises(SchemaTooNew, match="version 999"):
        make_engine(db_url)


def test_source_and_source_id_are_unique(fresh_db):
    with session_scope(fresh_db) as s:
        s.add(Record(source="a", source_id="1"))
    with pytest.raises(IntegrityError):
        with session_scope(fresh_db) as s:
            s.add(Record(source="a", source_id="1"))
    with session_scope(fresh_db) as s:
        s.add(Record(source="b", source_id="1"))


def test_images_cascade_with_their_record(fresh_db):
    with session_scope(fresh_db) as s:
        rec = Record(source="a", source_id="1", images=[Image(url="http://x/1.jpg", status="ok")])
        s.add(rec)
    with session_scope(fresh_db) as s:
        s.delete(s.scalars(select(Record)).one())
    with session_scope(fresh_db) as s:
        assert s.scalars(select(Image)).all() == []


def test_bad_url_is_a_domain_error():
    with pytest.raises(BadDatabaseURL, match="Cannot parse"):
        make_engine("not a url")
