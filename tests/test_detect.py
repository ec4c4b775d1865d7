"""The detection stage (dataset/detect.py, `cli.py detect`) on real photographs stored in a real database:
boxes in the stored pixels, resumable per detector version, failures as rows, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sys

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from cli import main
from dataset.detect import DetectConfig, run_detect
from dataset.people import FACE, PeopleConfig, detector_version
from db.models import Image as ImageRow
from db.models import PeopleScan, PersonBox
from db.session import session_scope
from tests.conftest import REAL_PHOTOS
from tests.test_people import EMPTY_FIELD, TWO_FACE_CENTRES, TWO_FACES

pytestmark = [pytest.mark.skipif(not (REAL_PHOTOS / "labels.csv").is_file(), reason="real-photos not present"),
              pytest.mark.backends("sqlite", "postgresql")]
cv2 = pytest.importorskip("cv2")


def _store_real(add_photo, source_id: str, file: str, scale: int = 1) -> int:
    """Store a real photograph (its JPEG bytes as they are, or re-encoded `scale` times larger)."""
    path = REAL_PHOTOS / "images" / file
    img = Image.open(path)
    if scale == 1:
        return add_photo(source_id, img, "1973", data=path.read_bytes())
    return add_photo(source_id, img.convert("RGB").resize((img.width * scale, img.height * scale)), "1973")


def _scans(engine) -> dict[int, PeopleScan]:
    with session_scope(engine) as session:
        rows = session.execute(select(PeopleScan)).scalars().all()
        session.expunge_all()
        return {row.image_id: row for row in rows}


def _boxes(engine, image_id: int) -> list[PersonBox]:
    with session_scope(engine) as session:
        rows = session.execute(select(PersonBox).where(PersonBox.image_id == image_id)).scalars().all()
        session.expunge_all()
        return rows


def test_faces_are_stored_in_the_pixels_of_the_stored_file(fresh_db, add_photo):
    """A 2x copy (1218x1800) is decoded small for the detector; its stored boxes land on the faces at 2x."""
    big = _store_real(add_photo, "big", TWO_FACES, scale=3)
    field = _store_real(add_photo, "field", EMPTY_FIELD)
    summary = run_detect(fresh_db, DetectConfig(progress=False))
    assert (summary.examined, summary.skipped, summary.failed) == (2, 0, [])
    scans = _scans(fresh_db)
    assert (scans[big].status, scans[big].faces, scans[big].people, scans[big].category) == ("ok", 2, 2, "group")
    assert (scans[field].status, scans[field].people, scans[field].category) == ("ok", 0, "none")
    assert _boxes(fresh_db, field) == []
    faces = [b for b in _boxes(fresh_db, big) if b.kind == FACE]
    for cx, cy in TWO_FACE_CENTRES:
        assert any(b.x0 <= 3 * cx < b.x1 and b.y0 <= 3 * cy < b.y1 for b in faces)
    assert {b.detector for b in faces} == {summary.detector} == {scans[big].detector}


def test_a_second_run_skips_what_this_detector_examined(fresh_db, add_photo):
    first = _store_real(add_photo, "a", TWO_FACES)
    run_detect(fresh_db, DetectConfig(progress=False))
    second = _store_real(add_photo, "b", EMPTY_FIELD)
    again = run_detect(fresh_db, DetectConfig(progress=False))
    assert (again.examined, again.skipped) == (1, 1)
    assert set(_scans(fresh_db)) == {first, second}
    redo = run_detect(fresh_db, DetectConfig(redo=True, progress=False))
    assert (redo.examined, redo.skipped) == (2, 0)
    assert len(_boxes(fresh_db, first)) == redo.faces + redo.figures  # rewritten, not added twice
    other = PeopleConfig(figure_min_score=1.5)
    changed = run_detect(fresh_db, DetectConfig(people=other, progress=False))
    assert (changed.examined, changed.skipped) == (2, 0)
    assert {scan.detector for scan in _scans(fresh_db).values()} == {detector_version(other)}


def test_limit_leaves_the_rest_for_the_next_run(fresh_db, add_photo, monkeypatch):
    monkeypatch.setattr("dataset.detect.READ_ROWS", 1)  # pending rows are read a page at a time: pages of one
    ids = [_store_real(add_photo, name, EMPTY_FIELD if name != "b" else TWO_FACES) for name in "abc"]
    first = run_detect(fresh_db, DetectConfig(limit=2, progress=False))
    assert (first.examined, first.left) == (2, 1)
    assert set(_scans(fresh_db)) == set(ids[:2])
    second = run_detect(fresh_db, DetectConfig(progress=False))
    assert (second.examined, second.skipped, second.left) == (1, 2, 0)


def test_missing_and_corrupt_files_are_failed_rows_and_are_tried_again(fresh_db, add_photo, tmp_path):
    good = _store_real(add_photo, "good", EMPTY_FIELD)
    corrupt = add_photo("corrupt", None, "1950", data=b"\xff\xd8\xff\xe0 not really a jpeg")
    gone = _store_real(add_photo, "gone", TWO_FACES)
    with session_scope(fresh_db) as session:
        path = session.get(ImageRow, gone).path
    os.rename(path, tmp_path / "moved.jpg")
    summary = run_detect(fresh_db, DetectConfig(progress=False))
    assert summary.examined == 1
    assert {f.image_id: f.error.split(":")[0] for f in summary.failed} == {corrupt: "cannot open",
                                                                          gone: "file not found"}
    scans = _scans(fresh_db)
    assert scans[good].status == "ok"
    assert (scans[gone].status, scans[gone].people, scans[gone].category) == ("failed", None, None)
    assert scans[gone].error.startswith("file not found")
    os.rename(tmp_path / "moved.jpg", path)  # the file is back: the next run examines it
    retry = run_detect(fresh_db, DetectConfig(progress=False))
    assert (retry.examined, len(retry.failed), retry.skipped) == (1, 1, 1)
    assert _scans(fresh_db)[gone].category == "group"


def test_cli_detect_prints_what_it_found(fresh_db, add_photo, db_url):
    _store_real(add_photo, "a", TWO_FACES)
    _store_real(add_photo, "b", EMPTY_FIELD)
    result = CliRunner().invoke(main, ["detect", "--db", db_url, "-q"])
    assert result.exit_code == 0, result.output
    assert "Examined 2 images for people (0 already examined, 0 failed)" in result.output
    assert "1 groups" in result.output and "1 with nobody" in result.output
    again = CliRunner().invoke(main, ["detect", "--db", db_url, "-q"])
    assert "Examined 0 images for people (2 already examined, 0 failed)" in again.output


def test_cli_detect_without_opencv_is_one_clear_line(fresh_db, add_photo, db_url, monkeypatch):
    _store_real(add_photo, "a", EMPTY_FIELD)
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if the optional extra were not installed
    result = CliRunner().invoke(main, ["detect", "--db", db_url, "-q"])
    assert result.exit_code == 1
    assert result.output == "Error: Detecting people needs OpenCV. Install it with: pip install -e '.[people]'\n"
    assert _scans(fresh_db) == {}


def test_help_shows_the_detector_defaults():
    from commands.curate import detect

    shown = {option.name: option.show_default for option in detect.params}
    config = PeopleConfig()
    assert shown["min_face"] == str(config.min_face)
    assert shown["face_neighbours"] == str(config.face_neighbours)
    assert shown["figure_min_score"] == str(config.figure_min_score)
