"""cli.py db copy / db info: every table and id kept, round trips equal, one transaction, sequences reset."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select

from cli import main
from db.copy import CopyConfig, TargetNotEmpty, copy_archive, table_counts
from db.info import archive_info
from db.migrations import latest_version
from db.models import Base, CrawlRun, Image, ImageDuplicate, ImageEstimate, ImageHash, Page, Record
from db.session import make_engine, session_scope

STAMP = datetime(1999, 12, 31, 23, 59, 58, 123456)


def build_source(url: str) -> None:
    """Three records (the second deleted, so ids are 1 and 3), with a row in every table and awkward values."""
    engine = make_engine(url)
    with session_scope(engine) as s:
        run = CrawlRun(start_url="http://127.0.0.1/fotos", status="finished", stats='{"new": 2}', refresh=True,
                       started_at=STAMP, finished_at=STAMP)
        s.add(run)
        s.flush()
        s.add(Page(url="http://127.0.0.1/fotos?pagina=2", kind="listing", status="failed", http_status=503,
                   error="HTTP 503", run_id=run.id, fetched_at=STAMP))
        for n, (title, year) in enumerate([("Boda en Haro, «1930»", 1930), ("borrada", 1950), ("Vendimia ñ", None)]):
            s.add(Record(source="replica", source_id=f"LRM-{n}", title=title, year=year, date_raw=str(year),
                         status="ok" if year else "incomplete", first_seen=STAMP, last_seen=STAMP,
                         images=[Image(url=f"http://127.0.0.1/{n}.jpg", path=f"/x/{n}.jpg", sha256=f"{n:064x}",
                                       width=96, height=72, bytes=1234, status="ok" if n else "failed",
                                       error=None if n else "HTTP 404", fetched_at=STAMP)]))
    with session_scope(engine) as s:
        s.delete(s.scalars(select(Record).where(Record.source_id == "LRM-1")).one())
    with session_scope(engine) as s:
        kept = s.scalars(select(Image).where(Image.url.like("%2.jpg"))).one()
        s.add(ImageHash(image_id=kept.id, algorithm="phash", hash_hex="8f0f0f0f0f0f0f0f", image_sha256=kept.sha256,
                        computed_at=STAMP))
        s.add(ImageDuplicate(image_id=kept.id, cluster_id=kept.id, group_id=kept.id, excluded=False, role="unique",
                             algorithm="phash", threshold=8, decided_at=STAMP))
        s.add(ImageEstimate(image_id=kept.id, model_key="run:0123", year=1931, low=1920, high=1944,
                            period="1920-1939", probability=0.1 + 0.2, created_at=STAMP))
    engine.dispose()


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every table in the database, ordered by primary key, read without db.copy."""
    engine = create_engine(url)
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        out = {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
               for t in Base.metadata.sorted_tables if t.name in present}
    engine.dispose()
    return out


