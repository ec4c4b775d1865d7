"""The catalog at archive scale: records without a picture are counted by the database, never read into memory."""

import tracemalloc

import pytest
from sqlalchemy import event, insert

from dataset.balance import BalanceConfig, balance_report
from dataset.catalog import load_catalog
from db.models import Image, ImageDuplicate, Record
from db.session import session_scope

IMAGELESS = 30_000  # records the archive catalogues without a stored picture


def _archive(engine) -> None:
    """IMAGELESS dated records without a picture, 3 deduplicated pictures, and a withdrawn record with two images."""
    with engine.begin() as conn:
        conn.execute(insert(Record), [{"source": "t", "source_id": f"R{i:06d}", "year": 1900 + i % 80,
                                       "year_min": 1900 + i % 80, "year_max": 1900 + i % 80, "status": "ok"}
                                      for i in range(IMAGELESS)])
    with session_scope(engine) as s:
        for n, year in enumerate((1901, 1902, 1955)):
            record = Record(source="t", source_id=f"P{n}", year=year, year_min=year, year_max=year, title=f"Foto {n}",
                            images=[Image(url=f"u{n}", path=f"/x/{n}.jpg", status="ok", width=8, height=8)])
            s.add(record)
            s.flush()
            image_id = record.images[0].id
            s.add(ImageDuplicate(image_id=image_id, cluster_id=image_id, group_id=image_id, role="unique",
                                 algorithm="phash", threshold=8))
        s.add(Record(source="t", source_id="W", year=1950, year_min=1950, year_max=1950, status="deleted",
                     images=[Image(url="w1", path="/x/w1.jpg", status="ok"), Image(url="w2", path="/x/w2.jpg",
                                                                                      status="ok")]))


def test_imageless_records_are_counted_not_loaded(fresh_db):
    _archive(fresh_db)
    tracemalloc.start()
    try:
        catalog = load_catalog(fresh_db, "20y", 1860)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [c.source_id for c in catalog.items] == ["P0", "P1", "P2"]
    assert [c.title for c in catalog.items] == ["Foto 0", "Foto 1", "Foto 2"]
    assert catalog.left_out == {"withdrawn": 2, "no_image": IMAGELESS}
    # Reading every record's row held about 12 MB here (30,000 rows); the pictures' rows alone, well under 2 MB.
    assert peak < 2 * 2**20, f"load_catalog peaked at {peak / 2**20:.1f} MB"


def test_latest_year_comes_from_every_dated_record(fresh_db):
    _archive(fresh_db)  # pictures up to 1955, imageless records up to 1979
    report = balance_report(fresh_db, BalanceConfig(bins="20y"))
    assert report.rows[-1].label == "1960-1979"
    assert (report.total_before, report.left_out["no_image"]) == (3, IMAGELESS)


def test_catalog_queries_read_records_through_indexes(fresh_db):
    """At a million records a full scan of `records` per query is what made balance-report slow: every query the
    catalog sends reaches records through an index, and each record's pictures through images.record_id's."""
    if fresh_db.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _archive(fresh_db)
    sent: list[tuple[str, tuple]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(fresh_db, "before_cursor_execute", remember)
    try:
        load_catalog(fresh_db, "20y", 1860)
    finally:
        event.remove(fresh_db, "before_cursor_execute", remember)
    plans = []
    with fresh_db.connect() as conn:
        for statement, parameters in sent:
            plans.append([row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)])
    assert len(plans) == 5  # latest year, withdrawn (two counts), without a picture, the pictures
    steps = [step for plan in plans for step in plan]
    assert "SCAN records" not in steps, plans
    assert any(step.startswith("SEARCH images USING INDEX ix_images_record_id") for step in steps), plans
