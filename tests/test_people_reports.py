"""balance-report and export after `cli.py detect`: people per period (portraits, groups, one person, nobody,
not examined) in every format and the chart, and per image in manifest.csv; unchanged without detections."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from PIL import Image

from cli import main
from dataset.export import MANIFEST_COLUMNS, PEOPLE_MANIFEST_COLUMNS
from tests.conftest import REAL_PHOTOS

pytestmark = pytest.mark.skipif(not (REAL_PHOTOS / "labels.csv").is_file(), reason="real-photos not present")
pytest.importorskip("cv2")

# file, catalogued year, what the detector makes of it (tests/test_people.py looks at two of them by hand)
EXAMINED = [
    ("fsaowi/LC-USF33-006484.jpg", "1938", "none"),  # a field of stubble
    ("fsaowi/LC-USF34-042633.jpg", "1940", "portrait"),  # "Portrait of Mr. Fred Abbey", one large face
    ("documerica/543863.jpg", "1972", "group"),  # a girl and a woman
    ("documerica/545607.jpg", "1973", "one"),  # a man standing on a rock, small in the frame
]
LATE = ("documerica/553494.jpg", "1973")  # stored after detect ran: not examined


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def examined_archive(fresh_db, add_photo, db_url):
    ids = {}
    for file, year, _ in EXAMINED:
        path = REAL_PHOTOS / "images" / file
        ids[file] = add_photo(file, Image.open(path), year, data=path.read_bytes())
    _run("detect", "--db", db_url, "-q")
    path = REAL_PHOTOS / "images" / LATE[0]
    ids[LATE[0]] = add_photo(LATE[0], Image.open(path), LATE[1], data=path.read_bytes())
    _run("dedupe", "--db", db_url, "--workers", "1", "-q")
    return db_url, ids


def test_balance_report_counts_people_per_period(examined_archive, tmp_path):
    db_url, _ = examined_archive
    table = _run("balance-report", "--db", db_url, "--min-count", "0")
    lines = table.splitlines()
    assert lines[0].split() == ["bin", "before", "excluded", "after", "share", "portraits", "groups", "one",
                                "person", "nobody", "not", "examined"]
    rows = {line.split()[0]: line.split()[5:] for line in lines[1 : lines.index("")]}
    #                    portraits groups one nobody not-examined
    assert rows["1920-1939"] == ["0", "0", "0", "1", "0"]
    assert rows["1940-1959"] == ["1", "0", "0", "0", "0"]
    assert rows["1960-1979"] == ["0", "1", "1", "0", "1"]
    assert rows["total"] == ["1", "1", "1", "1", "1"]
    assert "1 kept images not examined yet (run 'cli.py detect')" in table

    data = json.loads(_run("balance-report", "--db", db_url, "--format", "json"))
    by_label = dict(zip((r["label"] for r in data["rows"]), data["people"], strict=True))
    assert by_label["1960-1979"] == {"portrait": 0, "group": 1, "one": 1, "none": 0, "not_examined": 1}
    rows = list(csv.DictReader(io.StringIO(_run("balance-report", "--db", db_url, "--format", "csv"))))
    assert {r["bin"]: r["people_portrait"] for r in rows}["1940-1959"] == "1"
    assert "| portraits | groups |" in _run("balance-report", "--db", db_url, "--format", "markdown")

    chart = tmp_path / "balance.png"
    _run("balance-report", "--db", db_url, "--plot", str(chart))
    assert Image.open(chart).height > 900  # two panels: periods, then who is in them (4.5 in -> 8 in at 120 dpi)


def test_export_writes_people_into_the_manifest(examined_archive, tmp_path):
    db_url, ids = examined_archive
    _run("export", "--db", db_url, "--out", str(tmp_path / "export"), "--image-size", "64", "--workers", "1", "-q")
    with (tmp_path / "export" / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == MANIFEST_COLUMNS + PEOPLE_MANIFEST_COLUMNS
        rows = {int(r["image_id"]): r for r in reader}
    for file, _, expected in EXAMINED:
        assert rows[ids[file]]["people_category"] == expected
    assert rows[ids["documerica/543863.jpg"]]["people"] == "2"
    assert rows[ids["documerica/543863.jpg"]]["faces"] == "2"
    assert rows[ids["fsaowi/LC-USF33-006484.jpg"]]["people"] == "0"
    late = rows[ids[LATE[0]]]
    assert (late["people"], late["faces"], late["people_category"]) == ("", "", "not_examined")


def test_without_detections_the_outputs_are_as_before(fresh_db, add_photo, db_url, tmp_path):
    file, year, _ = EXAMINED[0]
    path = REAL_PHOTOS / "images" / file
    add_photo(file, Image.open(path), year, data=path.read_bytes())
    _run("dedupe", "--db", db_url, "--workers", "1", "-q")
    assert _run("balance-report", "--db", db_url).splitlines()[0].split() == ["bin", "before", "excluded", "after",
                                                                              "share"]
    assert "people" not in json.loads(_run("balance-report", "--db", db_url, "--format", "json"))
    _run("export", "--db", db_url, "--out", str(tmp_path / "export"), "--image-size", "64", "--workers", "1", "-q")
    header = (tmp_path / "export" / "manifest.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(MANIFEST_COLUMNS)
