"""The stored /records columns of `estimates` (schema v9, db/estimates.py): filled by the migration for existing
rows, written with each estimate, kept true when a re-harvest changes a record's catalogued date or image, and
read through the indexes they exist for (EXPLAIN on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text

from crawler.pipelines.store import write_records
from db.models import Image, ImageEstimate, Record
from db.session import make_engine, session_scope
from modeling.app.dating import ArchiveDater
from modeling.app.records import RecordsQuery, explain_page, list_records
from tests.test_migrations import _make_old
from tests.test_store import record

pytestmark = pytest.mark.backends("sqlite", "postgresql")

EDGES = (1900, 1920, 1940, 1960, 1980)
LABELS = ("1900-1919", "1920-1939", "1940-1959", "1960-1979")


def stored(engine, model_key: str = "run:a") -> dict[str, tuple]:
    """source_id -> (record_id matches, shown, disagreement, suspect) of its estimates by `model_key`."""
    with session_scope(engine) as session:
        rows = session.execute(select(Record.source_id, Record.id, ImageEstimate.record_id, ImageEstimate.shown,
                                      ImageEstimate.disagreement, ImageEstimate.suspect)
                               .join(Image, Image.record_id == Record.id)
                               .join(ImageEstimate, ImageEstimate.image_id == Image.id)
                               .where(ImageEstimate.model_key == model_key).order_by(Image.id)).all()
    return {source_id: (rid == erid, bool(shown), gap, bool(suspect)) for source_id, rid, erid, shown, gap, suspect
            in rows}


def estimate(engine, image_id: int, year: int, low: int, high: int, key: str = "run:a") -> None:
    """One estimate through the real writer (the --cv out-of-fold path of the web app's worker)."""
    worker = ArchiveDater(engine, dater=None, key=key, progress=False)
    oof = [{"image_id": str(image_id), "estimate": str(year), "low": str(low), "high": str(high), "sources": "picture"}]
    assert worker.store_out_of_fold(oof, EDGES, LABELS) == 1


def harvest(engine, item) -> None:
    with engine.begin() as connection:
        write_records(connection, [item], set())


def image_of(engine, source_id: str) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(Image.id).join(Record).where(Record.source_id == source_id,
                                                                  Image.status == "ok").order_by(Image.id))


def test_a_changed_catalogued_year_moves_the_stored_disagreement(fresh_db):
    harvest(fresh_db, record("1", "h1", "http://127.0.0.1/1.jpg"))  # catalogued 1950
    estimate(fresh_db, image_of(fresh_db, "1"), 1930, 1925, 1935)
    assert stored(fresh_db) == {"1": (True, True, 20, True)}
    changed = record("1", "h2", "http://127.0.0.1/1.jpg")
    changed.update(date_raw="1932", year=1932, year_min=1932, year_max=1932)
    harvest(fresh_db, changed)  # the archive corrected the date
    assert stored(fresh_db) == {"1": (True, True, 2, False)}
    page = list_records(fresh_db, "run:a", RecordsQuery())
    assert [(row.year, row.disagreement, row.suspect) for row in page.rows] == [(1932, 2, False)]


def test_a_new_estimate_or_a_replaced_picture_updates_what_the_record_shows(fresh_db):
    harvest(fresh_db, record("1", "h1", "http://127.0.0.1/1.jpg"))
    harvest(fresh_db, record("2", "h1", "http://127.0.0.1/2.jpg"))
    estimate(fresh_db, image_of(fresh_db, "1"), 1930, 1925, 1935)
    assert list_records(fresh_db, "run:a", RecordsQuery()).rows[0].disagreement == 20
    estimate(fresh_db, image_of(fresh_db, "2"), 1990, 1985, 1995)  # a larger gap now leads the page
    assert [(row.source_id, row.disagreement) for row in list_records(fresh_db, "run:a", RecordsQuery()).rows] == [
        ("2", 40), ("1", 20)]
    estimate(fresh_db, image_of(fresh_db, "1"), 1949, 1940, 1960, key="run:b")  # another model: its own rows
    assert stored(fresh_db, "run:b") == {"1": (True, True, 1, False)}
    harvest(fresh_db, record("2", "h3", "http://127.0.0.1/2b.jpg", sha256="b" * 64))  # a new picture, not dated yet
    rows = list_records(fresh_db, "run:a", RecordsQuery()).rows
    assert [(row.source_id, row.disagreement, row.estimate.problem) for row in rows] == [
        ("1", 20, None), ("2", None, "pending")]


