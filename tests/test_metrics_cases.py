"""modeling.metrics at its edges, by hand: empty splits, bins seen only as predictions, single examples,
errors exactly at 5 and 10 years, unsigned input arrays."""

from __future__ import annotations

import numpy as np
import pytest

from modeling.metrics import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    macro_f1,
    per_bin_precision_recall,
    summarize,
    within_one_bin,
    year_errors,
)

LABELS = ("1860-1879", "1880-1899", "1900-1919")


def test_an_empty_split_scores_zero_everywhere():
    result = summarize([], [], [], [], LABELS)
    assert result["n"] == 0 and result["confusion_matrix"] == [[0, 0, 0]] * 3 and result["labels"] == list(LABELS)
    assert {k: result[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "within_one_bin")} == dict.fromkeys(
        ("accuracy", "balanced_accuracy", "macro_f1", "within_one_bin"), 0.0)
    assert year_errors([], []) == {"mae": 0.0, "rmse": 0.0, "median_ae": 0.0, "within_5": 0.0, "within_10": 0.0}
    assert result["per_bin"][LABELS[0]] == {"precision": 0.0, "recall": 0.0, "support": 0}


def test_a_bin_only_predicted_counts_in_f1_but_not_in_balanced_accuracy():
    # actual 0,0,0; predicted 0,0,1. Bin 0: precision 2/2, recall 2/3, F1 0.8. Bin 1: predicted once, never
    # actual: precision 0, recall undefined (0), F1 0. Bin 2 occurs nowhere and is left out of the means.
    matrix = confusion_matrix([0, 0, 0], [0, 0, 1], 3)
    assert matrix.tolist() == [[2, 1, 0], [0, 0, 0], [0, 0, 0]]
    precision, recall = per_bin_precision_recall(matrix)
    assert precision.tolist() == [1.0, 0.0, 0.0] and recall.tolist() == pytest.approx([2 / 3, 0.0, 0.0])
    assert macro_f1(matrix) == pytest.approx(0.4)
    assert balanced_accuracy(matrix) == pytest.approx(2 / 3)
    assert accuracy(matrix) == pytest.approx(2 / 3)


def test_a_bin_with_one_example_counts():
    # bin 0: one example, right; bin 1: two examples, one right. Balanced accuracy (1 + 1/2) / 2.
    matrix = confusion_matrix([0, 1, 1], [0, 1, 0], 2)
    _, recall = per_bin_precision_recall(matrix)
    assert recall.tolist() == [1.0, 0.5]
    assert balanced_accuracy(matrix) == 0.75
    # F1: bin 0 precision 1/2 recall 1 -> 2/3; bin 1 precision 1 recall 1/2 -> 2/3
    assert macro_f1(matrix) == pytest.approx(2 / 3)


def test_bins_and_years_in_unsigned_or_float_arrays():
    assert confusion_matrix(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 2).tolist() == [[0, 1], [0, 1]]
    # unsigned subtraction would wrap around (0 - 1 = 255) and call neighbours far apart
    assert within_one_bin(np.array([0, 1, 3], dtype=np.uint8), np.array([1, 0, 0], dtype=np.uint8)) == pytest.approx(2 / 3)
    errors = year_errors(np.array([1910], dtype=np.uint16), np.array([1900], dtype=np.uint16))
    assert errors["mae"] == 10.0 and errors["within_10"] == 1.0


def test_within_5_and_10_include_their_bounds():
    errors = year_errors([1900, 1900, 1900, 1900], [1905, 1910, 1911, 1894])  # errors 5, 10, 11, 6
    assert errors["within_5"] == 0.25 and errors["within_10"] == 0.75
    assert errors["median_ae"] == 8.0 and errors["mae"] == 8.0
    assert errors["rmse"] == pytest.approx(((25 + 100 + 121 + 36) / 4) ** 0.5)


def test_support_is_the_actual_count_per_bin():
    result = summarize([0, 0, 0, 1], [1, 1, 1, 1], [1870] * 3 + [1890], [1890] * 4, LABELS[:2])
    assert {k: v["support"] for k, v in result["per_bin"].items()} == {LABELS[0]: 3, LABELS[1]: 1}
    assert result["per_bin"][LABELS[1]] == {"precision": 0.25, "recall": 1.0, "support": 1}


def test_f1_when_precision_and_recall_sum_below_one():
    # bin 0: predicted 3 times, 1 right, 2 actual -> precision 1/3, recall 1/2, F1 = (2/6) / (5/6) = 0.4;
    # bin 1: predicted once, wrong -> F1 0. Macro F1 0.2.
    matrix = confusion_matrix([0, 0, 1, 1], [0, 1, 0, 0], 2)
    assert macro_f1(matrix) == pytest.approx(0.2, abs=1e-12)
