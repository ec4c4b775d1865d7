"""`train --head-only --head-l2 auto`: choose the head's task (classify or regress) and L2 penalty by inner CV.

Every candidate is scored by K-fold CV (modeling.features.cv.cross_validate, its usual folds) on the
train split only, and the lowest mean MAE wins (MAE is the number users read first; ties go to the
stronger penalty). The outer `--cv` over every exported image then scores the chosen head; the train
split's images take part in both, a mild optimism that metrics.json states.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from modeling.features.cv import cross_validate
from modeling.training.config import TrainConfig
from modeling.training.data import Export, ExportRow

# (task, loss, L2 penalties): ce's penalty is on the weights' squared sum, ridge's is times N (heads.fit_head)
CANDIDATES = (("classify", "ce", (0.001, 0.01, 0.1, 1.0)), ("regress", "ridge", (0.01, 0.1, 1.0, 10.0)))
INNER_FOLDS = 5  # folds of the inner CV (fewer when the train split has fewer duplicate groups)


def select_head(features: np.ndarray, rows: list[ExportRow], config: TrainConfig,
                export: Export) -> tuple[TrainConfig, list[dict]]:
    """(config with the chosen task, loss and head_l2; one row per candidate: task, loss, head_l2, mae, ...)."""
    k = max(2, min(INNER_FOLDS, len({row.group_id for row in rows})))
    table = []
    for task, loss, penalties in CANDIDATES:
        for l2 in penalties:
            candidate = replace(config, task=task, loss=loss, head_l2=l2, cv=k)
            summary = cross_validate(features, rows, candidate, export).summary
            table.append({"task": task, "loss": loss, "head_l2": l2, "mae": summary["mae"]["mean"],
                          "mae_std": summary["mae"]["std"], "accuracy": summary["accuracy"]["mean"],
                          "balanced_accuracy": summary["balanced_accuracy"]["mean"], "folds": k})
    best = min(table, key=lambda row: (round(row["mae"], 6), -row["head_l2"]))
    chosen = replace(config, task=best["task"], loss=best["loss"], head_l2=best["head_l2"])
    return chosen, table