def test_pages_are_index_walks(fresh_db):
    """Every sort with and without the estimate filters reads one of the v9 indexes, not a sort of the archive.
    PostgreSQL's planner would rather scan a tiny table, so scans and sorts are priced out for the check, and
    on one row it may walk another of the indexes (the 1M benchmark's plans show the intended ones)."""
    harvest(fresh_db, record("1", "h1", "http://127.0.0.1/1.jpg"))
    estimate(fresh_db, image_of(fresh_db, "1"), 1930, 1925, 1935)
    if fresh_db.dialect.name == "postgresql":
        fresh_db = create_engine(fresh_db.url, connect_args={"options": "-c enable_seqscan=off -c enable_sort=off"})
    expected = {RecordsQuery(): "ix_estimates_model_gap",
                RecordsQuery(suspect=True): "ix_estimates_model_suspect",
                RecordsQuery(sort="id", suspect=True): "ix_estimates_model_suspect_id",
                RecordsQuery(period="1920-1939"): "ix_estimates_model_period_gap",
                RecordsQuery(sort="id", period="1920-1939"): "ix_estimates_model_shown_period",
                RecordsQuery(kind="out_of_fold"): "ix_estimates_model_kind_gap",
                RecordsQuery(sort="id", kind="out_of_fold"): "ix_estimates_model_shown_kind",
                RecordsQuery(sort="year"): "ix_records_year",  # SQLite: (year, rowid); PostgreSQL: (year, id)
                RecordsQuery(sort="year", suspect=True): "ix_estimates_model_suspect_year",  # schema v10
                RecordsQuery(sort="year", period="1920-1939"): "ix_estimates_model_shown_period_year",
                RecordsQuery(sort="year", kind="out_of_fold"): "ix_estimates_model_shown_kind_year"}
    for query, index in expected.items():
        first = explain_page(fresh_db, "run:a", query)[0]
        assert (index if fresh_db.dialect.name == "sqlite" else "Index") in first, (query, first)
        assert "TEMP B-TREE" not in first and "Sort" not in first, (query, first)
        assert "CORRELATED" not in first and "SubPlan" not in first, (query, first)  # one walk, no per-row lookup


def test_the_totals_shown_follow_every_write(fresh_db):
    """The counts a page shows are kept between views (db/counts.py) but never outlive a write: one through the
    page's own engine, one from another connection (another process, as the harvest is), one that only
    changes what an estimate filter matches."""
    harvest(fresh_db, record("1", "h1", "http://127.0.0.1/1.jpg"))  # catalogued 1950
    estimate(fresh_db, image_of(fresh_db, "1"), 1930, 1925, 1935)
    suspects = RecordsQuery(suspect=True, sort="year")

    def shown():
        page, suspect = list_records(fresh_db, "run:a", RecordsQuery()), list_records(fresh_db, "run:a", suspects)
        return page.archive_total, page.dated, page.datable, suspect.total, [row.source_id for row in suspect.rows]

    assert shown() == shown() == (1, 1, 1, 1, ["1"])
    harvest(fresh_db, record("2", "h1", "http://127.0.0.1/2.jpg"))  # the same engine writes
    assert shown() == (2, 1, 2, 1, ["1"])
    other = create_engine(fresh_db.url)  # another connection pool: the page's connections did not write
    with other.begin() as connection:
        connection.execute(text("insert into records(source, source_id, date_raw, date_precision, status, "
                                "first_seen, last_seen) values ('a', '3', 's.f.', 'unknown', 'ok', '2024-01-01', "
                                "'2024-01-01')"))
    assert shown()[0] == 3
    changed = record("1", "h2", "http://127.0.0.1/1.jpg")
    changed.update(date_raw="1932", year=1932, year_min=1932, year_max=1932)
    with other.begin() as connection:  # the archive corrected the date: no longer suspect
        write_records(connection, [changed], set())
    assert shown() == (3, 1, 2, 0, [])
    other.dispose()


def test_the_v10_migration_copies_each_records_year_onto_its_estimates(make_db_url):
    url = make_db_url()
    _make_old(url, 9)  # one record
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("update records set year = 1950"))
        conn.execute(text("insert into estimates(model_key, record_id, year, low, high, status, kind, shown, "
                          "created_at) select 'run:a', id, 1921, 1910, 1930, 'ok', 'model', true, '2024-01-01' "
                          "from records"))
    engine.dispose()
    engine = make_engine(url)
    page = list_records(engine, "run:a", RecordsQuery(sort="year", suspect=True))
    assert [(row.year, row.suspect) for row in page.rows] == [(1950, True)]
    with engine.connect() as conn:
        assert conn.execute(text("select record_year from estimates")).scalar() == 1950
    engine.dispose()


