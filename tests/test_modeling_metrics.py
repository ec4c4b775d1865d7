"""evaluate's numbers against a hand computation; decoding of bins to years and intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modeling.decode import (
    expected_year,
    gaussian_bin_probs,
    interval,
    quantile_year,
    soft_targets,
    year_to_bin,
)
from modeling.metrics import confusion_matrix, summarize

LABELS = ("1860-1879", "1880-1899", "1900-1919")
EDGES = (1860, 1880, 1900, 1920)
TRUE_BINS = [0, 0, 1, 1, 2, 2, 2]
PRED_BINS = [0, 1, 1, 1, 2, 0, 1]
TRUE_YEARS = [1865, 1870, 1885, 1890, 1905, 1910, 1915]
PRED_YEARS = [1861, 1880, 1885, 1896, 1905, 1880, 1900]  # abs errors 4, 10, 0, 6, 0, 30, 15


def test_summarize_equals_hand_computation():
    result = summarize(TRUE_BINS, PRED_BINS, TRUE_YEARS, PRED_YEARS, LABELS)
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 1, 1]]
    assert result["n"] == 7
    assert result["accuracy"] == pytest.approx(4 / 7)
    assert result["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 2 + 1 / 3) / 3)
    # precision 1/2, 1/2, 1; recall 1/2, 1, 1/3 -> F1 1/2, 2/3, 1/2
    assert result["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    assert result["per_bin"]["1880-1899"] == {"precision": 0.5, "recall": 1.0, "support": 2}
    assert result["per_bin"]["1900-1919"]["precision"] == 1.0
    assert result["per_bin"]["1900-1919"]["recall"] == pytest.approx(1 / 3)
    assert result["within_one_bin"] == pytest.approx(6 / 7)
    assert result["mae"] == pytest.approx(65 / 7)
    assert result["rmse"] == pytest.approx(math.sqrt((16 + 100 + 0 + 36 + 0 + 900 + 225) / 7))
    assert result["median_ae"] == 6
    assert result["within_5"] == pytest.approx(3 / 7)
    assert result["within_10"] == pytest.approx(5 / 7)


def test_confusion_rows_are_actual_and_empty_bins_do_not_count_in_balanced_accuracy():
    assert confusion_matrix([0, 0], [1, 1], 3).tolist() == [[0, 2, 0], [0, 0, 0], [0, 0, 0]]
    result = summarize([0, 0], [0, 1], [1865, 1866], [1865, 1890], LABELS)
    assert result["balanced_accuracy"] == 0.5  # only bin 0 has examples


def test_expected_year_and_interval_from_bin_probabilities():
    probs = np.array([[0.25, 0.5, 0.25]])
    assert expected_year(probs, EDGES).tolist() == [1890.0]
    assert interval(probs[0], EDGES, 0.5) == (1880.0, 1900.0)
    assert quantile_year(np.array([0.0, 1.0, 0.0]), EDGES, 0.1) == 1882.0
    assert year_to_bin([1859, 1860, 1899.5, 1920, 1999], EDGES).tolist() == [0, 0, 1, 2, 2]


def test_soft_targets_and_gaussian_bins_are_distributions():
    targets = soft_targets(np.array([0, 2]), 3, sigma=1.0)
    assert targets.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert targets[0, 0] > targets[0, 1] > targets[0, 2]
    probs = gaussian_bin_probs(1890.0, 5.0, EDGES)
    assert probs.sum() == pytest.approx(1.0)
    assert probs.argmax() == 1 and probs[1] > 0.9
