"""modeling/evidence/fusion: precision-weighted fusion of calibrated sources, conformal intervals per combination."""

import numpy as np
import pytest

from modeling.evidence.base import Estimates
from modeling.evidence.fusion import (
    POOLED,
    Fusion,
    SourceCalibration,
    conformal_quantile,
    cross_fit,
    fit_fusion,
    normalised_scores,
)


def test_conformal_quantile_is_the_ceil_n_plus_one_level_th_score():
    assert conformal_quantile(np.arange(1.0, 10.0), 0.8) == 8.0  # ceil(10 * 0.8) = 8th of 9
    assert conformal_quantile(np.array([3.0, 1.0, 2.0]), 0.8) == 3.0  # ceil(4 * 0.8) = 4 > 3: the largest
    assert normalised_scores(np.array([1950, 1950]), np.array([1950.4, 1955.0]), np.array([2.0, 2.0])).tolist() == [
        0.0, 2.0]


def test_fused_year_is_the_precision_weighted_mean_of_the_prior_and_the_calibrated_sources():
    fusion = Fusion(("picture", "holder"), {"picture": SourceCalibration(10.0, 1.0, 100.0),
                                            "holder": SourceCalibration(0.0, 1.0, 1.0)},
                    prior_mean=1950.0, prior_var=400.0, quantiles={POOLED: 1.0, "picture": 2.0}, level=0.8,
                    year_range=(1900, 2000))
    estimates = {"picture": Estimates(np.array([1930.0, 1930.0]), np.ones(2), np.array([True, True])),
                 "holder": Estimates(np.array([1920.0, 0.0]), np.array([25.0, 1.0]), np.array([True, False]))}
    fused = fusion.apply(estimates)
    # by hand: each source's calibrated precision with the prior's (1/400) divided out: picture 1/100 (its year
    # 1930 + 10 = 1940), holder 1/25; a record with one source gets exactly that source's calibrated answer
    first = (1940 / 100 + 1920 / 25 - 1950 / 400) / (1 / 100 + 1 / 25 - 1 / 400)
    assert fused.year.tolist() == pytest.approx([first, 1940.0])
    assert fused.sd.tolist() == pytest.approx([(1 / 100 + 1 / 25 - 1 / 400) ** -0.5, 10.0])
    assert fused.combination == ("picture+holder", "picture")
    # "picture" has its own quantile (2.0); "picture+holder" falls back to the pooled one (1.0)
    assert fused.high[1] - fused.year[1] == pytest.approx(2.0 * fused.sd[1])
    assert fused.high[0] - fused.year[0] == pytest.approx(1.0 * fused.sd[0])


def _synthetic(n: int, seed: int):
    """True years; a noisy picture (sd 12) everywhere, a good holder (sd 4) on 60%, an exact date on 20%."""
    rng = np.random.default_rng(seed)
    years = rng.integers(1880, 2000, n).astype(float)
    picture = Estimates(0.6 * years + 0.4 * 1940 + rng.normal(0, 12, n), np.ones(n), np.ones(n, dtype=bool))
    has_holder = rng.random(n) < 0.6
    holder = Estimates(years + rng.normal(0, 4, n), np.ones(n), has_holder)
    has_date = rng.random(n) < 0.2
    stated = Estimates(years + rng.integers(-1, 2, n), np.ones(n), has_date)
    return years, {"picture": picture, "holder": holder, "explicit_date": stated}


def test_fusion_beats_every_source_and_its_80_percent_intervals_cover_about_80_percent():
    years, estimates = _synthetic(2000, seed=0)
    folds = np.arange(len(years)) % 5
    fused = cross_fit(years, estimates, ("picture", "holder", "explicit_date"), folds, 0.8, (1860, 2020))
    fused_mae = np.abs(fused.year - years).mean()
    for source in ("picture", "holder"):
        alone = cross_fit(years, estimates, (source,), folds, 0.8, (1860, 2020))
        assert fused_mae < np.abs(alone.year - years).mean()
    inside = (years >= np.floor(fused.low)) & (years <= np.ceil(fused.high))
    assert 0.75 <= inside.mean() <= 0.85
    for combo in set(fused.combination):  # per combination too, where it has enough records
        at = np.array(fused.combination) == combo
        if at.sum() >= 200:
            assert 0.72 <= inside[at].mean() <= 0.88, combo
    # a stated date narrows the interval
    width = fused.high - fused.low
    dated = estimates["explicit_date"].present
    assert np.median(width[dated]) < np.median(width[~dated]) / 3


def test_sources_that_know_nothing_add_nothing():
    """Three sources that say nothing about the year (catalogue fields unrelated to it) must not drag the
    picture's answers towards the mean year: the fusion is as good as the picture alone."""
    years, estimates = _synthetic(2000, seed=4)
    rng = np.random.default_rng(5)
    noise = {f"{name}": Estimates(rng.uniform(1880, 2000, 2000), np.ones(2000), np.ones(2000, dtype=bool))
             for name in ("text", "holder", "place")}
    folds = np.arange(2000) % 5
    picture_only = cross_fit(years, estimates, ("picture",), folds, 0.8, (1860, 2020))
    with_noise = cross_fit(years, {"picture": estimates["picture"], **noise}, ("picture", "text", "holder", "place"),
                           folds, 0.8, (1860, 2020))
    assert np.abs(with_noise.year - years).mean() < 1.02 * np.abs(picture_only.year - years).mean()


def test_the_recalibration_undoes_a_source_shrunk_towards_the_mean():
    years, estimates = _synthetic(1000, seed=1)
    fusion = fit_fusion(years, estimates, ("picture",), 0.8, (1860, 2020))
    cal = fusion.calibration["picture"]
    # least squares of y on x = 0.6 y + noise(12): slope 0.6 V / (0.36 V + 144), residual V - (0.6 V)^2 / (0.36 V + 144)
    v = 120**2 / 12  # years uniform over 1880-1999
    assert cal.slope == pytest.approx(0.6 * v / (0.36 * v + 144), rel=0.1) and cal.slope > 1.1
    assert cal.scale == pytest.approx(v - (0.6 * v) ** 2 / (0.36 * v + 144), rel=0.2)


def test_cross_fit_scores_each_fold_with_a_fusion_that_never_saw_it():
    """A fold whose holder is off by 50 years: fitted in-sample the holder would be distrusted everywhere;
    cross-fitted, the other folds (where the holder is right) trust it, so that fold's error stays ~50."""
    years, estimates = _synthetic(1000, seed=2)
    folds = np.arange(1000) % 5
    holder = estimates["holder"]
    shifted = Estimates(np.where(folds == 0, holder.year + 50, holder.year), holder.var, holder.present)
    both = {"picture": estimates["picture"], "holder": shifted}
    crossed = cross_fit(years, both, ("picture", "holder"), folds, 0.8, (1860, 2020))
    at = (folds == 0) & holder.present
    assert np.abs(crossed.year[at] - years[at]).mean() > 40


def test_a_record_no_source_speaks_for_gets_the_prior_and_says_so():
    years, estimates = _synthetic(500, seed=3)
    fusion = fit_fusion(years, estimates, ("picture", "holder", "explicit_date"), 0.8, (1860, 2020))
    nothing = {s: Estimates.absent(1) for s in estimates}
    fused = fusion.apply(nothing)
    assert fused.combination == ("none",)
    assert fused.year[0] == pytest.approx(years.mean())
    assert Fusion.from_json(fusion.to_json()) == fusion
