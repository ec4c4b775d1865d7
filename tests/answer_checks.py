"""One check for every answer a person can read (predict's rows, the API, the page, /records, suggestions).

`check_answer` recomputes, by hand, the bin that holds the year from the run's edges (a plain loop, not
modeling.answer.period_of) and the unsure rule from the interval's width.
"""

from __future__ import annotations

from modeling.answer import UNSURE_WIDTH_YEARS


def bin_holding(year: int, edges, labels) -> str:
    """The label of [edges[i], edges[i+1]) holding `year`, years before or after the bins in the end bins."""
    for i, label in enumerate(labels):
        if year < edges[i + 1]:
            return label
    return labels[-1]


def check_answer(year: int, low: int, high: int, period: str, edges, labels, unsure: bool | None = None) -> None:
    """The year lies within the interval and in the period named; unsure exactly when the interval is too wide."""
    assert isinstance(year, int) and isinstance(low, int) and isinstance(high, int), (year, low, high)
    assert low <= year <= high, f"year {year} outside its interval {low}-{high}"
    assert period == bin_holding(year, edges, labels), f"year {year} is not in the period shown, {period}"
    if unsure is not None:
        assert unsure == (high - low > UNSURE_WIDTH_YEARS), f"unsure={unsure} for a {high - low}-year interval"


def check_answer_dict(answer: dict, edges, labels) -> None:
    """check_answer on Answer.to_dict()'s form (predict --format json, the API)."""
    check_answer(answer["year"], answer["low"], answer["high"], answer["period"], edges, labels, answer["unsure"])


def check_top(top, period: str, labels, leads: bool = False) -> None:
    """Top periods are real bins, most probable first, probabilities that add up to at most 1; `leads`: the period
    the answer names comes first (a fused answer's top comes from its own interval, so it never disagrees)."""
    assert top, "no top periods"
    pairs = [(entry["bin"], entry["probability"]) if isinstance(entry, dict) else tuple(entry) for entry in top]
    assert all(label in labels for label, _ in pairs), pairs
    chances = [p for _, p in pairs]
    assert all(0 <= p <= 1 for p in chances) and chances == sorted(chances, reverse=True), pairs
    assert sum(chances) <= 1.0001, pairs
    if leads:
        assert pairs[0][0] == period, f"the most probable period {pairs[0][0]} is not the answer's {period}"
