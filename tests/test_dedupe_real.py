"""Dedupe on 200 distinct real photographs (../shared/real-photos): no merge among them, in any of the 8
orientations; planted mirrored, turned and mounted copies of some of them are found."""

from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from crawler.replica.photos import mount_print
from dataset.dedupe import DedupeConfig, run_dedupe
from dataset.orientations import PIL_TRANSPOSE, compose, inverse
from db.models import ImageDuplicate
from db.session import session_scope
from tests.conftest import REAL_PHOTOS

REAL = REAL_PHOTOS / "images"
# Copies planted among the real photographs: (index into the sorted files, how the copy differs). A black
# scanner lid is left out: around a film scan's black rebate it is one flat black with the rebate's
# written numbers, which the trimmer does not cut (tests/test_hashing.py covers a black lid).
PLANTED = [(0, "mirror"), (17, "rot90"), (33, "rot180"), (50, "transpose"), (71, "flip"), (99, "rot270"),
           (120, "transverse"), (140, "card"), (160, "bed"), (185, "mirror+bed"), (199, "rot90+card")]


@pytest.fixture
def real_files() -> list[Path]:
    files = sorted(REAL.glob("*/*.jpg"))
    if len(files) != 200:
        pytest.skip(f"expected 200 real photographs under {REAL}, found {len(files)}")
    return files


def store_real(add_photo, path: Path, source_id: str) -> int:
    with PILImage.open(path) as img:
        img.load()
        return add_photo(source_id, img, "1940", data=path.read_bytes())


def verdicts(engine) -> dict[int, tuple[int, str | None]]:
    with session_scope(engine) as s:
        return {d.image_id: (d.cluster_id, d.transform) for d in s.scalars(select(ImageDuplicate))}


@pytest.mark.slow
def test_no_false_merge_among_200_real_photographs_in_any_orientation(fresh_db, add_photo, real_files):
    ids = [store_real(add_photo, path, path.stem) for path in real_files]
    summary = run_dedupe(fresh_db, DedupeConfig(progress=False))
    assert (summary.unreadable, summary.pairs, summary.clusters) == ([], 0, 0)
    assert {cluster for cluster, _ in verdicts(fresh_db).values()} == set(ids)


@pytest.mark.slow
def test_planted_copies_of_real_photographs_are_found_and_nothing_else(fresh_db, add_photo, real_files):
    ids = [store_real(add_photo, path, path.stem) for path in real_files]
    planted = {}
    for index, change in PLANTED:
        with PILImage.open(real_files[index]) as img:
            copy = img.convert("RGB").resize((img.width * 4 // 5, img.height * 4 // 5), PILImage.Resampling.LANCZOS)
        turn = change.split("+")[0] if change.split("+")[0] in PIL_TRANSPOSE else "none"
        if turn != "none":
            copy = copy.transpose(PIL_TRANSPOSE[turn])
        if change.endswith(("card", "bed")):
            copy = mount_print(copy, change.rsplit("+", 1)[-1], (20, 14, 9, 31), seed=index)
        planted[add_photo(f"copy-{index}", copy, "1940")] = (ids[index], turn)
    summary = run_dedupe(fresh_db, DedupeConfig(progress=False))
    got = verdicts(fresh_db)
    found = [copy_id for copy_id, (original_id, _) in planted.items() if got[copy_id][0] == got[original_id][0]]
    for copy_id in found:
        # the transform from original to copy, through the kept image of their cluster
        original_id, turn = planted[copy_id]
        assert compose(inverse(got[original_id][1]), got[copy_id][1]) == turn
    # Every turned copy is found. A film scan's rebate (black, with written numbers) is trimmed a few pixels
    # differently on and off a scanner bed, which can cost a mounted copy: at most one of the mounted is missed.
    missed = {planted[c][1] + ("+mount" if "bed" in change or "card" in change else "")
              for c, (_, change) in zip(planted, PLANTED, strict=True) if c not in found}
    assert len(missed) <= 1 and all(m.endswith("+mount") for m in missed), missed
    assert summary.clusters == len(found) and summary.excluded == len(found)  # nothing else merged
