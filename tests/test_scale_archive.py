"""The scale benchmark's picture-per-record archive: every record gets a stored picture and a dedupe verdict,
and export --no-copy lists them all."""

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from benchmarks.scale_archive import NEAR_EVERY, fill_pictures, fill_records
from dataset.export import ExportConfig, run_export
from db.models import Image, ImageDuplicate, Record
from db.session import make_engine

REAL_PHOTOS = Path("/work/shared/real-photos/images")


@pytest.mark.skipif(not any(REAL_PHOTOS.rglob("*.jpg")), reason="the real photographs are not on this machine")
def test_every_record_gets_a_picture_reused_from_the_pool(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    fill_records(url, 300, seed=0)
    assert fill_pictures(url, tmp_path / "images", REAL_PHOTOS, seed=0, pool_files=7) == 300
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count(func.distinct(Image.record_id)))) == 300
        assert conn.scalar(select(func.count(func.distinct(Image.path)))) == 7
        assert conn.scalar(select(func.count(func.distinct(Image.sha256)))) == 300
        grouped = conn.scalar(select(func.count()).where(ImageDuplicate.group_id != ImageDuplicate.image_id))
        assert grouped == 300 // NEAR_EVERY
        undated = conn.scalar(select(func.count()).select_from(Record).where(Record.year.is_(None)))
    summary = run_export(engine, ExportConfig(out=tmp_path / "ds", copy=False, progress=False), url)
    engine.dispose()
    with (tmp_path / "ds" / "manifest.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary.rows == 300 - sum(summary.left_out.values()) and undated > 0
    assert summary.left_out["no_date"] == undated and not summary.failed
    assert all(Path(row["file"]).parent == tmp_path / "images" / "pool" for row in rows)