def test_the_v9_migration_fills_the_stored_columns_of_existing_estimates(make_db_url):
    url = make_db_url()
    _make_old(url, 7)  # one record, catalogued without a year
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("insert into records(source, source_id, date_raw, year, year_min, year_max, date_precision, "
                          "status, first_seen, last_seen) values ('a', '2', '1915-1925', 1920, 1915, 1925, 'range', "
                          "'ok', '2024-01-01', '2024-01-01')"))
        ids = dict(conn.execute(text("select source_id, id from records")).all())
        for image_id, (source_id, status) in enumerate([("1", "ok"), ("2", "ok"), ("2", "ok")], start=1):
            conn.execute(text(f"insert into images(id, record_id, url, status) values ({image_id}, {ids[source_id]}, "
                              f"'http://127.0.0.1/{image_id}.jpg', '{status}')"))
        for estimate_id, image_id, year, low, high in [(1, 1, 1950, 1940, 1960), (2, 2, 1950, 1940, 1960),
                                                       (3, 3, 1921, 1910, 1930)]:
            conn.execute(text(f"insert into estimates(id, image_id, model_key, year, low, high, status, kind, "
                              f"created_at) values ({estimate_id}, {image_id}, 'run:a', {year}, {low}, {high}, 'ok', "
                              f"'model', '2024-01-01')"))
    engine.dispose()
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("select id, image_id, record_id, shown, disagreement, suspect from estimates "
                                 "order by id")).all()
        assert [(i, img, rid, bool(shown), gap, bool(suspect)) for i, img, rid, shown, gap, suspect in rows] == [
            (1, 1, ids["1"], True, None, False),  # undated: no disagreement
            (2, 2, ids["2"], True, 30, True),  # 1915-1925 lies wholly before 1940-1960
            (3, 3, ids["2"], False, None, False),  # the record's second picture is not the one shown
        ]
    with session_scope(engine) as session:  # the id sequence continues after the copied rows
        session.add(ImageEstimate(image_id=3, record_id=ids["2"], model_key="run:b", year=1920, status="ok"))
    with engine.connect() as conn:
        assert conn.execute(text("select max(id) from estimates")).scalar() == 4
    engine.dispose()


@pytest.mark.backends("sqlite")
def test_every_page_of_every_order_is_the_plain_sort(tmp_path):
    """Paging through every sort x filter 25 at a time (index walks, forwards or from the far end) gives exactly
    the order a plain sort of the stored values gives: disagreement largest first (ties: newest record first),
    then the records without one by id; year oldest first, then the undated by id."""
    from benchmarks.bench_records_filters import KEY, build
    from db.estimates import refresh_estimates

    build(tmp_path / "a.db", 537)
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.begin() as connection:
        refresh_estimates(connection)
        facts = connection.execute(text("select r.id, r.year, r.holder, e.disagreement, e.suspect, e.period, e.kind "
                                        "from records r left join estimates e on e.record_id = r.id")).all()
    orders = {"disagreement": lambda f: (f.disagreement is None, -(f.disagreement or 0), -f.id if f.disagreement
                                         is not None else f.id),
              "year": lambda f: (f.year is None, f.year or 0, f.id), "id": lambda f: f.id}
    filters = {"none": ({}, lambda f: True), "holder": ({"holder": "Estudio 7"}, lambda f: f.holder == "Estudio 7"),
               "period": ({"period": "1940-1959"}, lambda f: f.period == "1940-1959"),
               "undated": ({"undated": True}, lambda f: f.year is None), "suspect": ({"suspect": True}, lambda f: f.suspect),
               "kind": ({"kind": "model"}, lambda f: f.kind == "model"),
               "undated period": ({"undated": True, "period": "1940-1959"},
                                  lambda f: f.year is None and f.period == "1940-1959")}
    for sort, key in orders.items():
        for chosen, keep in filters.values():
            expected = [f.id for f in sorted(filter(keep, facts), key=key)]
            paged, page = [], 1
            while len(paged) < len(expected) and page < 100:
                paged += [r.record_id for r in list_records(engine, KEY, RecordsQuery(sort=sort, page=page,
                                                                                      **chosen)).rows]
                page += 1
            assert paged == expected, (sort, chosen)
    engine.dispose()
