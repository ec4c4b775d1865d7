"""`cli.py evaluate` and `cli.py compare` on a finished run."""

from __future__ import annotations

import json
import re
import shutil

from click.testing import CliRunner

from cli import main
from modeling.inference.report import per_bin_rows


def test_evaluate_json_has_every_metric_and_writes_the_png(tiny_run, tiny_export):
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tiny_run), "--data", str(tiny_export),
                                       "--split", "valid", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "within_one_bin", "mae", "rmse", "median_ae",
                "within_5", "within_10", "per_bin", "confusion_matrix"):
        assert key in report, key
    assert sum(map(sum, report["confusion_matrix"])) == report["n"] > 0
    assert (tiny_run / "confusion_valid.png").stat().st_size > 1000


def test_evaluate_markdown_and_missing_export(tiny_run, tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tiny_run), "--data", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: No export directory at {tmp_path / 'none'}. Run 'cli.py export --out "
                                     "DIR' first, or pass --data DIR of an existing export.")


def test_compare_prints_a_markdown_table(tiny_run):
    result = CliRunner().invoke(main, ["compare", str(tiny_run), str(tiny_run), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("| run | export | arch | task |") and len(lines) == 4
    assert "| test_efficientnet | classify | ce | natural | False | 32 | 2 |" in lines[2]


def _run_on_another_export(tiny_run, tmp_path, bins=None):
    """A copy of tiny_run whose config says it was trained and validated on another export."""
    copy = tmp_path / "other-run"
    shutil.copytree(tiny_run, copy)
    config = json.loads((copy / "config.json").read_text())
    config["export"] = str(tmp_path / "other-export")
    config["validated_on"]["export"] = "data/other-export"
    if bins is not None:
        config["export"], config["validated_on"]["export"] = config_export(tiny_run), "same path"
        config["bins"]["labels"] = bins
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def config_export(run):
    return json.loads((run / "config.json").read_text())["export"]


def test_compare_shows_each_runs_export_and_refuses_to_rank_different_exports(tiny_run, tmp_path):
    other = _run_on_another_export(tiny_run, tmp_path)
    refused = CliRunner().invoke(main, ["compare", str(tiny_run), str(other)])
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: These runs were validated on 2 different exports (")
    assert "data/other-export: other-run" in refused.output and "--mixed-exports" in refused.output
    shown = CliRunner().invoke(main, ["compare", str(tiny_run), str(other), "--mixed-exports", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert rows[1]["export"] == "data/other-export" and rows[0]["export"] != rows[1]["export"]
    assert "do not rank them" in shown.stderr


def test_compare_tells_apart_one_folder_exported_again_with_other_bins(tiny_run, tmp_path):
    rebinned = _run_on_another_export(tiny_run, tmp_path, bins=["1860-1959", "1960-1999"])
    assert CliRunner().invoke(main, ["compare", str(tiny_run), str(rebinned)]).exit_code == 1


def test_evaluate_shows_a_dash_where_a_bin_has_nothing_to_measure():
    result = {"per_bin": {"1900-1919": {"precision": 0.5, "recall": 1.0, "support": 1},
                          "1920-1939": {"precision": 0.0, "recall": 0.0, "support": 1},
                          "1940-1959": {"precision": 0.0, "recall": 0.0, "support": 0}},
              # rows = actual, columns = predicted: nobody was predicted 1920-1939, nobody is 1940-1959
              "confusion_matrix": [[1, 0, 0], [1, 0, 0], [0, 0, 0]]}
    rows = {row["bin"]: (row["precision"], row["recall"]) for row in per_bin_rows(result)}
    assert rows == {"1900-1919": (0.5, 1.0), "1920-1939": ("-", 0.0), "1940-1959": ("-", "-")}


def test_evaluate_grayscale_says_what_changes_without_colour(tiny_run, tiny_export):
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tiny_run), "--data", str(tiny_export),
                                       "--split", "valid", "--grayscale", "--quiet"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("Without colour"))
    assert re.fullmatch(r"Without colour \(grayscale copies of the same \d+ photographs\): mean error [\d.]+ -> "
                        r"[\d.]+ years, balanced accuracy [\d.]+ -> [\d.]+\. The larger the change, the more the "
                        r"model dates by colour alone\.", line)
