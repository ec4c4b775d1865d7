"""cli.py import: mixed formats, CSV with free-text dates, corrupt files as rows, re-import adds nothing."""

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from sqlalchemy import select

from cli import main
from crawler.replica import render_photo
from dataset.importer import BadImportSource, ImportConfig, format_summary, run_import
from db.models import Image, Record
from db.session import session_scope
from tests.conftest import REAL_PHOTOS

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


def _photo(path: Path, year: int = 1930) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    render_photo(year, 1, (48, 40)).save(path, "JPEG")
    return path


@pytest.mark.parametrize("with_metadata", [False, True])
def test_bad_links_become_failed_rows_and_the_import_goes_on(fresh_db, tmp_path, with_metadata):
    root = tmp_path / "links"
    _photo(root / "good.jpg")
    (root / "dangling.jpg").symlink_to(tmp_path / "nonexistent.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("file,date\ngood.jpg,1931\n", encoding="utf-8")
    config = ImportConfig(root, csv_path if with_metadata else None, images_dir=tmp_path / "store", progress=False)
    summary = run_import(fresh_db, config)
    assert (summary.files, summary.added, summary.failed) == (3, 1, 2)
    reasons = dict(summary.failures)
    assert reasons["dangling.jpg"] == f"broken link: {tmp_path / 'nonexistent.jpg'} does not exist"
    assert reasons["loop.jpg"] == "broken link: it points back to itself (a link loop)"
    with session_scope(fresh_db) as s:
        rows = {i.record.source_id: (i.status, i.path) for i in s.scalars(select(Image))}
    assert rows["dangling.jpg"] == ("failed", None) and rows["loop.jpg"] == ("failed", None)
    assert rows["good.jpg"][0] == "ok"


def test_links_leaving_the_folder_are_skipped_and_reported_unless_follow_links(fresh_db, tmp_path):
    root = tmp_path / "scans"
    _photo(root / "inside.jpg")
    secret = _photo(tmp_path / "elsewhere" / "private.jpg", 1950)
    (root / "outside.jpg").symlink_to(secret)
    (root / "alias.jpg").symlink_to(root / "inside.jpg")
    config = ImportConfig(root, images_dir=tmp_path / "store", progress=False)
    summary = run_import(fresh_db, config)
    assert summary.links_outside == [("outside.jpg", str(secret))]
    assert (summary.files, summary.added, summary.failed, summary.skipped) == (3, 2, 0, 0)  # the alias stays inside
    with session_scope(fresh_db) as s:
        assert sorted(s.scalars(select(Record.source_id))) == ["alias.jpg", "inside.jpg"]
    followed = run_import(fresh_db, ImportConfig(root, images_dir=tmp_path / "store", progress=False,
                                                 follow_links=True))
    assert followed.links_outside == [] and followed.added == 1


def test_csv_rows_with_parent_references_are_not_matched_by_base_name(fresh_db, tmp_path):
    root = tmp_path / "scans"
    _photo(root / "good.jpg")
    _photo(root / "sub" / "other.jpg")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("file,date\n../../etc/good.jpg,1901\n./sub/other.jpg,1902\nother.jpg,1903\n", encoding="utf-8")
    summary = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False))
    assert summary.unmatched_metadata == ["../../etc/good.jpg", "other.jpg"]
    with session_scope(fresh_db) as s:
        years = dict(s.execute(select(Record.source_id, Record.year)).all())
    assert years == {"good.jpg": None, "sub/other.jpg": 1902}


def test_latin1_csv_is_read_as_cp1252_with_a_note_and_encoding_can_be_forced(fresh_db, tmp_path):
    root = tmp_path / "scans"
    _photo(root / "a.jpg")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_bytes("Archivo;Fecha;Título;Lugar\na.jpg;1930;Boda en Logroño – “Haro”;Haro\n".encode("cp1252"))
    summary = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False))
    assert summary.notes == [f"Metadata {csv_path} is not UTF-8: read it as Windows-1252 (cp1252). "
                             "Pass --encoding to choose another."]
    with session_scope(fresh_db) as s:
        assert s.scalars(select(Record.title)).one() == "Boda en Logroño – “Haro”"
    csv_path.write_bytes("\ufefffile,title\na.jpg,Año\n".encode("utf-8"))
    bom = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False))
    assert bom.notes == [] and bom.updated == 1
    with session_scope(fresh_db) as s:
        assert s.scalars(select(Record.title)).one() == "Año"
    csv_path.write_bytes("file,title\na.jpg,Año\n".encode())
    forced = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False,
                                               encoding="latin-1"))
    with session_scope(fresh_db) as s:
        assert forced.updated == 1 and s.scalars(select(Record.title)).one() == "AÃ±o"  # what latin-1 makes of it
    result = CliRunner().invoke(main, ["import", str(root), "--metadata", str(csv_path), "--encoding", "klingon",
                                       "--db", f"sqlite:///{tmp_path / 'x.db'}", "--images-dir", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Unknown --encoding 'klingon': expected e.g. utf-8, cp1252 or latin-1."


def test_unreadable_and_absurd_dates_are_counted(fresh_db, tmp_path):
    root = tmp_path / "scans"
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"):
        _photo(root / name)
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("file,date,year\na.jpg,abc,\nb.jpg,,3000\nc.jpg,-5,\nd.jpg,s.f.,\ne.jpg,1950,\n",
                        encoding="utf-8")
    summary = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False))
    assert summary.unreadable_dates == [("a.jpg", "abc"), ("b.jpg", "3000"), ("c.jpg", "-5")]
    text = format_summary(summary, root)
    assert "  3 dates were not readable (stored without a year): a.jpg 'abc', b.jpg '3000', c.jpg '-5'" in text


