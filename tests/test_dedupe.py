"""Dedupe: clusters without chains, the keep rule, exact duplicates, corrupt files, idempotence, the report."""

import csv
import io

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from crawler.replica import render_photo
from dataset.dedupe import DedupeConfig, format_summary, run_dedupe
from db.models import Image, ImageDuplicate, ImageHash, Record
from db.session import session_scope

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def verdicts(engine) -> dict[int, tuple]:
    with session_scope(engine) as s:
        return {d.image_id: (d.cluster_id, d.group_id, d.excluded, d.role, d.distance) for d in s.scalars(select(ImageDuplicate))}


def add_hashed(engine, rows: list[tuple[str, str, int, int]]) -> list[int]:
    """Images with given (phash hex, sha, pixels, bytes) and stored hashes, so dedupe needs no files."""
    ids = []
    with session_scope(engine) as s:
        for n, (hex_value, sha, pixels, size) in enumerate(rows):
            image = Image(url=f"u{n}", path=f"/nowhere/{n}.jpg", sha256=sha, width=pixels, height=1, bytes=size, status="ok")
            s.add(Record(source="t", source_id=str(n), year=1950, year_min=1950, year_max=1950, images=[image]))
            s.flush()
            s.add(ImageHash(image_id=image.id, algorithm="phash", hash_hex=hex_value, image_sha256=sha, status="ok"))
            ids.append(image.id)
    return ids


def test_clusters_do_not_chain_and_keep_the_best(fresh_db):
    # A -6 bits- B -6 bits- C: B joins A (the best); C is 12 bits from A, so it stays apart.
    a, b, c, d = add_hashed(fresh_db, [
        ("0000000000000000", "sa", 100, 10),
        ("000000000000003f", "sb", 90, 10),
        ("0000000000000fff", "sc", 80, 10),
        ("ffffffffffffffff", "sd", 80, 10),
    ])
    summary = run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=8, progress=False))
    got = verdicts(fresh_db)
    assert got[a] == (a, a, False, "kept", 0)
    assert got[b] == (a, a, True, "duplicate", 6)
    assert got[c][:4] == (c, a, False, "unique")  # own cluster, same split group as A
    assert got[d] == (d, d, False, "unique", None)
    assert (summary.pairs, summary.clusters, summary.excluded, summary.hashed) == (2, 1, 1, 0)


def test_keep_rule_pixels_then_bytes_then_lowest_id(fresh_db):
    ids = add_hashed(fresh_db, [
        ("0000000000000000", "s1", 50, 999),
        ("0000000000000001", "s2", 60, 10),
        ("0000000000000003", "s3", 60, 20),
        ("0000000000000003", "s4", 60, 20),
    ])
    run_dedupe(fresh_db, DedupeConfig(hash="phash", progress=False))
    assert {v[0] for v in verdicts(fresh_db).values()} == {ids[2]}


def test_byte_identical_files_are_always_caught(fresh_db):
    x, y = add_hashed(fresh_db, [("0000000000000000", "same", 10, 5), ("ffffffffffffffff", "same", 10, 5)])
    summary = run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=0, progress=False))
    assert verdicts(fresh_db)[y] == (x, x, True, "duplicate", 0)
    assert summary.exact_excluded == 1


def photos(add_photo) -> dict[str, int]:
    ids = {}
    for k, year in enumerate([1890, 1925, 1950, 1965, 1980]):
        img = render_photo(year, k, (160, 120))
        ids[f"orig{year}"] = add_photo(f"orig{year}", img, str(year))
        if k < 3:
            # a smaller re-encoded copy, catalogued 20 years later for the first one
            ids[f"copy{year}"] = add_photo(f"copy{year}", img.resize((120, 90)), str(year + (20 if k == 0 else 0)))
    ids["png_twin"] = add_photo("png_twin", render_photo(1965, 3, (160, 120)), "1965", fmt="PNG")
    buffer = io.BytesIO()
    render_photo(1900, 9, (160, 120)).save(buffer, "JPEG")
    ids["truncated"] = add_photo("truncated", None, "1900", data=buffer.getvalue()[:1500])
    ids["html"] = add_photo("html", None, "1900", data=b"<html><body>404</body></html>")
    return ids


