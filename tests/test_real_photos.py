"""200 real photographs (../shared/real-photos, read in place): import, dedupe, export, head-only CV beats guessing.

These photographs cover only 1935-43 (FSA/OWI, mostly black and white) and 1972-75 (DOCUMERICA, colour):
the test proves the mechanics on real photographs, not dating accuracy on an archive.
"""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

import cli
from tests.conftest import REAL_PHOTOS

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (REAL_PHOTOS / "labels.csv").is_file(), reason="real-photos not present")]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli.main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_head_only_cv_on_real_photographs_beats_the_constant_baseline(tmp_path):
    labels = tmp_path / "years.csv"
    with (REAL_PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as src, labels.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["file", "year"])
        writer.writerows([row["file"], row["year"]] for row in csv.DictReader(src))
    db = f"sqlite:///{tmp_path / 'real.db'}"
    imported = _run("import", str(REAL_PHOTOS / "images"), "--metadata", str(labels), "--source", "real-photos",
                    "--images-dir", str(tmp_path / "images"), "--db", db)
    assert "200 added" in imported and "0 unreadable" in imported
    _run("dedupe", "--db", db, "--workers", "1")
    export = tmp_path / "export"
    exported = _run("export", "--bins", "10y", "--origin", "1930", "--out", str(export), "--image-size", "144",
                    "--workers", "1", "--db", db)
    assert "Exported 200 images" in exported
    run = tmp_path / "run"
    trained = _run("train", "--data", str(export), "--head-only", "--cv", "5", "--img-size", "128", "--workers", "0",
                   "--out", str(run))
    assert "5-fold CV on 200 images" in trained
    cv = json.loads((run / "metrics.json").read_text())["cv"]["summary"]
    # The constant median year misses by ~16 years on these two eras; the head must at least halve that.
    assert cv["mae"]["mean"] < 0.5 * cv["median_year_mae"]["mean"]
    assert cv["balanced_accuracy"]["mean"] > cv["majority_bin_balanced_accuracy"]["mean"] + 0.2
