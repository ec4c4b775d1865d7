"""The ablation table: each source alone, the fusion and the two baselines, scored on the same held-out folds.

Every row is pooled over the K held-out folds (each record scored once, by a model that never saw it):
MAE in years, accuracy and balanced accuracy of the bin holding the year, the share of true years inside
the 80% interval (coverage) and the interval's mean width in years.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np

from db import csvsafe
from modeling.decode import bin_centres, year_to_bin
from modeling.metrics import summarize

ABLATION = "ablation.csv"
ABLATION_COLUMNS = ("source", "n", "mae", "accuracy", "balanced_accuracy", "coverage", "mean_width")


def score(source: str, n: int, true_years, years, low, high, edges, labels) -> dict:
    """One ablation row; `n` is how many records the source speaks for (all of them for fusion and baselines)."""
    true_years, years = np.asarray(true_years, dtype=float), np.asarray(years, dtype=float)
    low, high = np.floor(np.asarray(low, dtype=float)), np.ceil(np.asarray(high, dtype=float))
    metrics = summarize(year_to_bin(true_years, edges), year_to_bin(years, edges), true_years, years, labels)
    inside = (true_years >= low) & (true_years <= high)
    return {"source": source, "n": int(n), "mae": metrics["mae"], "accuracy": metrics["accuracy"],
            "balanced_accuracy": metrics["balanced_accuracy"], "coverage": float(inside.mean()),
            "mean_width": float((high - low).mean())}


def baseline_rows(true_years: np.ndarray, folds: np.ndarray, edges, labels, level: float) -> list[dict]:
    """The constant median year (interval: the training folds' central `level` of years) and the majority bin
    (interval: its span), each fitted on the other folds."""
    true_years = np.asarray(true_years, dtype=float)
    n = len(true_years)
    median, median_lo, median_hi = np.zeros(n), np.zeros(n), np.zeros(n)
    major, major_lo, major_hi = np.zeros(n), np.zeros(n), np.zeros(n)
    centres = bin_centres(edges)
    tail = (1.0 - level) / 2.0
    for fold in np.unique(folds):
        train, test = true_years[folds != fold], folds == fold
        median[test] = np.median(train)
        median_lo[test], median_hi[test] = np.quantile(train, tail), np.quantile(train, 1.0 - tail)
        counts = Counter(year_to_bin(train, edges).tolist())
        top = min(counts, key=lambda b: (-counts[b], b))
        major[test], major_lo[test], major_hi[test] = centres[top], edges[top], edges[top + 1] - 1
    return [score("baseline: median year", n, true_years, median, median_lo, median_hi, edges, labels),
            score("baseline: majority bin", n, true_years, major, major_lo, major_hi, edges, labels)]


def write_ablation(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.dict_writer(handle, fieldnames=ABLATION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    os.replace(tmp, path)


def read_ablation(run_dir: str | Path) -> list[dict]:
    """The run's ablation rows (empty for a run trained without evidence)."""
    path = Path(run_dir) / ABLATION
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: (v if k == "source" else (int(v) if k == "n" else float(v))) for k, v in row.items()}
                for row in csv.DictReader(handle)]


def ablation_lines(rows: list[dict], title: str) -> str:
    """The ablation table as text, under a title line."""
    from modeling.inference.report import table

    return title + "\n" + table(rows, ABLATION_COLUMNS)