def test_real_files_corrupt_recorded_idempotent_and_reclustered_without_rehashing(fresh_db, add_photo, tmp_path):
    ids = photos(add_photo)
    report = tmp_path / "dups.csv"
    first = run_dedupe(fresh_db, DedupeConfig(hash="both", report=report, progress=False))
    got = verdicts(fresh_db)
    for year in (1890, 1925, 1950):
        assert got[ids[f"copy{year}"]][:4] == (ids[f"orig{year}"], ids[f"orig{year}"], True, "duplicate")
    # the same picture as PNG: same pixels, bigger file, so the PNG is kept
    assert got[ids["orig1965"]][:4] == (ids["png_twin"], ids["png_twin"], True, "duplicate")
    assert got[ids["orig1980"]][3] == "unique"
    assert {u.image_id for u in first.unreadable} == {ids["truncated"], ids["html"]}
    assert got[ids["truncated"]][3] == "unreadable"
    with session_scope(fresh_db) as s:
        failed = {h.image_id: h.error for h in s.scalars(select(ImageHash).where(ImageHash.status == "failed"))}
        stamps = {(h.image_id, h.algorithm): h.computed_at for h in s.scalars(select(ImageHash).where(ImageHash.status == "ok"))}
    assert "cannot decode" in failed[ids["truncated"]] and "not an image" in failed[ids["html"]]

    again = run_dedupe(fresh_db, DedupeConfig(hash="both", report=report, progress=False))
    assert (again.hashed, again.reused_hashes) == (0, len(ids) - 2)
    assert {k: v[:4] for k, v in verdicts(fresh_db).items()} == {k: v[:4] for k, v in got.items()}

    strict = run_dedupe(fresh_db, DedupeConfig(hash="both", threshold=0, progress=False))
    assert strict.hashed == 0 and strict.excluded < first.excluded
    with session_scope(fresh_db) as s:
        assert stamps == {(h.image_id, h.algorithm): h.computed_at for h in s.scalars(select(ImageHash).where(ImageHash.status == "ok"))}
        assert s.query(Image).count() == len(ids)  # nothing deleted

    rows = list(csv.DictReader(report.open()))
    assert rows[0]["year_conflict"] == "yes" and rows[1]["year_conflict"] == "yes"
    assert {rows[0]["date_raw"], rows[1]["date_raw"]} == {"1890", "1910"}
    assert first.conflicts == [ids["orig1890"]]


def test_cli_dedupe_summary_and_bad_threshold(fresh_db, add_photo, db_url):
    photos(add_photo)
    result = CliRunner().invoke(main, ["dedupe", "--db", db_url, "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "11 images: 9 hashed now, 0 reused, 2 unreadable."
    assert lines[1] == ("4 near-duplicate pairs (threshold 8) in 4 clusters: 4 images excluded (0 byte-identical); "
                        "1 clusters with conflicting years.")
    assert lines[3].endswith(".jpg): not an image Pillow can identify")
    bad = CliRunner().invoke(main, ["dedupe", "--db", db_url, "--threshold", "40"])
    assert bad.exit_code == 2 and "40 is not in the range 0<=x<=32" in bad.output


def test_images_stored_by_a_crawl_during_dedupe_are_hashed_or_left_for_the_next_run(fresh_db, db_url, add_photo,
                                                                                     tmp_path):
    """A crawl writes into the same database while dedupe runs: an image stored after the hashing pass has no
    hash rows yet. The first such image is hashed in a second pass; one stored after that waits for the next run."""
    from sqlalchemy import event

    from db.session import make_engine
    from tests.conftest import store_photo

    first = [add_photo(f"A{k}", render_photo(1900 + 20 * k, k, (64, 48)), "1950") for k in range(3)]
    crawler = make_engine(db_url)  # the crawl's own connection to the same file
    arrived: list[int] = []

    def crawl_stores_an_image(conn, cursor, statement, *args):
        # dedupe's verdict query reads images.width: the crawl stores a new photo just before it runs
        if "images.width" in statement and "FROM images" in statement and len(arrived) < 2:
            with session_scope(crawler) as s:
                arrived.append(store_photo(s, tmp_path / "images", f"B{len(arrived)}",
                                           render_photo(1990, 7 + len(arrived), (64, 48)), "1960"))

    event.listen(fresh_db, "before_cursor_execute", crawl_stores_an_image)
    try:
        summary = run_dedupe(fresh_db, DedupeConfig(hash="both", threshold=8, workers=1, progress=False))
    finally:
        event.remove(fresh_db, "before_cursor_execute", crawl_stores_an_image)
        crawler.dispose()
    assert len(arrived) == 2
    assert (summary.hashed, summary.unreadable, summary.left_for_next_run) == (4, [], [arrived[1]])
    assert set(verdicts(fresh_db)) == {*first, arrived[0]}
    assert "1 image arrived during this run and has no verdict yet: run 'cli.py dedupe' again." in format_summary(
        summary, DedupeConfig())
