"""export: layout and contract files, stratified group-aware splits, determinism, balancing, atomicity."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from cli import main
from dataset import export as export_module
from dataset.catalog import Candidate
from dataset.export import MANIFEST_COLUMNS, ExportConfig, run_export
from dataset.split import SPLITS, assign_splits
from db.models import Image as StoredImage
from db.session import make_engine

FRACTIONS = (0.8, 0.1, 0.1)


def export(url: str, out: Path, **kwargs) -> Path:
    engine = make_engine(url)
    run_export(engine, ExportConfig(out=out, image_size=kwargs.pop("image_size", 32), progress=False, **kwargs), url)
    engine.dispose()
    return out


def manifest(out: Path) -> list[dict]:
    return list(csv.DictReader((out / "manifest.csv").open(encoding="utf-8")))


def per_split_bin(rows: list[dict]) -> Counter:
    return Counter((r["split"], r["bin"]) for r in rows)


def test_tiny_export_follows_the_contract(tiny_export):
    meta = json.loads((tiny_export / "export.json").read_text())
    assert {"format_version", "bins", "args", "counts", "database", "created_at", "code_version"} <= set(meta)
    assert meta["format_version"] == 1 and meta["bins"]["spec"] == "20y" and meta["bins"]["origin"] == 1860
    assert meta["bins"]["edges"] == list(range(1860, 2001, 20))
    rows = manifest(tiny_export)
    assert tuple(rows[0]) == MANIFEST_COLUMNS and len(rows) == 71
    for r in rows:
        path = tiny_export / r["file"]
        assert r["file"] == f"{r['split']}/{r['bin']}/{r['image_id']}.jpg" and path.is_file()
        assert meta["bins"]["labels"][int(r["bin_index"])] == r["bin"]
        with Image.open(path) as img:
            assert img.mode == "RGB" and min(img.size) == 64 and img.size == (int(r["width"]), int(r["height"]))
    assert {s: sum(n.values()) for s, n in meta["counts"].items()} == {"train": 56, "valid": 8, "test": 7}
    assert meta["left_out"] == {"no_date": 1, "spans_bins": 1, "excluded_duplicate": 3}


def test_each_split_is_within_one_image_of_its_target(tiny_export):
    rows = manifest(tiny_export)
    got = per_split_bin(rows)
    # the tiny archive holds 8, 8, 9, 10, 12, 14 and 10 kept images in its seven 20-year bins
    per_bin = Counter(r["bin"] for r in rows)
    assert list(per_bin.values()) == [8, 8, 9, 10, 12, 14, 10]
    for label, count in per_bin.items():
        for split, fraction in zip(SPLITS, FRACTIONS, strict=True):
            assert abs(got[(split, label)] - count * fraction) <= 1, (split, label)


def test_groups_never_cross_splits():
    # groups of 1-4 images over 3 bins; a group may span bins (chained near-duplicates)
    items, image_id = [], 0
    for group in range(120):
        for k in range(1 + group % 4):
            image_id += 1
            items.append(Candidate(image_id, image_id, str(image_id), "/x.jpg", 1900, 1900, 1900,
                                   (group + k // 3) % 3, group, group, False, 10, 10, "JPEG"))
    split_of = assign_splits(items, FRACTIONS, seed=3)
    by_group: dict[int, set] = {}
    for c in items:
        by_group.setdefault(c.group_id, set()).add(split_of[c.image_id])
    assert all(len(splits) == 1 for splits in by_group.values())
    per_bin = Counter(c.bin_index for c in items)
    got = Counter((c.bin_index, split_of[c.image_id]) for c in items)
    for b, n in per_bin.items():
        for split, fraction in zip(SPLITS, FRACTIONS, strict=True):
            assert abs(got[(b, split)] - n * fraction) <= 4  # at most one group's size off
    assert split_of == assign_splits(list(reversed(items)), FRACTIONS, seed=3)


def test_same_seed_same_manifest_and_no_excluded_duplicate(tiny_archive, tiny_export, tmp_path):
    """Groups across splits are checked end to end, on near-duplicate chains, in test_export_leaks.py."""
    again = export(tiny_archive, tmp_path / "again", image_size=64)
    assert (again / "manifest.csv").read_bytes() == (tiny_export / "manifest.csv").read_bytes()
    other = export(tiny_archive, tmp_path / "other", seed=1)
    assert {(r["image_id"], r["split"]) for r in manifest(other)} != {(r["image_id"], r["split"]) for r in manifest(again)}
    engine = make_engine(tiny_archive)
    with engine.connect() as conn:
        excluded = {str(i) for i in conn.exec_driver_sql("select image_id from image_duplicates where excluded").scalars()}
    engine.dispose()
    assert len(excluded) == 3  # the tiny archive's three resized copies
    assert not excluded & {r["image_id"] for r in manifest(other)}


def test_balance_modes_touch_train_only(tiny_archive, tmp_path):
    natural = per_split_bin(manifest(export(tiny_archive, tmp_path / "none")))
    under = manifest(export(tiny_archive, tmp_path / "under", balance="undersample"))
    over_dir = export(tiny_archive, tmp_path / "over", balance="oversample")
    over = manifest(over_dir)
    capped = manifest(export(tiny_archive, tmp_path / "cap", balance="undersample", max_per_class=7))
    floor = manifest(export(tiny_archive, tmp_path / "floor", balance="oversample", min_per_class=9))
    train_natural = {b: n for (s, b), n in natural.items() if s == "train"}
    for rows, expected in [(under, min(train_natural.values())), (over, max(train_natural.values()))]:
        counts = per_split_bin(rows)
        assert {n for (s, _), n in counts.items() if s == "train"} == {expected}
        assert {k: n for k, n in counts.items() if k[0] != "train"} == {k: n for k, n in natural.items() if k[0] != "train"}
    assert {n for (s, _), n in per_split_bin(capped).items() if s == "train"} == {6, 7}
    assert {b: n for (s, b), n in per_split_bin(floor).items() if s == "train"} == {
        b: max(9, n) for b, n in train_natural.items()}
    # oversampling repeats manifest rows, not files
    files = [p for p in over_dir.rglob("*.jpg")]
    assert len(files) == len({r["image_id"] for r in over}) < len(over)


def test_image_size_zero_copies_originals(tiny_archive, tmp_path):
    out = export(tiny_archive, tmp_path / "orig", image_size=0)
    row = manifest(out)[0]
    engine = make_engine(tiny_archive)
    with engine.connect() as conn:
        original = conn.exec_driver_sql("select path from images where id = ?", (int(row["image_id"]),)).scalar()
    engine.dispose()
    assert (out / row["file"]).read_bytes() == Path(original).read_bytes()


def test_refuses_non_empty_dir_without_force_then_replaces_it(tiny_archive, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ["export", "--db", tiny_archive, "--out", str(out), "--image-size", "16", "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: Export directory {out} is not empty. Pass --force to replace it, or choose another --out."
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Exported 71 images (71 manifest rows) to {out}"
    warned = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    valid = sum(int(n) for n in re.findall(r": (\d+)", result.stdout.splitlines()[2]))
    assert warned[0] == (f"warning: the valid split holds only {valid} photographs: one photograph moves its accuracy "
                         f"by {100 / valid:.0f} points. Trust cross-validation (train --head-only --cv 5) over it, or "
                         "export more photographs.")
    assert not (out / "notes.txt").exists() and (out / "manifest.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_options_that_do_not_fit_are_one_error_line(tiny_archive, tmp_path):
    base = ["export", "--db", tiny_archive, "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(main, [*base, "--max-per-class", "5"])
    assert result.output.strip() == "Error: --max-per-class applies to --balance undersample; pass that too, or drop the option."
    result = CliRunner().invoke(main, [*base, "--splits", "0.8,0.3"])
    assert result.output.strip() == ("Error: Cannot use --splits '0.8,0.3': expected three fractions train,valid,test "
                                      "summing to 1, e.g. 0.8,0.1,0.1.")
    assert result.exit_code == 1 and not (tmp_path / "x").exists()


@pytest.mark.backends("sqlite", "postgresql")
def test_export_before_dedupe_is_refused(fresh_db, add_photo, db_url, tmp_path):
    add_photo("one", Image.new("RGB", (40, 30)), "1950")
    result = CliRunner().invoke(main, ["export", "--db", db_url, "--out", str(tmp_path / "ds")])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: 1 of 1 binned images have no dedupe verdict, so duplicates could cross "
                                      "splits. Run 'cli.py dedupe' first.")


def test_an_interrupted_export_leaves_no_directory(tiny_archive, tmp_path, monkeypatch):
    real = export_module._export_one
    calls = []

    def dies_on_the_tenth(job):
        calls.append(job)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(export_module, "_export_one", dies_on_the_tenth)
    with pytest.raises(KeyboardInterrupt):
        export(tiny_archive, tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_export_leaves_no_directory(tiny_archive, tmp_path):
    out = tmp_path / "ds"
    script = (
        "import sys, time; from dataset import export as e; real = e._export_one\n"
        "def slow(job):\n    time.sleep(0.05); return real(job)\n"
        "e._export_one = slow\n"
        "from cli import main\n"
        f"main(['export', '--db', {tiny_archive!r}, '--out', {str(out)!r}, '--workers', '1', '--image-size', '16'])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(tmp_path.glob(".ds.building-*/train/*/*.jpg")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(tmp_path.glob(".ds.building-*")) and not out.exists()
    export(tiny_archive, out)  # the next export clears what the killed one left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_file_that_vanished_is_listed_as_failed_not_exported(fresh_db, add_photo, db_url, tmp_path):
    from crawler.replica import render_photo
    from dataset.dedupe import DedupeConfig, run_dedupe

    ids = [add_photo(f"p{k}", render_photo(1900 + k, k, (64, 48)), str(1900 + k)) for k in range(3)]
    run_dedupe(fresh_db, DedupeConfig(progress=False))
    with fresh_db.connect() as conn:
        Path(conn.execute(select(StoredImage.path).where(StoredImage.id == ids[1])).scalar()).unlink()
    out = export(db_url, tmp_path / "ds")
    meta = json.loads((out / "export.json").read_text())
    assert [f["image_id"] for f in meta["failed"]] == [ids[1]]
    assert meta["failed"][0]["error"].startswith("file not found: ")
    assert sorted(int(r["image_id"]) for r in manifest(out)) == [ids[0], ids[2]]


def test_a_recrawl_with_other_row_ids_splits_alike(tmp_path):
    """Splits follow the archive's identifiers, not the order rows were stored in."""
    from conftest import store_photo

    from crawler.replica import render_photo
    from dataset.dedupe import DedupeConfig, run_dedupe
    from db.session import session_scope

    photos = [(f"R-{year}-{k}", str(year), render_photo(year, k, (64, 48)))
              for year in (1885, 1925, 1955, 1965) for k in range(10)]
    splits = []
    for name, ordered in (("forward", photos), ("reversed", photos[::-1])):
        url = f"sqlite:///{tmp_path / name}.db"
        engine = make_engine(url)
        with session_scope(engine) as session:
            for source_id, date_raw, img in ordered:
                store_photo(session, tmp_path / name, source_id, img, date_raw)
        run_dedupe(engine, DedupeConfig(progress=False))
        engine.dispose()
        rows = manifest(export(url, tmp_path / f"export-{name}"))
        splits.append({r["source_id"]: r["split"] for r in rows})
    assert splits[0] == splits[1]
    assert set(splits[0].values()) == set(SPLITS)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_record_the_archive_withdrew_is_counted_never_exported(fresh_db, add_photo, db_url, tmp_path):
    from crawler.replica import render_photo
    from dataset.balance import BalanceConfig, balance_report
    from dataset.dedupe import DedupeConfig, run_dedupe
    from db.models import Record
    from db.session import session_scope

    for k, year in enumerate([1900, 1905, 1930, 1935, 1960, 1965]):
        add_photo(f"R{k}", render_photo(year, k, (64, 48)), str(year))
    with session_scope(fresh_db) as s:  # what an OAI-PMH harvest does with a deleted header
        s.execute(Record.__table__.update().where(Record.source_id == "R2").values(status="deleted"))
    run_dedupe(fresh_db, DedupeConfig(progress=False))
    report = balance_report(fresh_db, BalanceConfig(bins="20y", origin=1900))
    assert report.left_out == {"withdrawn": 1} and report.total_before == 5
    summary = run_export(fresh_db, ExportConfig(out=tmp_path / "ds", bins="20y", origin=1900, splits=(0.6, 0.2, 0.2),
                                                image_size=32, progress=False), db_url)
    with open(tmp_path / "ds" / "manifest.csv", newline="") as f:
        exported = {row["source_id"] for row in csv.DictReader(f)}
    assert exported == {"R0", "R1", "R3", "R4", "R5"} and summary.images == 5


