"""`cli.py evaluate` and `cli.py compare` on a finished run."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import main


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
    assert lines[0].startswith("| run | arch | task |") and len(lines) == 4
    assert "| test_efficientnet | classify | ce | natural | False | 32 | 2 |" in lines[2]
