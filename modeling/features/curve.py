"""`cli.py learning-curve`: how the head-only model's cross-validated error falls with more labelled photographs.

For each size n, every fold's head is fitted on n photographs drawn (seeded, without replacement) from
the other folds and scored on the held-out fold, so each point uses every image for scoring and the
sizes go up to (K-1)/K of the export. The cached features make each point take about a second.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from modeling.errors import BadTrainingSetup
from modeling.features.cv import cross_validate, unique_rows
from modeling.features.run import embed_export
from modeling.plots import learning_curve_png
from modeling.training.config import TrainConfig

CURVE_COLUMNS = ("n_train", "mae", "mae_std", "accuracy", "accuracy_std", "balanced_accuracy",
                 "balanced_accuracy_std", "median_year_mae", "majority_bin_accuracy")


@dataclass(frozen=True)
class CurveConfig:
    train: TrainConfig  # data, arch, img size, head (task, loss, head_l2), cv = folds, seed
    sizes: tuple[int, ...] = (25, 50, 100, 150)  # training photographs per point (capped at what the folds hold)
    png: Path = Path("runs/learning_curve.png")  # where the plot goes


@dataclass(frozen=True)
class CurveResult:
    rows: tuple[dict, ...]  # one per size: CURVE_COLUMNS
    images: int  # exported images (every one scored once per point)
    folds: int  # K
    png: Path  # the plot
    embed_seconds: float  # time spent embedding (near zero with a warm cache)


def learning_curve(config: CurveConfig, show: bool = True) -> CurveResult:
    """Cross-validated metrics of head-only models trained on each of `config.sizes` photographs."""
    train = replace(config.train, head_only=True, cv=config.train.cv or 5)
    if not config.sizes or min(config.sizes) < 2:
        raise BadTrainingSetup(f"--sizes {','.join(map(str, config.sizes))}: expected training-set sizes of at "
                               f"least 2 photographs, e.g. 25,50,100,150.")
    export, _, _, _, embedding, by_file = embed_export(train, show)
    rows = unique_rows(export)
    features = np.stack([by_file[row.file] for row in rows])
    largest = len(rows) - -(-len(rows) // train.cv)  # the training folds' size when the held-out fold is largest
    sizes = sorted({min(n, largest) for n in config.sizes})
    points = []
    for n in sizes:
        def draw(fold: int, positions: np.ndarray, n=n) -> np.ndarray:
            rng = np.random.default_rng(train.seed * 1_000_003 + fold * 1009 + n)
            return np.sort(rng.choice(positions, size=min(n, len(positions)), replace=False))

        summary = cross_validate(features, rows, train, export, train_subset=draw).summary
        points.append({"n_train": n, **{key: summary[key]["mean"] for key in ("mae", "accuracy", "balanced_accuracy")},
                       **{f"{key}_std": summary[key]["std"] for key in ("mae", "accuracy", "balanced_accuracy")},
                       "median_year_mae": summary["median_year_mae"]["mean"],
                       "majority_bin_accuracy": summary["majority_bin_accuracy"]["mean"]})
    Path(config.png).parent.mkdir(parents=True, exist_ok=True)
    learning_curve_png(points, config.png, title=f"{train.arch}, {train.img_size} px, {train.cv}-fold CV, "
                                                 f"{len(rows)} images")
    return CurveResult(rows=tuple(points), images=len(rows), folds=train.cv, png=Path(config.png),
                       embed_seconds=embedding.seconds)
