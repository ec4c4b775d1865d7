"""modeling.decode on small cases worked out by hand (scipy's normal distribution where a CDF is needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from modeling.decode import (
    bin_centres,
    decode_outputs,
    denormalise_year,
    expected_year,
    gaussian_bin_probs,
    interval,
    normalise_year,
    quantile_year,
    soft_targets,
    softmax,
    year_interval,
    year_to_bin,
)

EDGES = (1900, 1920, 1940, 1960)
RANGE = (1900, 1960)
Z80 = 1.2815515655446004  # standard normal 90th percentile, from tables


def test_softmax_is_row_wise_and_stable():
    logits = np.array([[0.0, math.log(3.0)], [math.log(3.0), 0.0], [1000.0, 1000.0 + math.log(3.0)]])
    assert softmax(logits) == pytest.approx(np.array([[0.25, 0.75], [0.75, 0.25], [0.25, 0.75]]))


def test_classifier_outputs_decode_to_expected_year_and_argmax_bin():
    logits = np.log([[1.0, 2.0, 1.0], [1.0, 1.0, 6.0], [3.0, 1.0, 0.5]])
    decoded = decode_outputs(logits, "classify", EDGES, RANGE, sigma=7.0)
    assert decoded.probs == pytest.approx(np.array([[0.25, 0.5, 0.25], [0.125, 0.125, 0.75], [2 / 3, 2 / 9, 1 / 9]]))
    # 0.25*1910 + 0.5*1930 + 0.25*1950 = 1930; 0.125*1910 + 0.125*1930 + 0.75*1950 = 1942.5;
    # (3*1910 + 1930 + 0.5*1950) / 4.5 = 8635 / 4.5 = 1918.89
    assert decoded.years.tolist() == pytest.approx([1930.0, 1942.5, 8635 / 4.5])
    assert decoded.bins.tolist() == [1, 2, 0]
    assert decoded.sigma is None  # a classifier has no residual spread, whatever is passed


def test_regressor_outputs_are_clipped_years_with_a_gaussian_over_the_bins():
    outputs = np.array([[-0.5], [0.25], [1.5], [0.5]])
    decoded = decode_outputs(outputs, "regress", EDGES, RANGE)
    assert decoded.years.tolist() == [1900.0, 1915.0, 1960.0, 1930.0]
    assert decoded.bins.tolist() == [0, 0, 2, 1]
    assert decoded.sigma == 6.0  # a tenth of the 60-year range
    row = [norm.cdf(1920, 1915, 6), norm.cdf(1940, 1915, 6) - norm.cdf(1920, 1915, 6), 1 - norm.cdf(1940, 1915, 6)]
    assert decoded.probs[1].tolist() == pytest.approx(row)
    assert decode_outputs(outputs, "regress", EDGES, RANGE, sigma=4.0).sigma == 4.0
    empty = decode_outputs(np.zeros((0, 1)), "regress", EDGES, RANGE)
    assert empty.probs.shape == (0, 3) and empty.years.shape == (0,)


def test_year_interval_for_classifier_and_regressor():
    classified = decode_outputs(np.log([[1.0, 2.0, 1.0]]), "classify", EDGES, RANGE)
    # cdf 0, .25, .75, 1: 10% is 0.4 of bin 0 (1908), 90% is 0.6 of bin 2 (1952)
    assert year_interval(classified, 0, EDGES, RANGE) == pytest.approx((1908.0, 1952.0))
    assert year_interval(classified, 0, EDGES, RANGE, level=0.5) == pytest.approx((1920.0, 1940.0))
    regressed = decode_outputs(np.array([[0.25], [1.0], [0.0]]), "regress", EDGES, RANGE, sigma=6.0)
    half = Z80 * 6.0
    assert year_interval(regressed, 0, EDGES, RANGE) == pytest.approx((1915 - half, 1915 + half))
    assert year_interval(regressed, 1, EDGES, RANGE) == pytest.approx((1960 - half, 1960.0))
    assert year_interval(regressed, 2, EDGES, RANGE) == pytest.approx((1900.0, 1900 + half))
    assert year_interval(regressed, 0, EDGES, RANGE, level=0.5) == pytest.approx((1915 - 0.6744897501960817 * 6,
                                                                                  1915 + 0.6744897501960817 * 6))


def test_centres_expected_year_and_bins():
    assert bin_centres([1860, 1900, 1925]).tolist() == [1880.0, 1912.5]
    assert expected_year(np.array([[0.0, 1.0], [0.5, 0.5]]), [1860, 1900, 1925]).tolist() == [1912.5, 1896.25]
    assert year_to_bin([1899.99, 1900, 1924.99, 1925, 1850], [1860, 1900, 1925]).tolist() == [0, 1, 1, 1, 0]


@pytest.mark.parametrize(("probs", "q", "year"), [
    ([0.0, 1.0, 0.0], 0.1, 1922.0),  # 0.1 of bin 1
    ([0.0, 2.0, 0.0], 0.1, 1922.0),  # not normalised: normalised first
    ([0.0, 1.0, 0.0], 0.0, 1910.0),  # q = 0 lands in the empty bin 0: its middle
    ([0.0, 1.0, 0.0], 1.0, 1940.0),
    ([0.5, 0.0, 0.5], 0.5, 1920.0),  # the end of bin 0
    ([0.25, 0.5, 0.25], 0.5, 1930.0),
    ([0.2, 0.3, 0.5], 0.35, 1930.0),  # (0.35 - 0.2) / 0.3 of bin 1
    ([0.2, 0.3, 0.5], 0.75, 1950.0),  # (0.75 - 0.5) / 0.5 of bin 2
])
def test_quantile_year(probs, q, year):
    assert quantile_year(np.array(probs), EDGES, q) == pytest.approx(year)


def test_interval_is_central():
    assert interval(np.array([0.2, 0.3, 0.5]), EDGES, 0.6) == pytest.approx((1900 + 20 * 0.2 / 0.2 * 0.5 + 10,
                                                                              1940 + 20 * 0.3 / 0.5))
    assert interval(np.array([0.2, 0.3, 0.5]), EDGES) == pytest.approx((1910.0, 1956.0))


def test_gaussian_bin_probs_against_scipy():
    got = gaussian_bin_probs(1925.0, 8.0, EDGES)
    assert got.tolist() == pytest.approx([norm.cdf(1920, 1925, 8), norm.cdf(1940, 1925, 8) - norm.cdf(1920, 1925, 8),
                                          norm.sf(1940, 1925, 8)])
    assert gaussian_bin_probs(1925.0, 0.0, EDGES).tolist() == [0.0, 1.0, 0.0]  # sigma 0: all in the year's bin
    assert gaussian_bin_probs(1800.0, 5.0, EDGES).tolist() == pytest.approx([1.0, 0.0, 0.0])  # tail folded in


def test_soft_targets_by_hand():
    # bin 0 of 3, sigma 1: weights 1, exp(-1/2), exp(-2)
    w = [1.0, math.exp(-0.5), math.exp(-2.0)]
    assert soft_targets(np.array([0]), 3, 1.0)[0].tolist() == pytest.approx([x / sum(w) for x in w])
    # bin 2 of 4, sigma 2: exp(-4/8), exp(-1/8), 1, exp(-1/8)
    w = [math.exp(-0.5), math.exp(-0.125), 1.0, math.exp(-0.125)]
    assert soft_targets(np.array([2]), 4, 2.0)[0].tolist() == pytest.approx([x / sum(w) for x in w])


def test_year_normalisation_round_trip():
    assert normalise_year(np.array([1900.0, 1915.0, 1960.0]), RANGE).tolist() == [0.0, 0.25, 1.0]
    assert denormalise_year(np.array([0.0, 0.25, 1.0]), RANGE).tolist() == [1900.0, 1915.0, 1960.0]


def test_float32_model_outputs_are_decoded_in_float64():
    logits = np.array([[0.0, math.log(3.0)]], dtype=np.float32)
    widened = math.exp(float(np.float32(math.log(3.0))))  # the float32 logit, exponentiated in float64
    assert softmax(logits).dtype == np.float64
    assert softmax(logits)[0, 1] == pytest.approx(widened / (1.0 + widened), abs=1e-13)  # float32 is off by 4e-9
    out = np.array([[0.3]], dtype=np.float32)
    # the float32 output, widened exactly, times the 60-year range: float32 arithmetic would round the year
    years = decode_outputs(out, "regress", EDGES, RANGE).years
    assert years.dtype == np.float64 and float(years[0]) == 1900 + float(np.float32(0.3)) * 60  # float32: 1918.0
    probs = np.array([0.1, 0.2, 0.7], dtype=np.float32)
    exact = [float(x) for x in probs]  # the float32 values, in float64
    cdf1 = exact[0] / sum(exact)
    assert quantile_year(probs, EDGES, 0.05) == 1900 + 0.05 / cdf1 * 20


def test_the_last_quantile_is_the_last_edge_even_when_the_cdf_falls_short_of_one():
    edges = list(range(1900, 2001, 10))
    probs = np.full(10, 0.1)
    assert np.cumsum(probs)[-1] < 1.0  # 0.9999999999999999
    assert quantile_year(probs, edges, 1.0) == 2000.0
    assert quantile_year(probs, edges, 0.0) == 1900.0
    # a nearly empty last bin: rounding puts q = 1 a hair past its end (inside = 1.00000008); never past the edge
    assert quantile_year(np.array([0.1, 0.9, 1e-9]), EDGES, 1.0) == 1960.0
