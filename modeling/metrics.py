"""Pure metric functions over bin indices and years (numpy in, floats out); sklearn's definitions."""

from __future__ import annotations

import numpy as np


def confusion_matrix(true_bins, pred_bins, num_bins: int) -> np.ndarray:
    """Counts with rows = actual bin, columns = predicted bin.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    matrix = np.zeros((num_bins, num_bins), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_bins, dtype=int), np.asarray(pred_bins, dtype=int)), 1)
    return matrix


def per_bin_precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall per bin; 0.0 where undefined (no predictions / no examples)."""
    hits = np.diag(matrix)
    # a bin never predicted (or never actual) has no hits either, so dividing by max(count, 1) gives its 0.0
    return hits / np.maximum(matrix.sum(axis=0), 1), hits / np.maximum(matrix.sum(axis=1), 1)


def accuracy(matrix: np.ndarray) -> float:
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


def balanced_accuracy(matrix: np.ndarray) -> float:
    """Mean recall over the bins that have examples."""
    _, recall = per_bin_precision_recall(matrix)
    present = matrix.sum(axis=1) > 0
    return float(recall[present].mean()) if present.any() else 0.0


def macro_f1(matrix: np.ndarray) -> float:
    """Mean F1 over the bins that occur as actual or predicted."""
    precision, recall = per_bin_precision_recall(matrix)
    denom = precision + recall
    f1 = 2 * precision * recall / np.maximum(denom, 1e-12)  # 0/tiny = 0 where both are 0
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return float(f1[present].mean()) if present.any() else 0.0


def within_one_bin(true_bins, pred_bins) -> float:
    diff = np.abs(np.asarray(true_bins, dtype=int) - pred_bins)  # signed: unsigned inputs must not wrap around
    return float((diff <= 1).mean()) if diff.size else 0.0


def year_errors(true_years, pred_years) -> dict[str, float]:
    """MAE, RMSE, median absolute error and the shares within 5 and 10 years."""
    err = np.abs(np.asarray(pred_years, dtype=float) - true_years)
    if not err.size:
        return {"mae": 0.0, "rmse": 0.0, "median_ae": 0.0, "within_5": 0.0, "within_10": 0.0}
    return {"mae": float(err.mean()), "rmse": float(np.sqrt((err**2).mean())), "median_ae": float(np.median(err)),
            "within_5": float((err <= 5).mean()), "within_10": float((err <= 10).mean())}


def summarize(true_bins, pred_bins, true_years, pred_years, labels: list[str] | tuple[str, ...]) -> dict:
    """Every evaluate metric in one JSON-able dict (per-bin values keyed by label)."""
    matrix = confusion_matrix(true_bins, pred_bins, len(labels))
    precision, recall = per_bin_precision_recall(matrix)
    return {
        "n": int(matrix.sum()),
        "accuracy": accuracy(matrix),
        "balanced_accuracy": balanced_accuracy(matrix),
        "macro_f1": macro_f1(matrix),
        "within_one_bin": within_one_bin(true_bins, pred_bins),
        **year_errors(true_years, pred_years),
        "per_bin": {label: {"precision": float(p), "recall": float(r), "support": int(s)}
                    for label, p, r, s in zip(labels, precision, recall, matrix.sum(axis=1), strict=True)},
        "confusion_matrix": matrix.tolist(),
        "labels": list(labels),
    }
