"""modeling/features: cached embeddings, linear heads, K-fold CV and the head-only run directory, on tiny_export."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import cli
from modeling.baselines import baseline_metrics
from modeling.features.cv import fold_indices, unique_rows
from modeling.features.embed import FeatureCache, FeatureKey, StaleFeatureCache, pooled
from modeling.features.heads import fit_head
from modeling.runs import load_run_model
from modeling.training.config import TrainConfig
from modeling.training.data import ExportRow, read_export

torch.set_num_threads(1)
EDGES, LABELS = (1900, 1920, 1940, 1960), ("1900-1919", "1920-1939", "1940-1959")


def _config(data: Path, out: Path, **kw) -> TrainConfig:
    return TrainConfig(data=data, out=out, arch="test_efficientnet", pretrained=False, img_size=32, head_only=True,
                       workers=0, **kw)


def _train(args: list[str]):
    return CliRunner().invoke(cli.main, ["train", "--arch", "test_efficientnet", "--no-pretrained", "--img-size", "32",
                                         "--workers", "0", "--head-only", *args])


@pytest.fixture(scope="module")
def head_run(tiny_export, tmp_path_factory) -> tuple[Path, Path, object]:
    """(export copy, run dir, CliRunner result) of `train --head-only --cv 3` on a copy of tiny_export."""
    data = tmp_path_factory.mktemp("features") / "export"
    shutil.copytree(tiny_export, data)
    run = data.parent / "run"
    return data, run, _train(["--data", str(data), "--out", str(run), "--cv", "3"])


def test_head_only_run_directory_works_like_a_fine_tuned_one(head_run):
    data, run, result = head_run
    assert result.exit_code == 0, result.output
    assert "71 image(s) embedded, 0 reused" in result.output and "3-fold CV on 71 images" in result.output
    for name in ("model.safetensors", "config.json", "metrics.json", "history.csv", "curves.png",
                 "confusion_matrix.png", "oof.csv"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"median_year", "majority_bin"}
    assert metrics["cv"]["k"] == 3 and len(metrics["cv"]["folds"]) == 3
    assert (run / "oof.csv").read_text().count("\n") == 72  # header + every exported image once
    evaluated = CliRunner().invoke(cli.main, ["evaluate", "--model", str(run), "--data", str(data), "--split", "valid",
                                              "--grayscale"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "constant median year" in evaluated.output and "grayscale copies" in evaluated.output


def test_the_saved_classifier_is_the_fitted_head(head_run):
    """The run's weights give the head's outputs on the pooled features, so predict sees the fitted head."""
    data, run, _ = head_run
    export = read_export(data)
    rows = export.split("train")
    model, config = load_run_model(run)
    images = torch.randn(4, 3, 32, 32)
    features = pooled(model, images).numpy()
    with torch.inference_mode():
        direct = model(images).numpy()
    weight = model.get_classifier().weight.detach().numpy()
    bias = model.get_classifier().bias.detach().numpy()
    np.testing.assert_allclose(direct, features @ weight.T + bias, rtol=1e-4, atol=1e-4)
    assert config["validated_on"]["images"] == len(export.split("valid")) and len(rows) > 0


def test_second_run_reuses_the_cache_and_another_size_is_refused(head_run, tmp_path):
    data, _, _ = head_run
    again = _train(["--data", str(data), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0 and "0 image(s) embedded, 71 reused" in again.output
    cache_dir = data / ".features"
    written = next(cache_dir.glob("test_efficientnet-32px-*.npz"))
    other = FeatureKey(arch="test_efficientnet", weights="random:0", img_size=48)
    shutil.copy(written, cache_dir / other.file_name())  # a 32 px cache under the 48 px name
    refused = _train(["--data", str(data), "--out", str(tmp_path / "stale"), "--img-size", "48"])
    assert refused.exit_code == 1 and not (tmp_path / "stale").exists()
    assert refused.output.strip().splitlines()[-1].startswith(
        f"Error: {cache_dir / other.file_name()} holds features for test_efficientnet at 32 px")
    with pytest.raises(StaleFeatureCache):
        FeatureCache(cache_dir, other)


@pytest.mark.parametrize("args,message", [
    (["--cv", "1"], "Error: --cv 1: cross-validation needs at least 2 folds"),
    (["--cv", "80"], "Error: --cv 80 needs at least 80 images (distinct duplicate groups), but the export has 71."),
])
def test_bad_fold_counts_are_one_line_and_write_nothing(tiny_export, tmp_path, args, message):
    result = _train(["--data", str(tiny_export), "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith(message)
    assert not (tmp_path / "run").exists()


def test_single_bin_export_is_refused(tiny_export, tmp_path):
    data = tmp_path / "one-bin"
    shutil.copytree(tiny_export, data)
    lines = (data / "manifest.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[header.index("bin_index")] == "3"
                         or ln.split(",")[header.index("split")] != "train"]
    (data / "manifest.csv").write_text("\n".join(keep) + "\n")
    result = _train(["--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "has a single class (every train row is in bin 1920-1939)" in result.output
    assert "nothing to tell apart" in result.output and not (tmp_path / "run").exists()


def test_folds_are_stratified_and_never_cut_a_duplicate_group():
    rows = [ExportRow(file=f"f{i}", year=1900 + 20 * (i % 3), bin_index=i % 3, split="train", image_id=i + 1,
                      source_id=f"S{i:03d}", group_id=i // 2) for i in range(60)]
    folds = fold_indices(rows, 5, seed=0)
    for group in range(30):
        assert folds[2 * group] == folds[2 * group + 1]
    per_fold_bins = [sorted(rows[i].bin_index for i in np.flatnonzero(folds == f)) for f in range(5)]
    assert all(len(b) == 12 for b in per_fold_bins)
    assert all(3 <= b.count(k) <= 5 for b in per_fold_bins for k in range(3))


def test_ridge_head_matches_an_independent_least_squares_solve(tiny_export):
    """Ridge as an augmented least-squares problem (np.linalg.lstsq), compared on raw features."""
    export = read_export(tiny_export)
    rows = unique_rows(export)[:40]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)) * rng.uniform(0.5, 3, size=8) + rng.normal(size=8)
    config = replace(_config(tiny_export, Path("unused")), task="regress", loss="ridge", head_l2=0.05)
    head = fit_head(x, rows, config, export)
    lo, hi = export.year_range
    target = (np.array([r.year for r in rows]) - lo) / (hi - lo)
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    design = np.vstack([z, np.sqrt(0.05 * 40) * np.eye(8)])
    w = np.linalg.lstsq(design, np.concatenate([target - target.mean(), np.zeros(8)]), rcond=None)[0]
    np.testing.assert_allclose(head.outputs(x)[:, 0], z @ w + target.mean(), atol=1e-9)


def test_baselines_by_hand():
    train = [ExportRow(f"t{i}", y, b, "train") for i, (y, b) in enumerate([(1905, 0), (1910, 0), (1950, 2)])]
    test = [ExportRow("a", 1900, 0, "valid"), ExportRow("b", 1945, 2, "valid")]
    base = baseline_metrics(train, test, EDGES, LABELS)
    assert base["median_year"]["year"] == 1910
    assert base["median_year"]["mae"] == pytest.approx((10 + 35) / 2)
    assert base["majority_bin"]["bin"] == "1900-1919" and base["majority_bin"]["accuracy"] == 0.5
    assert base["majority_bin"]["mae"] == pytest.approx((10 + 35) / 2)  # the bin centre 1910 again
    assert base["majority_bin"]["balanced_accuracy"] == 0.5


def test_learning_curve_writes_points_and_a_png(head_run, tmp_path):
    data, _, _ = head_run
    png = tmp_path / "curve.png"
    result = CliRunner().invoke(cli.main, ["learning-curve", "--data", str(data), "--arch", "test_efficientnet",
                                           "--no-pretrained", "--img-size", "32", "--cv", "3", "--sizes", "10,30,999",
                                           "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert png.is_file() and png.stat().st_size > 1000
    sizes = [line.split()[0] for line in result.output.splitlines()[2:5]]
    assert sizes == ["10", "30", "47"]  # 999 is capped at the training folds' size: 71 - ceil(71 / 3)


def test_head_only_prints_no_epoch_table(head_run):
    _, _, result = head_run
    text = result.stdout
    assert "images_per_s" not in text and "train_loss" not in text and "lr " not in text
    assert text.splitlines()[0].startswith("head-only on frozen features: ")