def test_a_huge_file_that_is_not_a_picture_is_never_read_whole(fresh_db, tmp_path):
    import tracemalloc

    root = tmp_path / "scans"
    _photo(root / "a.jpg")
    with open(root / "backup.bin", "wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: costs no disk
    with open(root / "huge.jpg", "wb") as handle:
        handle.truncate(300 * 1024 * 1024)
    tracemalloc.start()
    summary = run_import(fresh_db, ImportConfig(root, images_dir=tmp_path / "store", progress=False))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (summary.added, summary.skipped, summary.failed) == (1, 1, 1)
    assert peak < 50 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize(
    ("header", "row", "holder"),
    [
        ("file,title,photographer,description", "a.jpg,Plaza,Jesús Sáenz,Copia en papel", "Jesús Sáenz"),
        ("file;Título;Fotógrafo", "a.jpg;Plaza;Foto Ochoa", "Foto Ochoa"),
        ("file,title,creator", "a.jpg,Plaza,Estudio Gil", "Estudio Gil"),
        # a holder column wins over a photographer column, wherever it stands
        ("file,photographer,title,titular", "a.jpg,Jesús Sáenz,Plaza,Archivo Municipal de Haro",
         "Archivo Municipal de Haro"),
    ],
)
def test_catalogue_text_columns_are_imported(fresh_db, tmp_path, header, row, holder):
    root = tmp_path / "scans"
    root.mkdir()
    render_photo(1950, 1, (48, 40)).save(root / "a.jpg")
    (tmp_path / "m.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    run_import(fresh_db, ImportConfig(root, tmp_path / "m.csv", "family", tmp_path / "store", progress=False))
    with session_scope(fresh_db) as s:
        record = s.scalars(select(Record)).one()
        assert (record.title, record.holder) == ("Plaza", holder)
        assert record.description == ("Copia en papel" if "description" in header else None)


@pytest.mark.skipif(not (REAL_PHOTOS / "labels.csv").is_file(), reason="real-photos not present")
def test_the_real_photographs_labels_bring_title_and_photographer(fresh_db, tmp_path):
    with (REAL_PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen = [rows[0], rows[1], next(r for r in rows if r["file"].startswith("documerica/"))]
    root = tmp_path / "real"
    for row in chosen:
        (root / row["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REAL_PHOTOS / "images" / row["file"], root / row["file"])
    summary = run_import(fresh_db, ImportConfig(root, REAL_PHOTOS / "labels.csv", "real", tmp_path / "store",
                                                progress=False))
    assert summary.added == 3 and len(summary.unmatched_metadata) == len(rows) - 3
    with session_scope(fresh_db) as s:
        records = {r.source_id: r for r in s.scalars(select(Record))}
    for row in chosen:
        record = records[row["file"]]
        assert (record.title, record.holder, record.year) == (row["title"], row["holder"], int(row["year"]))
        assert record.title and record.holder and record.description is None


def test_csv_rows_match_files_ignoring_case_only_when_one_file_fits(fresh_db, tmp_path):
    root = tmp_path / "scans"
    _photo(root / "PHOTO-011.JPG")
    _photo(root / "Sub" / "Boda.jpg")
    _photo(root / "twin.jpg")
    _photo(root / "TWIN.jpg")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("file,date\nphoto-011.jpg,1931\nsub/boda.JPG,1932\nTwin.JPG,1933\n", encoding="utf-8")
    summary = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False))
    assert summary.unmatched_metadata == ["Twin.JPG"]  # two files fold to twin.jpg: ambiguous, so neither
    with session_scope(fresh_db) as s:
        years = dict(s.execute(select(Record.source_id, Record.year)).all())
    assert years == {"PHOTO-011.JPG": 1931, "Sub/Boda.jpg": 1932, "twin.jpg": None, "TWIN.jpg": None}


def test_the_summary_says_how_many_pictures_went_in_undated_and_why(fresh_db, tmp_path):
    root = tmp_path / "scans"
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"):
        _photo(root / name)
    (root / "rota.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")  # unreadable: counted there, not as undated
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("file,date,title\na.jpg,1950,x\nb.jpg,,sin fecha\nc.jpg,s.f.,x\nd.jpg,abc,x\nrota.jpg,,x\n",
                        encoding="utf-8")
    summary = run_import(fresh_db, ImportConfig(root, csv_path, images_dir=tmp_path / "store", progress=False))
    assert summary.undated == {"no_row": 2, "empty_date": 1, "marked_undated": 1, "unreadable_date": 1}
    assert ("  5 pictures went in undated (no year, so export and training leave them out): 2 with no row in the "
            "CSV; 1 with an empty date in the CSV; 1 catalogued as undated (e.g. 's.f.'); 1 with a date that could "
            "not be read (listed below).") in format_summary(summary, root).splitlines()
    without = run_import(fresh_db, ImportConfig(root, None, source="bare", images_dir=tmp_path / "store",
                                                progress=False))
    assert without.undated == {"no_metadata": 6}
    assert "  6 pictures went in undated (no year, so export and training leave them out): 6 imported without --metadata." \
        in format_summary(without, root)
