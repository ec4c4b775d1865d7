"""The LR range test: its rule by hand, its curve, weights put back, and `train --lr auto` using its pick."""

from __future__ import annotations

import json
import re

import pytest
import torch
from click.testing import CliRunner

from cli import main
from modeling.training.config import TrainConfig
from modeling.training.lr_find import range_test, suggest
from modeling.training.setup import build

torch.set_num_threads(1)


@pytest.mark.parametrize(("lrs", "losses", "expected"), [
    ([1e-4, 1e-3, 1e-2], [2.0, 1.0, 3.0], 1e-4),  # a tenth of the rate at the lowest loss
    ([1e-4, 1e-3, 1e-2], [2.0, 1.5, 1.2], 1e-3),
    ([1e-6, 1e-5], [1.0, 2.0], 1e-5),  # 1e-7 clipped up to 1e-5
    ([1.0, 10.0], [2.0, 1.0], 1e-1),  # 1.0 clipped down to 0.1
    ([], [], 1e-3),  # no finite loss at all: the default
])
def test_suggest_rule(lrs, losses, expected):
    assert suggest(lrs, losses) == pytest.approx(expected)


def test_range_test_curve_pick_and_restored_weights(tiny_export, tmp_path):
    config = TrainConfig(data=tiny_export, out=tmp_path, arch="test_efficientnet", pretrained=False, img_size=32,
                         batch_size=16, workers=0, precision="fp32", channels_last=False)
    setup = build(config)
    before = {k: v.clone() for k, v in setup.model.state_dict().items()}
    result = range_test(setup, num_iter=30, show=False)
    after = setup.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics put back
    # the rates rise geometrically from 1e-6 to 1 over 30 steps: 1e-6 * 10^(6k/29)
    assert result.lrs == pytest.approx([1e-6 * 10 ** (6 * k / 29) for k in range(len(result.lrs))], rel=1e-9)
    assert 6 < len(result.lrs) <= 30 and len(result.losses) == len(result.lrs)
    best = min(range(len(result.losses)), key=result.losses.__getitem__)
    assert result.suggestion == pytest.approx(min(0.1, max(1e-5, result.lrs[best] / 10)))
    assert 1e-5 <= result.suggestion < result.lrs[-1]


@pytest.mark.slow
def test_train_lr_auto_trains_at_the_suggested_rate(tiny_export, tmp_path):
    args = ["--data", str(tiny_export), "--arch", "test_efficientnet", "--no-pretrained", "--img-size", "32",
            "--batch-size", "16", "--workers", "0", "--precision", "fp32"]
    found = CliRunner().invoke(main, ["lr-find", *args, "--out", str(tmp_path / "lr.png")])
    assert found.exit_code == 0, found.output
    suggested = float(re.match(r"suggested lr (\S+) \((\d+) steps; curve: (.+)\)$", found.stdout.strip()).group(1))
    assert (tmp_path / "lr.png").stat().st_size > 1000
    trained = CliRunner().invoke(main, ["train", *args, "--out", str(tmp_path / "run"), "--epochs", "1"])
    assert trained.exit_code == 0, trained.output
    chosen = float(re.search(r"lr auto: chose (\S+) \(curve: ", trained.stdout).group(1))
    assert chosen == suggested  # the same range test (60 steps, same seed), the same pick
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert f"{config['lr']:.2e}" == f"{suggested:.2e}" and (tmp_path / "run" / "lr_find.png").is_file()
    assert config["train"]["lr"] is None  # asked for auto
