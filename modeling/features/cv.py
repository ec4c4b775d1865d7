"""K-fold cross-validation of a head on cached features, and the out-of-fold estimate of every image.

Folds are stratified by bin and never cut a near-duplicate group: dataset.split.assign_groups, the
export's own split logic, with K equal fractions. Each fold's head is fitted on the other folds only,
so an image's out-of-fold estimate comes from a model that never saw it (nor its duplicates) nor its
catalogued year: what the records page needs to find probably wrong catalogue dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataset.split import assign_groups
from modeling.baselines import baseline_metrics
from modeling.decode import decode_outputs
from modeling.errors import BadTrainingSetup
from modeling.features.heads import fit_head
from modeling.inference.predict import answer
from modeling.metrics import summarize
from modeling.training.config import TrainConfig
from modeling.training.data import Export, ExportRow

CV_METRICS = ("mae", "accuracy", "balanced_accuracy", "within_10")


@dataclass(frozen=True)
class _FoldItem:
    image_id: int  # position in the rows (manifest image ids may be absent or repeat across oversampling)
    source_id: str  # orders groups as the export does
    bin_index: int  # stratify by this
    group_id: int  # never cut


@dataclass(frozen=True)
class CVResult:
    k: int  # folds
    folds: tuple[dict, ...]  # per fold: n and CV_METRICS of the model and of both baselines
    summary: dict  # per metric: mean and std over folds, for the model and the baselines
    oof: tuple[dict, ...]  # one row per image: its out-of-fold answer
    outputs: np.ndarray  # (N, K) out-of-fold raw outputs, in row order


def check_folds(k: int, rows: list[ExportRow]) -> None:
    """Refuse a K that cannot give K non-empty folds."""
    if k < 2:
        raise BadTrainingSetup(f"--cv {k}: cross-validation needs at least 2 folds (5 is usual). Pass --cv 5, "
                               f"or leave --cv out to fit on the train split alone.")
    groups = len({row.group_id for row in rows})
    if groups < k:
        raise BadTrainingSetup(f"--cv {k} needs at least {k} images (distinct duplicate groups), but the export has "
                               f"{groups}. Pass a smaller --cv, or export more photographs.")


def fold_indices(rows: list[ExportRow], k: int, seed: int) -> np.ndarray:
    """Fold number of each row: stratified by bin, duplicate groups whole (dataset.split.assign_groups)."""
    check_folds(k, rows)
    items = [_FoldItem(i, row.source_id, row.bin_index, row.group_id) for i, row in enumerate(rows)]
    part_of = assign_groups(items, [1.0 / k] * k, seed)
    return np.array([part_of[i] for i in range(len(rows))], dtype=int)


def unique_rows(export: Export) -> list[ExportRow]:
    """Every exported image once (oversampled train rows repeat in the manifest)."""
    return list({row.file: row for row in export.rows}.values())


def cross_validate(features: np.ndarray, rows: list[ExportRow], config: TrainConfig, export: Export,
                   train_subset=None) -> CVResult:
    """Fit a head per fold on the other folds' `features`; score each fold and keep out-of-fold answers.

    `train_subset(fold, train_positions) -> positions` may shrink each fold's training rows (learning curves).
    """
    k = config.cv
    folds = fold_indices(rows, k, config.seed)
    outputs = np.zeros((len(rows), export.num_bins if config.task == "classify" else 1))
    for fold in range(k):
        train_at = np.flatnonzero(folds != fold)
        if train_subset is not None:
            train_at = train_subset(fold, train_at)
        head = fit_head(features[train_at], [rows[i] for i in train_at], config, export)
        test_at = np.flatnonzero(folds == fold)
        outputs[test_at] = head.outputs(features[test_at])
    true_years = np.array([row.year for row in rows], dtype=float)
    sigma = None
    if config.task == "regress":  # the out-of-fold residual spread is the honest interval width
        plain = decode_outputs(outputs, config.task, export.edges, export.year_range)
        sigma = float(np.sqrt(np.mean((plain.years - true_years) ** 2)))
    decoded = decode_outputs(outputs, config.task, export.edges, export.year_range, sigma=sigma)
    per_fold = []
    for fold in range(k):
        at = np.flatnonzero(folds == fold)
        test_rows = [rows[i] for i in at]
        train_rows = [rows[i] for i in np.flatnonzero(folds != fold)]
        metrics = summarize([r.bin_index for r in test_rows], decoded.bins[at], true_years[at], decoded.years[at],
                            export.labels)
        base = baseline_metrics(train_rows, test_rows, export.edges, export.labels)
        per_fold.append({"fold": fold, "n": len(at), **{m: metrics[m] for m in CV_METRICS},
                         "median_year_mae": base["median_year"]["mae"],
                         "majority_bin_accuracy": base["majority_bin"]["accuracy"],
                         "majority_bin_balanced_accuracy": base["majority_bin"]["balanced_accuracy"]})
    oof = []
    for i, row in enumerate(rows):
        said = answer(decoded, i, export.labels, export.edges, export.year_range, config.task, top_k=1)
        oof.append({"image_id": row.image_id, "file": row.file, "year": row.year, "fold": int(folds[i]),
                    "estimate": said["year"], "low": said["interval"]["low"], "high": said["interval"]["high"],
                    "period": said["top"][0]["bin"], "probability": said["top"][0]["probability"]})
    return CVResult(k=k, folds=tuple(per_fold), summary=summarise_folds(per_fold), oof=tuple(oof), outputs=outputs)


def summarise_folds(per_fold: list[dict]) -> dict:
    """Mean and sample standard deviation over folds of every numeric column but fold and n."""
    keys = [key for key in per_fold[0] if key not in ("fold", "n")]
    return {key: {"mean": float(np.mean([f[key] for f in per_fold])),
                  "std": float(np.std([f[key] for f in per_fold], ddof=1)) if len(per_fold) > 1 else 0.0}
            for key in keys}


def cv_line(summary: dict, k: int, n: int) -> str:
    """One line: the model's CV metrics (mean +- std) next to both baselines'."""
    def ms(key: str, digits: int) -> str:
        return f"{summary[key]['mean']:.{digits}f} +- {summary[key]['std']:.{digits}f}"

    beats = (summary["mae"]["mean"] < summary["median_year_mae"]["mean"]
             and summary["balanced_accuracy"]["mean"] > summary["majority_bin_balanced_accuracy"]["mean"])
    return (f"{k}-fold CV on {n} images: MAE {ms('mae', 1)} y, accuracy {ms('accuracy', 3)}, balanced "
            f"{ms('balanced_accuracy', 3)} | constant median year MAE {ms('median_year_mae', 1)} y | majority bin "
            f"accuracy {ms('majority_bin_accuracy', 3)}, balanced {ms('majority_bin_balanced_accuracy', 3)} | "
            + ("beats both baselines" if beats else "DOES NOT BEAT THE BASELINES"))
