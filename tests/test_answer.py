"""modeling/answer.py: the one Answer every output shows (year in interval, period holding the year, unsure by width)."""

import pytest

from modeling.answer import UNSURE_WIDTH_YEARS, Evidence, make_answer, period_of

EDGES = (1860, 1880, 1900, 1920)
LABELS = ("1860-1879", "1880-1899", "1900-1919")


@pytest.mark.parametrize(("year", "label"), [(1860, "1860-1879"), (1879.4, "1860-1879"), (1879.5, "1880-1899"),
                                             (1880, "1880-1899"), (1919.9, "1900-1919"), (1800, "1860-1879"),
                                             (2000, "1900-1919")])
def test_period_of_edges(year, label):
    assert period_of(round(year), EDGES, LABELS) == label


def test_year_is_kept_inside_its_interval_and_names_its_period():
    # a regressor's clipped year can sit outside a quantile interval; the answer moves it to the nearest end
    answer = make_answer(1878.0, 1881.2, 1899.0, 0.8, edges=EDGES, labels=LABELS, sources=("picture",))
    assert (answer.low, answer.year, answer.high) == (1881, 1881, 1899)
    assert answer.period == "1880-1899"


def test_rounding_goes_outwards_and_the_period_follows_the_rounded_year():
    answer = make_answer(1879.6, 1870.4, 1890.2, 0.8, edges=EDGES, labels=LABELS, sources=("text",))
    assert (answer.low, answer.year, answer.high) == (1870, 1880, 1891)
    assert answer.period == "1880-1899"  # 1879.6 rounds to 1880: the period holds what is shown


def test_unsure_follows_the_width_in_years_only():
    narrow = make_answer(1900, 1900 - UNSURE_WIDTH_YEARS / 2, 1900 + UNSURE_WIDTH_YEARS / 2, 0.8, edges=EDGES,
                         labels=LABELS, sources=("picture",))
    wide = make_answer(1900, 1880, 1880 + UNSURE_WIDTH_YEARS + 1, 0.8, edges=EDGES, labels=LABELS, sources=("picture",))
    assert (narrow.unsure, wide.unsure) == (False, True)


def test_to_dict_carries_evidence_in_both_languages():
    said = Evidence("text", "el título dice 1932", "the title says 1932")
    answer = make_answer(1932, 1931, 1933, 0.8, edges=EDGES, labels=LABELS, sources=("text",), evidence=(said,),
                         top=(("1900-1919", 0.91234),))
    data = answer.to_dict()
    assert data["evidence"] == [{"source": "text", "es": "el título dice 1932", "en": "the title says 1932"}]
    assert data["top"] == [{"bin": "1900-1919", "probability": 0.9123}]
    assert said.said("es").startswith("el título") and said.said("en").startswith("the title")