@pytest.mark.backends("sqlite", "postgresql")
def test_the_manifest_carries_the_catalogue_text_and_read_export_reads_it(fresh_db, add_photo, db_url, tmp_path):
    """title, description, holder and place travel from records to the manifest to ExportRow (evidence sources)."""
    from crawler.replica import render_photo
    from dataset.dedupe import DedupeConfig, run_dedupe
    from db.models import Record
    from db.session import session_scope
    from modeling.training.data import read_export

    for k, year in enumerate([1900, 1905, 1930, 1935, 1960, 1965]):
        add_photo(f"R{k}", render_photo(year, k, (64, 48)), str(year))
    with session_scope(fresh_db) as s:
        s.execute(Record.__table__.update().where(Record.source_id == "R2").values(
            title="Fiesta, 1930", description="Plaza mayor en fiestas", holder="Foto Ruiz", place="Toledo"))
    run_dedupe(fresh_db, DedupeConfig(progress=False))
    out = export(db_url, tmp_path / "ds")
    by_id = {r["source_id"]: r for r in manifest(out)}
    assert {k: by_id["R2"][k] for k in ("title", "description", "holder", "place")} == {
        "title": "Fiesta, 1930", "description": "Plaza mayor en fiestas", "holder": "Foto Ruiz", "place": "Toledo"}
    assert by_id["R0"]["holder"] == "" and by_id["R0"]["title"] == "R0"
    rows = {row.source_id: row for row in read_export(out).rows}
    assert (rows["R2"].title, rows["R2"].description, rows["R2"].holder, rows["R2"].place) == (
        "Fiesta, 1930", "Plaza mayor en fiestas", "Foto Ruiz", "Toledo")
    # a manifest older than the text columns still reads, with empty text
    lines = (out / "manifest.csv").read_text(encoding="utf-8").splitlines()
    width = len(MANIFEST_COLUMNS) - 4
    old = [",".join(next(csv.reader([line]))[:width]) for line in lines]
    (out / "manifest.csv").write_text("\n".join(old) + "\n", encoding="utf-8")
    assert {(row.title, row.holder) for row in read_export(out).rows} == {("", "")}
