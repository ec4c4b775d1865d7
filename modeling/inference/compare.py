"""`cli.py compare`: finished runs side by side, from their config.json, metrics.json and history.csv."""

from __future__ import annotations

from pathlib import Path

from modeling.errors import MixedExports
from modeling.runs import read_history, read_metrics, read_run_config

COMPARE_COLUMNS = ("run", "export", "arch", "task", "loss", "sampler", "pretrained", "img_size", "epochs", "seconds",
                   "accuracy", "balanced_accuracy", "mae", "within_10", "median_year_mae", "majority_accuracy",
                   "beats_baselines", "cv_mae")


def compare_runs(run_dirs: list[str | Path], mixed_exports: bool = False) -> list[dict]:
    """One row per run with COMPARE_COLUMNS (the best epoch's valid metrics).

    Runs validated on different exports scored different photographs, so their numbers cannot be
    ranked: that raises MixedExports unless `mixed_exports` (then `export` tells them apart).
    """
    rows, exports = [], {}
    for run_dir in run_dirs:
        config, metrics, history = read_run_config(run_dir), read_metrics(run_dir), read_history(run_dir)
        train = config.get("train", {})
        shown = (config.get("validated_on") or {}).get("export") or config.get("export") or "unknown"
        exports.setdefault(_export_identity(config), []).append((Path(run_dir).name, shown))
        rows.append({
            "run": Path(run_dir).name, "export": shown, "arch": config["arch"], "task": config["task"],
            "loss": train.get("loss") or ("ce" if config["task"] == "classify" else "l1"),
            "sampler": train.get("sampler", ""), "pretrained": bool(train.get("pretrained") or train.get("weights")),
            "img_size": config["img_size"], "epochs": len(history),
            "seconds": round(sum(float(r["seconds"]) for r in history), 1),
            "accuracy": metrics.get("accuracy"), "balanced_accuracy": metrics.get("balanced_accuracy"),
            "mae": metrics.get("mae"), "within_10": metrics.get("within_10"),
            **_baseline_columns(metrics)})
    if len(exports) > 1 and not mixed_exports:
        groups = "; ".join(f"{shown}: {', '.join(run for run, _ in runs)}" for runs in exports.values()
                           for shown in [runs[0][1]])
        raise MixedExports(f"These runs were validated on {len(exports)} different exports ({groups}), so their "
                           "numbers come from different photographs and cannot be ranked. Compare runs of one "
                           "export, or pass --mixed-exports to show them side by side anyway.")
    return rows


def _export_identity(config: dict) -> tuple:
    """What makes two runs' validation numbers comparable: the same export folder with the same bins."""
    return (config.get("export") or (config.get("validated_on") or {}).get("export"),
            tuple((config.get("bins") or {}).get("labels") or ()))


def _baseline_columns(metrics: dict) -> dict:
    """The baselines on the same valid images, whether the run beats them, and its CV MAE (mean +- std)."""
    base = metrics.get("baselines")
    cv = (metrics.get("cv") or {}).get("summary", {}).get("mae")
    return {"median_year_mae": base["median_year"]["mae"] if base else None,
            "majority_accuracy": base["majority_bin"]["accuracy"] if base else None,
            "beats_baselines": ("NO" if metrics.get("baseline_flags") else "yes") if base else "unknown",
            "cv_mae": f"{cv['mean']:.1f} +- {cv['std']:.1f}" if cv else ""}