@pytest.fixture
def source(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    build_source(url)
    return url


@pytest.mark.backends("postgresql")
def test_round_trip_sqlite_postgresql_sqlite_is_equal(source, db_url, tmp_path):
    back = f"sqlite:///{tmp_path / 'back.db'}"
    there = copy_archive(CopyConfig(source, db_url))
    copy_archive(CopyConfig(db_url, back))
    original = dump(source)
    assert dump(db_url) == original and dump(back) == original
    assert set(original) == set(Base.metadata.tables)  # every table came along
    assert all(original[name] for name in ("records", "images", "pages", "crawl_runs", "image_hashes",
                                           "image_duplicates", "estimates", "schema_version"))
    assert there.version == latest_version() and there.rows["records"] == 2 and there.rows["images"] == 2
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        assert [r.id for r in s.scalars(select(Record).order_by(Record.id))] == [1, 3]
        estimate = s.scalars(select(ImageEstimate)).one()
        assert estimate.probability == 0.30000000000000004 and estimate.created_at == STAMP
        # the sequences continue after the copied ids: a new record is id 4, a new image id 4
        s.add(Record(source="new", source_id="1", images=[Image(url="http://127.0.0.1/new.jpg")]))
    with session_scope(engine) as s:
        added = s.scalars(select(Record).where(Record.source == "new")).one()
        assert (added.id, added.images[0].id) == (4, 4)
    engine.dispose()


@pytest.mark.backends("sqlite", "postgresql")
def test_refuses_a_non_empty_target_and_force_replaces_it(source, db_url):
    copy_archive(CopyConfig(source, db_url))
    with pytest.raises(TargetNotEmpty, match="already holds rows .*records 2"):
        copy_archive(CopyConfig(source, db_url))
    result = CliRunner().invoke(main, ["db", "copy", "--from", source, "--to", db_url])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: ") and "Pass --force to replace them" in result.output
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        s.add(Record(source="extra", source_id="1"))
    engine.dispose()
    forced = CliRunner().invoke(main, ["db", "copy", "--from", source, "--to", db_url, "--force"])
    assert forced.exit_code == 0, forced.output
    assert f"(schema version {latest_version()})" in forced.stdout.splitlines()[0]
    assert dump(db_url) == dump(source)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_copy_that_fails_half_way_leaves_the_target_as_it_was(source, db_url, tmp_path):
    def fail_after_images(name: str, _rows: int) -> None:
        if name == "images":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        copy_archive(CopyConfig(source, db_url), on_table=fail_after_images)
    assert all(not rows for rows in dump(db_url).values())  # empty: no tables, or tables without rows
    other = f"sqlite:///{tmp_path / 'other.db'}"
    build_source(other)
    copy_archive(CopyConfig(other, db_url))
    before = dump(db_url)
    with pytest.raises(RuntimeError, match="disk full"):
        copy_archive(CopyConfig(source, db_url, force=True), on_table=fail_after_images)
    assert dump(db_url) == before  # a failed --force copy did not drop what was there


def test_db_info_counts_tables_and_statuses(source):
    info = archive_info(source)
    assert info.version == latest_version()
    assert info.rows["records"] == 2 and info.rows["images"] == 2 and info.rows["pages"] == 1
    # by hand: LRM-0 (1930) ok, LRM-2 (no year) incomplete; image 1 failed, image 3 ok
    assert info.statuses["records"] == {"incomplete": 1, "ok": 1}
    assert info.statuses["images"] == {"failed": 1, "ok": 1}
    result = CliRunner().invoke(main, ["db", "info", "--db", source])
    assert result.exit_code == 0, result.output
    assert f"schema version {latest_version()}" in result.output.splitlines()[0]
    assert any(line.split()[:2] == ["images", "2"] and "(failed 1, ok 1)" in line for line in result.output.splitlines())


def test_missing_source_and_same_database_are_one_error_line(tmp_path, source):
    missing = CliRunner().invoke(main, ["db", "info", "--db", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert missing.exit_code == 1
    assert missing.output == f"Error: No archive at sqlite:///{tmp_path / 'nope.db'}: {tmp_path / 'nope.db'} does not " \
                             "exist. Check the URL, or run 'cli.py crawl' or 'cli.py import' to make one.\n"
    assert not (tmp_path / "nope.db").exists()
    same = CliRunner().invoke(main, ["db", "copy", "--from", source, "--to", source])
    assert same.exit_code == 1 and "name the same database" in same.output


def test_copy_shows_rows_copied_out_of_all_rows(source, tmp_path, capsys):
    copy_archive(CopyConfig(source, f"sqlite:///{tmp_path / 'copy.db'}"))
    total = sum(table_counts_of(source).values())
    # stderr is not a terminal here: the bar's last line, with the archive's every row as its total
    assert f"copying: {total}/{total} (100%)" in capsys.readouterr().err


def table_counts_of(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = table_counts(conn)
    engine.dispose()
    return counts
