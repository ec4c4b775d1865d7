"""torchrun: sharded batches, 2 processes on CPU (gloo) equal to 1 process of the same global batch, --resume."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modeling.errors import BadTrainingSetup
from modeling.training.config import TrainConfig
from modeling.training.data import EpochSampler
from modeling.training.distributed import Dist, ShardedBatchSampler
from modeling.training.train import train

ROOT = Path(__file__).resolve().parent.parent
# A GroupNorm network: per-image normalisation, so 2 processes x 8 images compute what 1 x 16 does
# (BatchNorm would normalise over 8 instead of 16 images and drift apart by design).
ARCH = "test_efficientnet_gn"
OPTIONS = {"arch": ARCH, "pretrained": False, "img_size": 32, "epochs": 2, "batch_size": 16, "lr": 1e-3,
           "workers": 0, "device": "cpu", "precision": "fp32", "sampler": "balanced"}
# Measured (benchmarks/ddp_equivalence.py, results/ddp_equivalence.txt): 2 processes vs 1 differ by <= 4e-6 in
# the history and 1e-6 in any weight (float sums in another order; the uneven last batch, where DDP averages a
# 4- and a 3-image mean); the test allows 1e-4.
TOLERANCE = 1e-4


def batches(n: int, batch_size: int, world: int, mode: str = "natural", seed: int = 0) -> list[list[list[int]]]:
    """Per step, each rank's row indices."""
    sampler = EpochSampler([k % 5 for k in range(n)], mode, seed)
    per_rank = [list(ShardedBatchSampler(sampler, batch_size, Dist(r, world, r))) for r in range(world)]
    return [[[key[0] for key in rank_batches[step]] for rank_batches in per_rank] for step in range(len(per_rank[0]))]


@pytest.mark.parametrize("mode", ["natural", "balanced"])
def test_two_ranks_split_each_one_process_batch(mode):
    one, two = batches(37, 16, 1, mode), batches(37, 16, 2, mode)
    assert [len(step[0]) for step in one] == [16, 16, 5]
    assert [[len(part) for part in step] for step in two] == [[8, 8], [8, 8], [3, 2]]
    for single, split in zip(one, two, strict=True):
        assert sorted(single[0]) == sorted(split[0] + split[1])  # the same rows (with repeats), none twice more
    if mode == "balanced":  # 37 draws over 5 bins, with replacement: every bin about 37/5 times
        drawn = Counter(k % 5 for step in two for part in step for k in part)
        assert set(drawn) == set(range(5)) and max(drawn.values()) <= 14


def test_a_last_batch_too_small_for_every_rank_is_dropped():
    # 35 = 2 x 16 + 3: one process keeps the 3, two drop them (a rank would get one image: BatchNorm breaks)
    assert len(batches(35, 16, 1)) == 3 and len(batches(35, 16, 2)) == 2
    assert len(batches(33, 16, 1)) == 2  # the single image left over is dropped, as before
    with pytest.raises(BadTrainingSetup, match="must split evenly over 3 processes"):
        ShardedBatchSampler(EpochSampler([0] * 10, "natural", 0), 16, Dist(0, 3, 0))


def torchrun(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            str(ROOT / "cli.py"), "train", "--data", str(data), "--out", str(out)]
    for key, value in OPTIONS.items():
        flag = "--" + key.replace("_", "-")
        args += [f"--{'' if value else 'no-'}{key}"] if isinstance(value, bool) else [flag, str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(args + list(extra), cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def history(run_dir: Path) -> list[dict]:
    with (run_dir / "history.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_run(got: Path, want: Path) -> None:
    for mine, theirs in zip(history(got), history(want), strict=True):
        for key in ("train_loss", "valid_loss", "valid_accuracy", "valid_balanced_accuracy", "valid_mae"):
            assert abs(float(mine[key]) - float(theirs[key])) <= TOLERANCE * max(1.0, abs(float(theirs[key]))), key
    a, b = load_file(got / "model.safetensors"), load_file(want / "model.safetensors")
    assert max(float((a[k] - b[k]).abs().max()) for k in b) <= TOLERANCE


class Killed(Exception):
    pass


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_and_resume_distributed(tiny_export, tmp_path):
    torch.set_num_threads(1)
    single = train(TrainConfig(data=tiny_export, out=tmp_path / "single", **OPTIONS), show=False)
    assert single.history[-1]["train_loss"] < single.history[0]["train_loss"]  # it learns: sane metrics

    result = torchrun(tiny_export, tmp_path / "double")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("best epoch") == 1  # rank 0 alone reports
    assert sorted(p.name for p in tmp_path.iterdir()) == ["double", "single"]  # one run directory
    assert sorted(p.name for p in (tmp_path / "double").iterdir()) == sorted(p.name for p in single.run_dir.iterdir())
    assert_same_run(tmp_path / "double", single.run_dir)

    def kill_after_first_epoch(epoch: int) -> None:
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):  # a one-process run stopped after epoch 1, then finished by two
        train(TrainConfig(data=tiny_export, out=tmp_path / "resumed", **OPTIONS), show=False,
              on_epoch_end=kill_after_first_epoch)
    assert len(history(tmp_path / "resumed")) == 1
    resumed = torchrun(tiny_export, tmp_path / "resumed", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(tmp_path / "resumed", single.run_dir)
    assert torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)["epoch"] == 2
