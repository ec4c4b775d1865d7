"""What a model must beat: the constant median year and the majority bin, scored on the same images.

The constants come from the training rows (what a model could have learned without looking at a
photograph); they are scored with metrics.summarize, the model's own metric definitions.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from modeling.decode import bin_centres, year_to_bin
from modeling.metrics import summarize

BASELINE_KEYS = ("mae", "accuracy", "balanced_accuracy", "within_10")


def baseline_metrics(train_rows, rows, edges, labels) -> dict:
    """{"median_year": {...}, "majority_bin": {...}}: each constant answer's metrics on `rows`.

    `train_rows` and `rows` are ExportRow-like (year, bin_index, file); repeated files count once.
    """
    unique = list({row.file: row for row in train_rows}.values())
    median = float(np.median([row.year for row in unique]))
    counts = Counter(row.bin_index for row in unique)
    majority = min(counts, key=lambda b: (-counts[b], b))
    true_bins = np.array([row.bin_index for row in rows], dtype=int)
    true_years = np.array([row.year for row in rows], dtype=float)
    n = len(rows)
    median_years = np.full(n, median)
    by_median = summarize(true_bins, year_to_bin(median_years, edges), true_years, median_years, labels)
    majority_years = np.full(n, bin_centres(edges)[majority])
    by_majority = summarize(true_bins, np.full(n, majority), true_years, majority_years, labels)
    return {"median_year": {"year": median, **{k: by_median[k] for k in BASELINE_KEYS}},
            "majority_bin": {"bin": labels[majority], **{k: by_majority[k] for k in BASELINE_KEYS}}}


def baseline_flags(metrics: dict, baselines: dict) -> list[str]:
    """Why the model does not beat the baselines (empty when it beats both)."""
    flags = []
    if metrics["mae"] >= baselines["median_year"]["mae"]:
        flags.append(f"MAE {metrics['mae']:.1f} is not below the constant median year's "
                     f"{baselines['median_year']['mae']:.1f}")
    if metrics["balanced_accuracy"] <= baselines["majority_bin"]["balanced_accuracy"]:
        flags.append(f"balanced accuracy {metrics['balanced_accuracy']:.3f} is not above the majority bin's "
                     f"{baselines['majority_bin']['balanced_accuracy']:.3f}")
    return flags


def with_baselines(metrics: dict, train_rows, rows, edges, labels) -> dict:
    """`metrics` plus "baselines" on the same rows and "baseline_flags" (empty when the model beats both)."""
    baselines = baseline_metrics(train_rows, rows, edges, labels)
    return {**metrics, "baselines": baselines, "baseline_flags": baseline_flags(metrics, baselines)}


def baselines_line(metrics: dict) -> str:
    """One line: the model next to both baselines, and whether it beats them."""
    base = metrics.get("baselines")
    if not base:
        return "baselines: not recorded for this run"
    median, majority = base["median_year"], base["majority_bin"]
    verdict = ("beats both baselines" if not metrics.get("baseline_flags")
               else "DOES NOT BEAT THE BASELINES: " + "; ".join(metrics["baseline_flags"]))
    return (f"model MAE {metrics['mae']:.1f} y, balanced accuracy {metrics['balanced_accuracy']:.3f} | "
            f"constant median year {median['year']:.0f}: MAE {median['mae']:.1f} y | majority bin "
            f"{majority['bin']}: accuracy {majority['accuracy']:.3f}, balanced {majority['balanced_accuracy']:.3f}"
            f" | {verdict}")


def baseline_table_rows(metrics: dict) -> list[dict]:
    """Rows (answer, mae, accuracy, balanced_accuracy, within_10) for the model and both baselines."""
    base = metrics.get("baselines") or {}
    rows = [{"answer": "model", **{k: metrics.get(k) for k in BASELINE_KEYS}}]
    if base:
        rows.append({"answer": f"constant median year {base['median_year']['year']:.0f}",
                     **{k: base["median_year"][k] for k in BASELINE_KEYS}})
        rows.append({"answer": f"majority bin {base['majority_bin']['bin']}",
                     **{k: base["majority_bin"][k] for k in BASELINE_KEYS}})
    return rows
