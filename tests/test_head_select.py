"""--head-l2 auto: the head's task and L2 penalty chosen by inner CV on the train split, written and printed."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch
from click.testing import CliRunner

import cli
from modeling.features.select import CANDIDATES, select_head
from modeling.training.config import TrainConfig
from modeling.training.data import Export, ExportRow

torch.set_num_threads(1)


def test_a_year_written_in_the_features_is_found_by_regression():
    """Features that hold the year linearly (plus noise): ridge regression dates them better than 5 bins do."""
    rng = np.random.default_rng(0)
    edges = (1900, 1920, 1940, 1960, 1980, 2000)
    years = rng.uniform(1900, 2000, 150)
    rows = [ExportRow(file=f"{i}.jpg", year=float(y), bin_index=min(int((y - 1900) // 20), 4), split="train",
                      group_id=i) for i, y in enumerate(years)]
    features = np.column_stack([years / 100 + rng.normal(0, 0.02, 150), rng.normal(0, 1, (150, 5))])
    export = Export(root=None, spec="20y", edges=edges, labels=("1900-1919", "1920-1939", "1940-1959", "1960-1979", "1980-1999"),
                    rows=tuple(rows))
    chosen, table = select_head(features, rows, TrainConfig(data=None, out=None, head_only=True, head_select=True),
                                export)
    assert len(table) == sum(len(penalties) for _, _, penalties in CANDIDATES)
    best = min(table, key=lambda row: row["mae"])
    assert (chosen.task, chosen.loss_name, chosen.head_l2) == (best["task"], best["loss"], best["head_l2"])
    assert chosen.task == "regress" and best["mae"] < 5


def test_train_with_head_l2_auto_reports_its_choice(tiny_export, tmp_path):
    data = tmp_path / "export"
    shutil.copytree(tiny_export, data)
    run = tmp_path / "run"
    result = CliRunner().invoke(cli.main, ["train", "--arch", "test_efficientnet", "--no-pretrained", "--img-size", "32",
                                           "--workers", "0", "--head-only", "--head-l2", "auto", "--cv", "3",
                                           "--evidence", "picture", "--data", str(data), "--out", str(run)])
    assert result.exit_code == 0, result.output
    chosen = json.loads((run / "metrics.json").read_text())["head_selection"]
    best = min(chosen["candidates"], key=lambda row: (round(row["mae"], 6), -row["head_l2"]))
    assert (chosen["task"], chosen["head_l2"]) == (best["task"], best["head_l2"])
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == chosen["task"]  # predict decodes the outputs of the head that was chosen
    assert f"--head-l2 auto chose {chosen['task']}" in result.output
    predicted = CliRunner().invoke(cli.main, ["predict", "--model", str(run), str(next(data.rglob("*.jpg")))])
    assert predicted.exit_code == 0, predicted.output


def test_head_l2_auto_needs_head_only(tiny_export, tmp_path):
    result = CliRunner().invoke(cli.main, ["train", "--data", str(tiny_export), "--head-l2", "auto", "--out",
                                           str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip().endswith("--head-l2 auto chooses a linear head on frozen features: add --head-only.")
    bad = CliRunner().invoke(cli.main, ["train", "--data", str(tiny_export), "--head-l2", "lots"])
    assert bad.exit_code == 2 and "expected a number or 'auto', got 'lots'" in bad.output
