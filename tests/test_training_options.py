"""Training options users rely on, each checked against what it promises: balanced draws, the soft and Huber
losses and class weights by hand, the frozen first epoch and the lower backbone LR, one-cycle and cosine
schedules end to end, strong augmentation for rare bins, --resume refusing changed options, $FOTOFECHA_DB."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import save_file

from cli import main
from dataset.imageio import load_image
from modeling.errors import BadTrainingSetup
from modeling.models import split_parameters
from modeling.training.augment import augment_view
from modeling.training.config import TrainConfig
from modeling.training.data import EpochSampler, PhotoDataset, read_export
from modeling.training.optim import schedule_factor
from modeling.training.setup import build, make_loss
from modeling.training.train import train

torch.set_num_threads(1)
ARCH = "test_efficientnet"


def _config(export: Path, out: Path, **changes) -> TrainConfig:
    base = TrainConfig(data=export, out=out, arch=ARCH, pretrained=False, img_size=32, epochs=2, batch_size=16,
                       lr=1e-3, workers=0, precision="fp32", channels_last=False)
    return replace(base, **changes)


def test_balanced_sampler_draws_every_bin_equally_often():
    bins = [0] * 1 + [1] * 3 + [2] * 16  # 20 rows, very unequal
    balanced, natural = EpochSampler(bins, "balanced", seed=0), EpochSampler(bins, "natural", seed=0)
    drawn = Counter()
    for epoch in range(300):
        balanced.set_epoch(epoch)
        drawn.update(bins[i] for i, _ in balanced)
        natural.set_epoch(epoch)
        assert sorted(i for i, _ in natural) == list(range(20))  # natural: each row once per epoch
    # 6000 draws, a third expected per bin (2000); binomial sd = sqrt(6000 * 1/3 * 2/3) = 36.5
    assert all(abs(drawn[b] - 2000) < 5 * 36.5 for b in range(3)), drawn


def _export_with(tmp_path: Path, bins: list[int], edges=(1900, 1920, 1940, 1960)) -> Path:
    """A minimal real export: one tiny JPEG per row, all in train (plus one valid row)."""
    root = tmp_path / "export"
    labels = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)]
    rows = []
    for i, b in enumerate([*bins, bins[0]]):
        split = "train" if i < len(bins) else "valid"
        path = root / split / labels[b] / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (10 * i % 255, 100, 50)).save(path)
        rows.append({"file": path.relative_to(root).as_posix(), "year": edges[b] + 5, "bin": labels[b],
                     "bin_index": b, "split": split})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (root / "export.json").write_text(json.dumps({"format_version": 1, "bins": {
        "spec": ",".join(map(str, edges)), "edges": list(edges), "labels": labels}}))
    return root


def test_soft_loss_and_class_weights_by_hand(tmp_path):
    export = read_export(_export_with(tmp_path, [0, 1, 1, 1]))  # train counts 1, 3, 0
    train_rows = export.split("train")
    logits = torch.tensor([[0.0, math.log(2.0), 0.0]])  # softmax 1/4, 1/2, 1/4
    bins, years = torch.tensor([1]), torch.tensor([1930.0])
    # soft targets for bin 1, sigma 1 bin: e^-1/2, 1, e^-1/2 normalised; smoothed 0.9 t + 0.1 / 3
    w = [math.exp(-0.5), 1.0, math.exp(-0.5)]
    t = [0.9 * x / sum(w) + 0.1 / 3 for x in w]
    soft = -(t[0] * math.log(0.25) + t[1] * math.log(0.5) + t[2] * math.log(0.25))
    config = _config(export.root, tmp_path / "run", loss="soft")
    assert float(make_loss(config, export, train_rows)(logits, bins, years)) == pytest.approx(soft, rel=1e-6)
    # class weights: inverse frequency over the 2 present bins, total 4: bin 0 -> 4/1/2 = 2, bin 1 -> 4/3/2 = 2/3
    two = torch.tensor([[0.0, math.log(2.0), 0.0], [math.log(3.0), 0.0, 0.0]])  # row 2: softmax 3/5, 1/5, 1/5
    bins2 = torch.tensor([1, 0])
    ce_rows = [-math.log(0.5), -math.log(0.6)]
    weighted = (2 / 3 * ce_rows[0] + 2 * ce_rows[1]) / (2 / 3 + 2)
    plain = replace(config, loss="ce", label_smoothing=0.0, class_weights=True)
    assert float(make_loss(plain, export, train_rows)(two, bins2, years)) == pytest.approx(weighted, rel=1e-6)
    assert float(make_loss(replace(plain, class_weights=False), export, train_rows)(two, bins2, years)) == \
        pytest.approx(sum(ce_rows) / 2, rel=1e-6)


def test_huber_and_l1_regression_losses_by_hand(tmp_path):
    export = read_export(_export_with(tmp_path, [0, 1, 2]))  # year range 1900-1960
    config = _config(export.root, tmp_path / "run", task="regress", loss="huber")
    years = torch.tensor([1930.0, 1930.0])
    outputs = torch.tensor([[0.51], [0.9]])  # errors 0.01 and 0.4 of the range
    # smooth L1 with beta 0.05: 0.5 d^2 / beta below beta, |d| - beta / 2 above
    huber = (0.5 * 0.01**2 / 0.05 + (0.4 - 0.025)) / 2
    loss = make_loss(config, export, export.split("train"))
    assert float(loss(outputs, torch.tensor([1, 1]), years)) == pytest.approx(huber, rel=1e-5)
    l1 = make_loss(replace(config, loss="l1"), export, export.split("train"))
    assert float(l1(outputs, torch.tensor([1, 1]), years)) == pytest.approx((0.01 + 0.4) / 2, rel=1e-5)


def test_fine_tuning_freezes_the_backbone_for_the_first_epoch_at_a_tenth_of_the_lr(tiny_export, tmp_path):
    body = tmp_path / "body.safetensors"
    start = timm.create_model(ARCH, pretrained=False)
    save_file(start.state_dict(), str(body))
    snapshots = []

    def keep(epoch: int) -> None:
        snapshots.append(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False))

    train(_config(tiny_export, tmp_path / "run", weights=body), show=False, on_epoch_end=keep)
    probe = timm.create_model(ARCH, pretrained=False, num_classes=7)
    backbone = {name for name, p in probe.named_parameters() if any(p is q for q in split_parameters(probe)[0])}
    initial = start.state_dict()
    first, second = (s["model"] for s in snapshots)
    assert all(torch.equal(first[k], initial[k]) for k in backbone)  # epoch 1: frozen
    # frozen, not merely at LR 0: no gradients, so AdamW keeps state for the head's weight and bias only
    head_indices = {len(backbone), len(backbone) + 1}
    assert set(snapshots[0]["optimizer"]["state"]) == head_indices
    assert len(snapshots[1]["optimizer"]["state"]) == len(backbone) + 2
    assert not all(torch.equal(second[k], initial[k]) for k in backbone)  # epoch 2: training
    groups = snapshots[-1]["optimizer"]["param_groups"]
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert groups[0]["initial_lr"] == pytest.approx(1e-4) and groups[1]["initial_lr"] == pytest.approx(1e-3)


def test_schedule_factors_by_hand():
    # cosine, 12 steps, warm-up 2: 0.5, 1.0, then 0.01 + 0.99 * (1 + cos(pi * (step - 2) / 9)) / 2
    assert [schedule_factor(s, 12, 1 / 6, "cosine") for s in (0, 1, 2)] == pytest.approx([0.5, 1.0, 1.0])
    assert schedule_factor(6, 12, 1 / 6, "cosine") == pytest.approx(0.01 + 0.495 * (1 + math.cos(math.pi * 4 / 9)))
    assert schedule_factor(11, 12, 1 / 6, "cosine") == pytest.approx(0.01)
    # one-cycle: 30% warm-up from 1/25 of the peak, whatever warmup_frac says
    assert schedule_factor(0, 100, 0.1, "onecycle") == pytest.approx(0.04 + 0.96 / 30)
    assert schedule_factor(29, 100, 0.1, "onecycle") == pytest.approx(1.0)
    assert schedule_factor(99, 100, 0.1, "onecycle") == pytest.approx(0.01)


@pytest.mark.parametrize(("schedule", "after_first_epoch"), [
    # 56 train rows / 16 = 4 steps an epoch, 8 in all; the LR logged after epoch 1 is the factor at step 4.
    # one-cycle: warm-up round(0.3 * 8) = 2; progress (4 - 2) / (8 - 2 - 1) = 0.4 -> 0.01 + 0.495 (1 + cos 0.4 pi)
    ("onecycle", 1e-3 * (0.01 + 0.495 * (1 + math.cos(0.4 * math.pi)))),
    # cosine: warm-up round(0.1 * 8) = 1; progress (4 - 1) / (8 - 1 - 1) = 0.5 -> 0.01 + 0.495
    ("cosine", 1e-3 * 0.505),
])
def test_schedule_option_end_to_end(schedule, after_first_epoch, tiny_export, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--data", str(tiny_export), "--out", str(out), "--arch", ARCH,
                                       "--no-pretrained", "--img-size", "32", "--epochs", "2", "--batch-size", "16",
                                       "--lr", "1e-3", "--workers", "0", "--schedule", schedule,
                                       "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    with (out / "history.csv").open() as handle:
        lrs = [row["lr"] for row in csv.DictReader(handle)]
    assert lrs == [f"{after_first_epoch:.3e}", f"{1e-3 * 0.01:.3e}"]
    assert json.loads((out / "config.json").read_text())["train"]["schedule"] == schedule


def test_augment_rare_gives_rare_bins_strong_augmentation(tiny_export, tmp_path):
    setup = build(_config(tiny_export, tmp_path / "run", augment="light", augment_rare=True))
    train_rows = read_export(tiny_export).split("train")
    counts = Counter(r.bin_index for r in train_rows)
    median = float(np.median(list(counts.values())))
    rare = {b for b, n in counts.items() if n < median}
    assert setup.train_loader.dataset.strong_bins == rare and 0 < len(rare) < len(counts)
    dataset: PhotoDataset = setup.train_loader.dataset
    for index in (next(i for i, r in enumerate(train_rows) if r.bin_index in rare),
                  next(i for i, r in enumerate(train_rows) if r.bin_index not in rare)):
        row = train_rows[index]
        level = "strong" if row.bin_index in rare else "light"
        image = load_image(tiny_export / row.file, min_side=32)
        view, params = augment_view(image, 32, level, np.random.default_rng(7))  # the loader's half
        (got_view, got_params), *_ = dataset[(index, 7)]
        assert np.array_equal(got_view.numpy(), view) and np.array_equal(got_params.numpy(), params), level


def test_resume_with_changed_options_is_refused(tiny_export, tiny_run):
    # tiny_run (conftest) was trained with lr 1e-3 and the sampler "natural"
    changed = TrainConfig(data=tiny_export, out=tiny_run, arch=ARCH, pretrained=False, img_size=32, epochs=2,
                          batch_size=16, lr=2e-3, workers=1, precision="fp32", sampler="balanced", resume=True)
    with pytest.raises(BadTrainingSetup) as info:
        train(changed, show=False)
    assert str(info.value) == (f"--resume with different options than the run in {tiny_run}: lr 0.001 -> 0.002, "
                               "sampler 'natural' -> 'balanced'. Use the original options, or another --out for a "
                               "new run.")  # workers may change: they do not change the result


def test_fotofecha_db_chooses_the_database(add_photo, db_url, tmp_path, monkeypatch):
    from crawler.replica import render_photo
    from db.session import resolve_url

    add_photo("one", render_photo(1950, 0, (40, 30)), "1950")
    monkeypatch.chdir(tmp_path)  # the default data/archive.db would land here
    result = CliRunner().invoke(main, ["balance-report", "--format", "json"], env={"FOTOFECHA_DB": db_url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_before"] == 1
    assert not (tmp_path / "data").exists()
    monkeypatch.setenv("FOTOFECHA_DB", db_url)
    assert resolve_url() == db_url and resolve_url("sqlite:///other.db") == "sqlite:///other.db"
