"""Dedupe: clusters without chains, the keep rule, exact duplicates, corrupt files, idempotence, the report;
mirrored, turned and mounted copies found with the transform that matched; look-alikes kept apart."""

import csv
import io
import random

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from crawler.replica import render_photo
from crawler.replica.photos import mount_print
from dataset.dedupe import DedupeConfig, format_summary, run_dedupe
from dataset.orientations import ORIENTATIONS, PIL_TRANSPOSE, compose, inverse
from db.models import Image, ImageDuplicate, ImageHash, Record
from db.session import session_scope

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def verdicts(engine) -> dict[int, tuple]:
    with session_scope(engine) as s:
        return {d.image_id: (d.cluster_id, d.group_id, d.excluded, d.role, d.distance) for d in s.scalars(select(ImageDuplicate))}


def add_hashed(engine, rows: list[tuple]) -> list[int]:
    """Images with given (phash hex, sha, pixels, bytes[, 7 variant hexes[, trim]]) and stored hashes: no files needed.

    Without variants, every other orientation gets the hash's complement (64 bits away): nothing matches turned.
    Variants come from picture() and turned(), which keep the 8 orientations of a copy consistent.
    """
    ids = []
    with session_scope(engine) as s:
        for n, (hex_value, sha, pixels, size, *extra) in enumerate(rows):
            variants = extra[0] if extra else [f"{int(hex_value, 16) ^ (2**64 - 1):016x}"] * 7
            image = Image(url=f"u{n}", path=f"/nowhere/{n}.jpg", sha256=sha, width=pixels, height=1, bytes=size, status="ok")
            s.add(Record(source="t", source_id=f"{sha}-{n}", year=1950, year_min=1950, year_max=1950, images=[image]))
            s.flush()
            s.add(ImageHash(image_id=image.id, algorithm="phash", hash_hex=hex_value, variants=" ".join(variants),
                            trim=extra[1] if len(extra) > 1 else None, image_sha256=sha, status="ok"))
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
    summary = run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=8, progress=False, transforms=False))
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
    run_dedupe(fresh_db, DedupeConfig(hash="phash", progress=False, transforms=False))
    assert {v[0] for v in verdicts(fresh_db).values()} == {ids[2]}


def test_byte_identical_files_are_always_caught(fresh_db):
    x, y = add_hashed(fresh_db, [("0000000000000000", "same", 10, 5), ("ffffffffffffffff", "same", 10, 5)])
    summary = run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=0, progress=False, transforms=False))
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
    # the 1890 original has a card border, its copy too: hashed inside it
    assert lines[2] == "Excluded copies matched mirrored or turned: none; matched with borders or mounts trimmed: 1."
    assert lines[4].endswith(".jpg): not an image Pillow can identify")
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


def picture(seed: int) -> list[str]:
    """The 8 orientation hashes of a made-up picture (random, so far from every other picture's)."""
    rng = random.Random(seed)
    return [f"{rng.getrandbits(64):016x}" for _ in ORIENTATIONS]


def turned(hashes: list[str], name: str, flipped_bits: int = 0) -> list[str]:
    """The 8 orientation hashes of a copy of `hashes`'s picture turned by `name`, with some bits flipped.

    The copy in orientation s is the original turned by `name`, then by s.
    """
    flips = (1 << flipped_bits) - 1
    return [f"{int(hashes[ORIENTATIONS.index(compose(name, s))], 16) ^ flips:016x}" for s in ORIENTATIONS]


def transforms_of(engine) -> dict[int, str | None]:
    with session_scope(engine) as s:
        return dict(s.execute(select(ImageDuplicate.image_id, ImageDuplicate.transform)).all())


