"""balance-report: numbers equal a hand count for decade, 20y and explicit edges; every format; the plot."""

import csv
import io
import json

import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

from cli import main
from dataset.balance import BalanceConfig, balance_report, render
from db.dates import parse_date
from db.models import Image, ImageDuplicate, Record
from db.session import session_scope

# name, catalogued date, dedupe role ("duplicate" = excluded twin of H), has an image
ARCHIVE = [
    ("A", "1865", "unique"), ("B", "1865", "unique"), ("C", "1872", "unique"), ("D", "1899", "unique"),
    ("E", "1900", "unique"), ("F", "1901", "unique"), ("G", "años 50", "unique"), ("H", "1955", "kept"),
    ("I", "1955", "unique"), ("J", "1955", "duplicate"), ("K", "1962", "unique"), ("L", "1925-1935", "unique"),
    ("M", "hacia 1930", "unique"), ("N", "s.f.", "unique"), ("O", "antes de 1900", "unique"), ("P", "1850", "unique"),
    ("Q", "1955", None), ("R", "1955", "unreadable"), ("S", "1995", "unique"),
]


@pytest.fixture
def archive(fresh_db):
    with session_scope(fresh_db) as s:
        ids = {}
        for name, date_raw, role in ARCHIVE:
            d = parse_date(date_raw)
            record = Record(source="t", source_id=name, date_raw=date_raw, year=d.year, year_min=d.year_min,
                            year_max=d.year_max, date_precision=d.precision)
            if role:
                record.images = [Image(url=name, path=f"/x/{name}.jpg", status="ok", width=10, height=10)]
            s.add(record)
            s.flush()
            if role:
                ids[name] = record.images[0].id
        for name, _, role in ARCHIVE:
            if role:
                kept = ids["H"] if role == "duplicate" else ids[name]
                s.add(ImageDuplicate(image_id=ids[name], cluster_id=kept, group_id=kept, excluded=role == "duplicate",
                                     role=role, algorithm="phash", threshold=8))
    return fresh_db


def counts(report) -> dict[str, tuple[int, int]]:
    return {r.label: (r.before, r.after) for r in report.rows if r.before}


def test_decade_hand_count(archive):
    report = balance_report(archive, BalanceConfig(bins="decade"))
    assert counts(report) == {"1860-1869": (2, 2), "1870-1879": (1, 1), "1890-1899": (1, 1), "1900-1909": (2, 2),
                              "1950-1959": (4, 3), "1960-1969": (1, 1), "1990-1999": (1, 1)}
    assert report.empty_bins == ["1880-1889", "1910-1919", "1920-1929", "1930-1939", "1940-1949", "1970-1979", "1980-1989"]
    assert report.left_out == {"no_image": 1, "unreadable_image": 1, "no_date": 1, "open_date": 1, "spans_bins": 2,
                               "outside_bins": 1}
    assert (report.total_before, report.total_after, report.imbalance_ratio) == (12, 11, 3.0)
    assert report.rows[9].share == pytest.approx(3 / 11)


def test_20y_hand_count(archive):
    report = balance_report(archive, BalanceConfig(bins="20y", min_count=2))
    assert counts(report) == {"1860-1879": (3, 3), "1880-1899": (1, 1), "1900-1919": (2, 2), "1920-1939": (2, 2),
                              "1940-1959": (4, 3), "1960-1979": (1, 1), "1980-1999": (1, 1)}
    assert report.empty_bins == [] and report.left_out["outside_bins"] == 1 and "spans_bins" not in report.left_out
    assert report.suggestion == ("Bins under 2 images: 1880-1899 (1), 1960-1979 (1), 1980-1999 (1). Merge them into "
                                 "wider bins (e.g. --bins 1860,1880,1920,1940,1960,2000), augment them, or collect "
                                 "more photographs from those years.")


def test_explicit_edges_hand_count(archive):
    report = balance_report(archive, BalanceConfig(bins="1860,1900,1930,1960,1991"))
    assert counts(report) == {"1860-1899": (4, 4), "1900-1929": (2, 2), "1930-1959": (4, 3), "1960-1990": (1, 1)}
    assert report.left_out["spans_bins"] == 2 and report.left_out["outside_bins"] == 2
    assert report.imbalance_ratio == 4.0


def test_every_format(archive):
    report = balance_report(archive, BalanceConfig(bins="1860,1900,1930,1960,1991"))
    data = json.loads(render(report, "json"))
    assert data["bins"]["labels"] == ["1860-1899", "1900-1929", "1930-1959", "1960-1990"]
    assert data["rows"][2]["excluded"] == 1
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert rows[2] == {"bin": "1930-1959", "start": "1930", "end": "1959", "before": "4", "excluded": "1",
                       "after": "3", "share": "0.3000"}
    markdown = render(report, "markdown").splitlines()
    assert markdown[0] == "| bin | before | excluded | after | share |"
    assert markdown[4] == "| 1930-1959 | 4 | 1 | 3 | 30.0% |"
    table = render(report, "table").splitlines()
    assert table[0] == "bin        before  excluded  after   share"
    assert table[3] == "1930-1959       4         1      3   30.0%"
    assert ("Left out: records without a stored image: 1; image could not be decoded (see dedupe): 1; no usable date: 1; "
            "open-ended date (before/after a year): 1; date range spans two bins: 2; date outside the bins: 2"
            ) in render(report, "table").splitlines()


def test_cli_table_and_plot(archive, db_url, tmp_path):
    plot = tmp_path / "balance.png"
    result = CliRunner().invoke(main, ["balance-report", "--db", db_url, "--bins", "20y", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "bin        before  excluded  after   share"
    assert "Imbalance ratio (largest / smallest non-empty bin): 3.00" in lines
    assert lines[-1].startswith("Suggestion: Bins under 50 images: 1860-1879 (3)")
    with PILImage.open(plot) as img:
        assert img.format == "PNG" and img.width >= 600


def test_cli_bad_bins_is_one_error_line(archive, db_url):
    result = CliRunner().invoke(main, ["balance-report", "--db", db_url, "--bins", "fortnight"])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: Cannot read bins 'fortnight': expected decade, 10y, 20y, any Ny, or edges "
                                      "such as 1860,1900,1991.")


def test_no_dated_images_says_so_not_run_crawl_first(fresh_db):
    empty = balance_report(fresh_db, BalanceConfig("20y", 1860, 50))
    assert empty.suggestion == "No images yet: run 'cli.py crawl' or 'cli.py import' first."
    with session_scope(fresh_db) as s:
        for name in ("a.jpg", "b.jpg"):
            s.add(Record(source="t", source_id=name, date_raw=None, date_precision="unknown",
                         images=[Image(url=name, path=f"/x/{name}", status="ok", width=10, height=10)]))
    undated = balance_report(fresh_db, BalanceConfig("20y", 1860, 50))
    assert undated.suggestion == (
        "None of the 2 records has an image dated within the bins (no usable date: 2). Give the pictures dates "
        "(import them again with --metadata CSV, a 'file' and a 'date' or 'year' column) or choose bins that "
        "cover their years (--bins, --origin).")
