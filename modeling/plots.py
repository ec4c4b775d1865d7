"""PNG figures of a run: confusion matrix (rows = actual), training curves, LR range test."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_png(matrix, labels, path: Path, title: str = "Confusion matrix (counts)") -> None:
    matrix = np.asarray(matrix)
    size = max(4.0, 0.55 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted bin")
    ax.set_ylabel("actual bin")
    ax.set_title(title)
    top = matrix.max() if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > top / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves_png(history: list[dict], path: Path) -> None:
    epochs = [int(row["epoch"]) for row in history]
    fig, (ax_loss, ax_acc, ax_mae) = plt.subplots(1, 3, figsize=(12, 3.5))
    ax_loss.plot(epochs, [float(r["train_loss"]) for r in history], "o-", label="train")
    ax_loss.plot(epochs, [float(r["valid_loss"]) for r in history], "o-", label="valid")
    ax_loss.set_title("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [float(r["valid_accuracy"]) for r in history], "o-", label="accuracy")
    ax_acc.plot(epochs, [float(r["valid_balanced_accuracy"]) for r in history], "o-", label="balanced")
    ax_acc.set_title("valid bin accuracy")
    ax_acc.legend()
    ax_mae.plot(epochs, [float(r["valid_mae"]) for r in history], "o-")
    ax_mae.set_title("valid MAE (years)")
    for ax in (ax_loss, ax_acc, ax_mae):
        ax.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def lr_find_png(lrs, losses, suggestion: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, losses)
    ax.axvline(suggestion, color="red", linestyle="--", label=f"chosen {suggestion:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed loss")
    ax.set_title("LR range test")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def learning_curve_png(points: list[dict], path: Path, title: str = "learning curve") -> None:
    """MAE and balanced accuracy (mean +- std over folds) against training photographs, baselines dashed."""
    sizes = [p["n_train"] for p in points]
    fig, (ax_mae, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_mae.errorbar(sizes, [p["mae"] for p in points], yerr=[p["mae_std"] for p in points], fmt="o-", capsize=3,
                    label="head-only model")
    ax_mae.plot(sizes, [p["median_year_mae"] for p in points], "k--", label="constant median year")
    ax_mae.set_ylabel("MAE (years)")
    ax_mae.legend()
    ax_acc.errorbar(sizes, [p["balanced_accuracy"] for p in points], yerr=[p["balanced_accuracy_std"] for p in points],
                    fmt="o-", capsize=3, label="balanced accuracy")
    ax_acc.errorbar(sizes, [p["accuracy"] for p in points], yerr=[p["accuracy_std"] for p in points], fmt="s-",
                    capsize=3, label="accuracy")
    ax_acc.plot(sizes, [p["majority_bin_accuracy"] for p in points], "k--", label="majority bin accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.legend()
    for ax in (ax_mae, ax_acc):
        ax.set_xlabel("training photographs")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