def test_a_mirrored_copy_matches_with_its_transform_and_only_when_transforms_are_on(fresh_db):
    # B is A mirrored (3 bits off), C is A turned 90 degrees counter-clockwise (1 bit off), D is another picture.
    pa = picture(1)
    a, b, c, d = add_hashed(fresh_db, [
        (pa[0], "sa", 100, 10, pa[1:]),
        (turned(pa, "mirror", 3)[0], "sb", 90, 10, turned(pa, "mirror", 3)[1:]),
        (turned(pa, "rot90", 1)[0], "sc", 80, 10, turned(pa, "rot90", 1)[1:]),
        (picture(2)[0], "sd", 70, 10, picture(2)[1:]),
    ])
    summary = run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=8, progress=False))
    got = verdicts(fresh_db)
    assert got[b] == (a, a, True, "duplicate", 3) and got[c] == (a, a, True, "duplicate", 1)
    assert transforms_of(fresh_db) == {a: "none", b: "mirror", c: "rot90", d: None}
    assert summary.turned == {"mirror": 1, "rot90": 1}
    run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=8, progress=False, transforms=False))
    assert {v[3] for v in verdicts(fresh_db).values()} == {"unique"}


def test_keep_rule_prefers_the_usual_orientation_then_untrimmed_then_pixels(fresh_db):
    # A and B upright (B within 2 bits of A); C is A turned 90 with the most pixels; D is A on a mount.
    pa = picture(3)
    b_hashes, c_hashes = turned(pa, "none", 2), turned(pa, "rot90")
    a, b, c, d = add_hashed(fresh_db, [
        (pa[0], "sa", 100, 10, pa[1:]),
        (b_hashes[0], "sb", 90, 10, b_hashes[1:]),
        (c_hashes[0], "sc", 500, 10, c_hashes[1:]),
        (pa[0], "sd", 400, 10, pa[1:], "0.100,0.100,0.100,0.200"),
    ])
    run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=8, progress=False))
    got = verdicts(fresh_db)
    # three of four are upright, so C is not kept despite its pixels; D is trimmed: A is kept
    assert {k: v[0] for k, v in got.items()} == {a: a, b: a, c: a, d: a}
    assert transforms_of(fresh_db)[c] == "rot90"
    # a pair in two orientations is a tie: today's rule (most pixels) decides; E is F flipped
    pf = picture(4)
    e_hashes = turned(pf, "flip")
    e, f = add_hashed(fresh_db, [(e_hashes[0], "se", 10, 10, e_hashes[1:]), (pf[0], "sf", 20, 10, pf[1:])])
    run_dedupe(fresh_db, DedupeConfig(hash="phash", threshold=8, progress=False))
    assert verdicts(fresh_db)[e][0] == f and transforms_of(fresh_db)[e] == "flip"


def test_turned_mounted_copies_found_and_look_alike_sittings_kept_apart(fresh_db, add_photo, tmp_path):
    """Planted copies of rendered photographs (turned, mirrored, mounted) join their original; other
    sittings in the same studio or street (same look, backdrop, sky) stay apart."""
    originals, planted = {}, {}
    for k, year in enumerate([1872, 1898, 1921, 1937, 1956, 1968, 1977, 1986]):
        for sitting in range(3):
            originals[(k, sitting)] = add_photo(f"s{k}-{sitting}", render_photo(year, 40 + k, (200, 150), sitting), str(year))
        picture = render_photo(year, 40 + k, (200, 150))
        name = ORIENTATIONS[1 + k % 7]
        planted[add_photo(f"t{k}", picture.transpose(PIL_TRANSPOSE[name]).resize((150, 112) if name in
                          ("mirror", "flip", "rot180") else (112, 150)), str(year))] = (originals[(k, 0)], name)
        mount = ("card", "bed")[k % 2]
        planted[add_photo(f"m{k}", mount_print(picture.resize((180, 135)), mount, (12, 9 + k, 14, 25 - k), k),
                          str(year))] = (originals[(k, 0)], "none")
    summary = run_dedupe(fresh_db, DedupeConfig(progress=False))
    got, turned = verdicts(fresh_db), transforms_of(fresh_db)
    # the transform from the original to the copy, through their kept image (which may be either)
    found = {image_id: (got[image_id][0], compose(inverse(turned[original]), turned[image_id]))
             for image_id, (original, _) in planted.items()}
    assert found == {image_id: (got[original][0], name) for image_id, (original, name) in planted.items()}
    kept = {got[image_id][0] for image_id in originals.values()}
    assert len(kept) == len(originals)  # no two sittings merged
    assert summary.excluded == len(planted) and summary.trimmed >= len(planted) // 2
