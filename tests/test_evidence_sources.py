"""modeling/evidence sources: text (dates masked), explicit dates, holder/place priors, picture years."""

import numpy as np
import pytest

from modeling.evidence.explicit import explicit_estimates, stated_date
from modeling.evidence.groups import GroupPrior, group_key
from modeling.evidence.picture import picture_estimates, picture_years
from modeling.evidence.text import DATE_MASK, TextModel, mask_dates, record_text

VOCABULARY = {1905: ["tranvía", "carruaje", "gaslight", "corsé"], 1955: ["vespa", "seiscientos", "television", "boda"],
              1995: ["ordenador", "mobile", "euro", "internet"]}


def _corpus(n: int, seed: int, with_words: bool = True) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, years = [], []
    for _ in range(n):
        era = int(rng.choice(list(VOCABULARY)))
        year = era + int(rng.integers(-5, 6))
        words = " ".join(rng.choice(VOCABULARY[era], 3)) if with_words else "fotografía"
        texts.append(record_text(f"{words}, {year}", f"tomada hacia {year}"))
        years.append(year)
    return texts, np.array(years, dtype=float)


def test_mask_dates_removes_every_year_but_keeps_the_words():
    masked = mask_dates("Riada de 1930-35, hacia 1940, años 50, copia 1987")
    assert not any(ch.isdigit() for ch in masked.replace(DATE_MASK, ""))
    assert masked.startswith("Riada ") and "copia" in masked
    assert record_text(None, "  ") == "" and record_text("Boda", None) == "Boda"


def test_the_text_model_learns_vocabulary():
    texts, years = _corpus(600, seed=0)
    model = TextModel.fit(texts[:400], years[:400])
    est = model.estimate(texts[400:])
    assert est.present.all()
    mae = np.abs(est.year - years[400:]).mean()
    assert mae < 6.0, mae  # the eras are 50 years apart; the median year misses by ~30


def test_the_text_model_cannot_read_the_years_it_is_shown():
    """Texts whose only signal is the year: masked, they carry nothing, so the model says the mean year."""
    texts, years = _corpus(600, seed=1, with_words=False)
    model = TextModel.fit(texts[:400], years[:400])
    est = model.estimate(texts[400:])
    assert np.ptp(est.year) < 1.0
    assert abs(np.abs(est.year - years[400:]).mean() - np.abs(years[400:] - years[:400].mean()).mean()) < 2.0


def test_text_model_round_trips_through_npz_and_empty_texts_are_absent(tmp_path):
    texts, years = _corpus(120, seed=2)
    model = TextModel.fit(texts, years)
    model.save(tmp_path / "text.npz")
    again = TextModel.load(tmp_path / "text.npz")
    probe = texts[:5] + ["", mask_dates("1950")]
    a, b = model.estimate(probe), again.estimate(probe)
    np.testing.assert_allclose(a.year, b.year, atol=1e-3)
    assert a.present.tolist() == [True] * 5 + [False, False]


def test_the_narrowest_stated_date_wins_and_open_bounds_say_no_year():
    assert stated_date("Feria, años 50", "fotografiada en 1953").found.phrase == "1953"
    assert stated_date("Hacia 1940", "1935-1945").field == "title"  # a tie goes to the title
    assert stated_date("Derribado antes de 1930", None) is None
    est = explicit_estimates(["Boda, 1932", "Calle, años 50", "Sin fecha", None], [None, None, None, "c. 1890"])
    assert est.present.tolist() == [True, True, False, True]
    assert est.year[[0, 1, 3]].tolist() == [1932, 1955, 1890]
    assert est.var[0] == 1.0 and est.var[1] == pytest.approx(1 + 81 / 12) and est.var[3] == pytest.approx(1 + 100 / 12)


def test_a_holder_with_few_records_says_little_and_one_with_many_says_what_they_say():
    rng = np.random.default_rng(0)
    names, years = [], []
    for g in range(30):  # 30 studios, 20 photographs each, centred 1880..2025 every 5 years, spread +-3
        centre = 1880 + 5 * g
        names += [f"Foto {g}"] * 20
        years += list(centre + rng.integers(-3, 4, 20))
    names += ["Casa Nueva", "Casa Nueva"]
    years += [2030, 2030]
    years = np.array(years, dtype=float)
    prior = GroupPrior.fit(names, years)
    # hand computation of the shrinkage with the fitted variances
    stats = prior.stats("casa nueva")
    precision = 2 / prior.sigma2 + 1 / prior.tau2
    expected = (2 / prior.sigma2 * 2030 + prior.archive_mean / prior.tau2) / precision
    est = prior.estimate(["CASA  NUEVA", "Foto 3", "Unknown studio", None])
    assert stats.n == 2 and est.year[0] == pytest.approx(expected)
    assert est.var[0] == pytest.approx(prior.sigma2 + 1 / precision)
    assert abs(est.year[1] - years[60:80].mean()) < 0.5  # 20 records: the group's own mean
    assert est.present.tolist() == [True, True, False, False]
    assert 2 < prior.sigma2 < 6 and prior.tau2 > 1000  # within +-3 years; group means 145 years apart


def test_two_records_are_pulled_to_the_archive_when_holders_say_little():
    """Twenty holders whose records spread over decades around the same years: two records of a new one at 2000
    move its estimate less than half-way from the archive's mean."""
    rng = np.random.default_rng(1)
    names = [f"H{g}" for g in range(20) for _ in range(30)] + ["C", "C"]
    years = np.concatenate([1950 + rng.normal(0, 2, 20).repeat(30) + rng.normal(0, 20, 600), [2000.0, 2000.0]])
    prior = GroupPrior.fit(names, years)
    c = prior.estimate(["C"]).year[0]
    assert abs(c - prior.archive_mean) < abs(2000 - prior.archive_mean) / 2


def test_group_key_folds_case_accents_and_punctuation(tmp_path):
    assert group_key("Fotografía  RUIZ, Toledo.") == group_key("fotografia ruiz toledo") == "fotografia ruiz toledo"
    prior = GroupPrior.fit(["Ruiz", "Ruiz", "Pérez"], np.array([1900.0, 1910.0, 1950.0]))
    prior.save(tmp_path / "holder.json")
    assert GroupPrior.load(tmp_path / "holder.json") == prior


def test_picture_years_decode_regressor_outputs_and_mark_missing_pictures():
    est = picture_estimates(np.array([[0.25], [1.5]]), "regress", (1900, 1920, 1940), (1900, 1940))
    assert est.year.tolist() == [1910.0, 1940.0] and est.present.all()
    missing = picture_years([1950.0, None])
    assert missing.present.tolist() == [True, False] and missing.year[0] == 1950.0


def test_tf_idf_weights_match_scikit_learns_transformer():
    """The saved idf and the row weighting are TfidfTransformer(sublinear_tf=True)'s, checked against it."""
    from sklearn.feature_extraction.text import TfidfTransformer

    from modeling.evidence.text import _counts, _idf, _weigh

    texts = ["la feria de abril", "feria y toros en la plaza", "abril", "toros toros toros"]
    for counts in _counts(texts):
        reference = TfidfTransformer(sublinear_tf=True).fit(counts)
        np.testing.assert_allclose(_idf(counts), reference.idf_, rtol=1e-6)
        np.testing.assert_allclose(_weigh(counts, _idf(counts)).toarray(), reference.transform(counts).toarray(),
                                   rtol=1e-5, atol=1e-7)
