"""export at archive scale: --no-copy manifests that point at the stored files, and passes that hold no object
per picture (a million-row manifest must fit in well under 1 GB)."""

import csv
import json
import shutil
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import delete, func, insert, select

from cli import main
from dataset import export as export_module
from dataset.export import ArchiveChanged, ExportConfig, run_export
from db.models import Image as StoredImage
from db.models import ImageDuplicate, Record
from db.session import make_engine
from modeling.training.data import read_export

PICTURES = 20_000  # the archive the memory test exports


def manifest(out: Path) -> list[dict]:
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def export(url: str, out: Path, **kwargs) -> Path:
    engine = make_engine(url)
    run_export(engine, ExportConfig(out=out, progress=False, **kwargs), url)
    engine.dispose()
    return out


def test_no_copy_lists_the_stored_files_in_the_copied_exports_rows(tiny_archive, tmp_path):
    copied = manifest(export(tiny_archive, tmp_path / "copied", image_size=0, balance="oversample"))
    listed_dir = export(tiny_archive, tmp_path / "listed", image_size=0, balance="oversample", copy=False)
    listed = manifest(listed_dir)
    assert sorted(p.name for p in listed_dir.iterdir()) == ["export.json", "manifest.csv"]
    engine = make_engine(tiny_archive)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(StoredImage.id, StoredImage.path)).all())
    engine.dispose()
    assert len(listed) == len(copied) > 71  # oversampled train rows repeat
    for mine, theirs in zip(listed, copied, strict=True):
        assert mine["file"] == stored[int(mine["image_id"])]
        assert {**mine, "file": ""} == {**theirs, "file": ""}  # same rows, splits and sizes, in the same order
    meta = json.loads((listed_dir / "export.json").read_text())
    assert meta["args"]["copy"] is False and meta["images"] == 71
    # train reads such an export as it is: every row's file resolves to the stored picture
    rows = read_export(listed_dir).rows
    assert len(rows) == len(listed) and all(Path(row.file).is_absolute() for row in rows)


def test_no_copy_lists_a_missing_file_as_failed(fresh_db, add_photo, db_url, tmp_path):
    from crawler.replica import render_photo
    from dataset.dedupe import DedupeConfig, run_dedupe

    ids = [add_photo(f"p{k}", render_photo(1900 + k, k, (64, 48)), str(1900 + k)) for k in range(3)]
    run_dedupe(fresh_db, DedupeConfig(progress=False))
    with fresh_db.connect() as conn:
        gone = Path(conn.execute(select(StoredImage.path).where(StoredImage.id == ids[1])).scalar())
    gone.unlink()
    result = CliRunner().invoke(main, ["export", "--db", db_url, "--out", str(tmp_path / "ds"), "--no-copy", "-q"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "ds" / "export.json").read_text())
    assert meta["failed"] == [{"image_id": ids[1], "error": f"file not found: {gone}"}]
    assert sorted(int(r["image_id"]) for r in manifest(tmp_path / "ds")) == [ids[0], ids[2]]


def _add_pictures(url: str, first: int, pictures: int, picture: Path) -> None:
    """`pictures` more dated records from number `first`, one picture each (one file reused by path),
    deduplicated, one pair in 50 in a near-duplicate group."""
    engine = make_engine(url)
    stamp = datetime(2024, 1, 1)
    numbers = range(first, first + pictures)
    with engine.begin() as conn:
        conn.execute(insert(Record), [{"id": i + 1, "source": "t", "source_id": f"R{i:07d}", "year": 1860 + i % 130,
                                       "year_min": 1860 + i % 130, "year_max": 1860 + i % 130, "status": "ok",
                                       "title": f"Plaza {i}", "description": "Fotografía de la colección, Haro.",
                                       "holder": f"Estudio {i % 900}", "place": "Haro", "first_seen": stamp,
                                       "last_seen": stamp} for i in numbers])
        conn.execute(insert(StoredImage), [{"id": i + 1, "record_id": i + 1, "url": f"u{i}", "path": str(picture),
                                            "status": "ok", "width": 40, "height": 30, "format": "JPEG"}
                                           for i in numbers])
        conn.execute(insert(ImageDuplicate), [{"image_id": i + 1, "cluster_id": i + 1, "role": "unique",
                                               "group_id": i if i % 50 == 1 else i + 1, "excluded": False,
                                               "algorithm": "phash", "threshold": 8} for i in numbers])
    engine.dispose()


def _peak(url: str, work) -> tuple:
    """work(engine)'s result and the most Python memory it held at once."""
    engine = make_engine(url)
    tracemalloc.start()
    try:
        return work(engine), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        engine.dispose()


def _export_peak(url: str, out: Path) -> int:
    return _peak(url, lambda engine: run_export(
        engine, ExportConfig(out=out, copy=False, progress=False, force=True), url))[1]


