"""cli.py import: mixed formats, CSV with free-text dates, corrupt files as rows, re-import adds nothing."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from sqlalchemy import select

from cli import main
from crawler.replica import render_photo
from dataset.importer import BadImportSource, ImportConfig, run_import
from db.models import Image, Record
from db.session import session_scope

pytestmark = pytest.mark.backends("sqlite", "postgresql")

FORMATS = {"a.jpg": "JPEG", "b.png": "PNG", "sub/c.tif": "TIFF", "sub/d.webp": "WEBP", "e.bmp": "BMP",
           "sub/deeper/f.gif": "GIF", "g.pgm": "PPM"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    for k, (name, fmt) in enumerate(FORMATS.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        img = render_photo(1900 + 10 * k, k, (48, 40))
        (img.convert("L") if fmt == "PPM" else img).save(path, fmt)
    good = (root / "a.jpg").read_bytes()
    (root / "broken.jpg").write_bytes(good[: len(good) // 2])
    PILImage.new("RGB", (16, 16)).save(root / "icon.ico")
    (root / "notes.txt").write_text("box 3, donated 1998")
    (root / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic" + bytes(64))
    (root / ".DS_Store").write_bytes(b"\0\0")
    (root / "fechas.csv").write_text(
        "Archivo;Fecha;Título;Lugar\n"
        "a.jpg;hacia 1930;Boda en Haro;Haro\n"
        "sub/c.tif;años 50;Vendimia;Cenicero\n"
        "f.gif;1962;Fiestas;Logroño\n"
        "missing.jpg;1940;Nada;\n", encoding="utf-8")
    return root


def test_import_mixed_formats_with_metadata(fresh_db, folder, tmp_path):
    config = ImportConfig(folder, folder / "fechas.csv", "family", tmp_path / "store", progress=False)
    summary = run_import(fresh_db, config)
    assert (summary.files, summary.added, summary.failed, summary.skipped) == (11, 7, 3, 1)
    assert summary.unmatched_metadata == ["missing.jpg"]
    assert dict(summary.failures)["icon.ico"].startswith("unsupported format ICO")
    assert dict(summary.failures)["phone.heic"] == "unsupported format .heic: convert it to JPEG, PNG or TIFF"
    assert dict(summary.failures)["broken.jpg"] == "cannot open: Truncated File Read"
    with session_scope(fresh_db) as s:
        records = {r.source_id: r for r in s.scalars(select(Record).where(Record.source == "family"))}
        a, c, f = records["a.jpg"], records["sub/c.tif"], records["sub/deeper/f.gif"]
        assert (a.date_raw, a.year, a.year_min, a.year_max, a.title, a.place) == ("hacia 1930", 1930, 1925, 1935, "Boda en Haro", "Haro")
        assert (c.year_min, c.year_max, c.date_precision) == (1950, 1959, "decade")
        assert f.year == 1962 and records["e.bmp"].date_precision == "unknown"
        images = {i.record.source_id: i for i in s.scalars(select(Image))}
        assert {images[name].format for name in FORMATS} == set(FORMATS.values())
        stored = Path(images["a.jpg"].path)
        assert stored.is_absolute() and stored == (tmp_path / "store" / images["a.jpg"].sha256[:2] / f"{images['a.jpg'].sha256}.jpg")
        assert stored.read_bytes() == (folder / "a.jpg").read_bytes()
        broken = images["broken.jpg"]
        assert (broken.status, broken.path, broken.error) == ("failed", None, "cannot open: Truncated File Read")
        assert images["icon.ico"].status == "failed"


def test_second_import_adds_nothing_and_a_changed_date_updates(fresh_db, folder, tmp_path):
    config = ImportConfig(folder, folder / "fechas.csv", images_dir=tmp_path / "store", progress=False)
    run_import(fresh_db, config)
    again = run_import(fresh_db, config)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 7)
    csv_path = folder / "fechas.csv"
    csv_path.write_text(csv_path.read_text(encoding="utf-8").replace("hacia 1930", "1931"), encoding="utf-8")
    third = run_import(fresh_db, config)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 6)
    with session_scope(fresh_db) as s:
        assert s.query(Record).count() == 10 and s.query(Image).count() == 10
        assert s.scalars(select(Record.year).where(Record.source_id == "a.jpg")).one() == 1931


def test_cli_import_summary_and_errors(fresh_db, folder, db_url, tmp_path):
    store = str(tmp_path / "store")
    result = CliRunner().invoke(main, ["import", str(folder), "--db", db_url, "--metadata", str(folder / "fechas.csv"),
                                       "--images-dir", store])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (f"Imported 11 files from {folder}: 7 added, 0 updated, 0 unchanged, "
                                             "3 unreadable, 1 not pictures (skipped).")
    missing = CliRunner().invoke(main, ["import", str(tmp_path / "nope"), "--db", db_url])
    assert missing.exit_code == 1
    assert missing.output.strip() == f"Error: Folder {tmp_path / 'nope'} not found: expected a directory of photographs."
    (tmp_path / "bad.csv").write_text("name,when\nx.jpg,1950\n")
    with pytest.raises(BadImportSource, match="has columns name, when: expected a 'file' column"):
        run_import(fresh_db, ImportConfig(folder, tmp_path / "bad.csv", progress=False))