def test_a_large_export_holds_no_object_per_picture(tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "WINDOW", 100)  # the pictures held at once: a fixed cost, kept small here
    picture = tmp_path / "one.jpg"
    Image.new("RGB", (40, 30), "gray").save(picture)
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    _add_pictures(url, 0, PICTURES // 4, picture)
    small = _export_peak(url, tmp_path / "ds")
    _add_pictures(url, PICTURES // 4, PICTURES - PICTURES // 4, picture)
    large = _export_peak(url, tmp_path / "ds")
    rows = manifest(tmp_path / "ds")
    assert len(rows) == PICTURES
    groups = {}
    for row in rows:
        groups.setdefault(row["group_id"], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in groups.values()) and len(groups) < PICTURES
    # What each further picture costs at the peak: holding each picture's Candidate (text included) cost about
    # 1 KB; the compact columns, a fraction of that.
    per_picture = (large - small) / (PICTURES - PICTURES // 4)
    assert per_picture < 600, f"export's peak grew by {per_picture:.0f} bytes per picture"


def test_an_archive_that_changes_between_the_passes_is_refused(tiny_archive, tmp_path, monkeypatch):
    db = tmp_path / "archive.db"
    shutil.copyfile(tiny_archive.removeprefix("sqlite:///"), db)
    url = f"sqlite:///{db}"
    real = export_module._plan

    def plan_then_delete(engine, config, spool):
        plan = real(engine, config, spool)
        with engine.begin() as conn:  # another process removes a picture meanwhile
            conn.execute(delete(StoredImage).where(StoredImage.id == plan.image_ids[5]))
        return plan

    monkeypatch.setattr(export_module, "_plan", plan_then_delete)
    with pytest.raises(ArchiveChanged, match="changed while export read them"):  # copying reads the catalog twice
        export(url, tmp_path / "ds", image_size=16)
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith("archive.db")]  # no half-built export left


@pytest.mark.parametrize("source_id,title", [("SC-1", "Plaza"), ("a,b", 'dice "hola"'), ("=cmd", "@SUM(A1)"),
                                             ("nul\0id", "Logroño\nnueva línea"), ("-5", "")])
def test_a_spooled_line_reads_back_as_the_csv_row_with_its_split(tmp_path, source_id, title):
    import io

    from dataset.catalog import Candidate
    from dataset.manifest_spool import ManifestSpool
    from db import csvsafe

    c = Candidate(7, 3, source_id, "/x/7.jpg", 1901, 1900, 1902, 0, 7, 7, False, 40, 30, "JPEG", "src", title,
                  "desc, with comma", "=holder", "Haro")
    spool = ManifestSpool(tmp_path / "lines", people=False)
    spool.add(1, c, "train/1900-1919/7.jpg", (40, 30), None, ("1900-1919",), None)
    spool.close(2)
    expected = io.StringIO()
    csvsafe.writer(expected, lineterminator="\n").writerow(
        [3, source_id, 7, "train/1900-1919/7.jpg", 1901, 1900, 1902, "1900-1919", 0, "valid", 7, 40, 30, 7, "src",
         title, "desc, with comma", "=holder", "Haro"])
    assert spool.line(1, "valid") == expected.getvalue().encode() and spool.line(0, "train") == b""
    spool.close_and_remove()
    assert not (tmp_path / "lines").exists()


def test_no_copy_shows_every_stored_picture_read(tiny_archive, tmp_path, capsys, monkeypatch):
    from db.progress import QUIET_ENV

    monkeypatch.delenv(QUIET_ENV, raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    engine = make_engine(tiny_archive)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(StoredImage).where(StoredImage.status == "ok"))
    run_export(engine, ExportConfig(out=tmp_path / "ds", copy=False), tiny_archive)
    engine.dispose()
    # the bar's last line: every stored picture read (the ones left out too), out of all of them
    assert stored > len(manifest(tmp_path / "ds")) and f"listing: {stored}/{stored} (100%)" in capsys.readouterr().err


def _report_peak(url: str) -> tuple[int, int]:
    from dataset.balance import BalanceConfig, balance_report

    return _peak(url, lambda engine: balance_report(engine, BalanceConfig()).total_after)


def test_balance_report_holds_no_object_per_picture(tmp_path, monkeypatch):
    """balance-report counts a million pictures as they stream (it held every Candidate: 739 MB at 1M)."""
    from dataset import catalog

    monkeypatch.setattr(catalog, "CHUNK_ROWS", 500)  # the rows fetched at once: a fixed cost, kept small here
    picture = tmp_path / "one.jpg"
    Image.new("RGB", (40, 30), "gray").save(picture)
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    _add_pictures(url, 0, PICTURES // 4, picture)
    small_total, small = _report_peak(url)
    _add_pictures(url, PICTURES // 4, PICTURES - PICTURES // 4, picture)
    large_total, large = _report_peak(url)
    assert (small_total, large_total) == (PICTURES // 4, PICTURES)
    per_picture = (large - small) / (PICTURES - PICTURES // 4)
    assert per_picture < 100, f"balance-report's peak grew by {per_picture:.0f} bytes per picture"
