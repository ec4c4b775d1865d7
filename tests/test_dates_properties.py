"""Property-based tests of db.dates.parse_date (hypothesis): it never raises, and what it returns is coherent.

The golden table in test_dates.py pins what each catalogue phrase means; these throw arbitrary
text and phrase-shaped token soup at the parser, and check plain years and ranges against
the arithmetic done here by hand.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from db.dates import PHOTO_YEAR_MAX, PHOTO_YEAR_MIN, PRECISIONS, DateEstimate, parse_date

FAST = settings(max_examples=300, deadline=None)

# Words and marks archivists (and EDTF) write around dates, and numbers of every width, mixed at random.
TOKENS = st.one_of(
    st.sampled_from([
        "hacia", "h.", "ca.", "c.", "circa", "aprox.", "sobre", "alrededor de", "años", "anos", "de", "los", "del",
        "década", "siglo", "s.", "xviii", "xix", "xx", "xxi", "xvi", "principios", "mediados", "finales",
        "primera mitad", "segunda mitad", "antes de", "después de", "posterior a", "enero", "sept.", "dic",
        "primavera", "verano", "entre", "y", "a", "al", "s.f.", "S/F", "sin fecha", "?", "¿", "[", "]", "(", ")",
        "-", "/", ".", ",", "'s", "s", "x", "veinte", "cincuenta",
        "~", "%", "X", "XX", "..", "{", "}", "T", ":", "Z", "+",  # EDTF and ISO 8601 marks
    ]),
    st.integers(0, 99).map(lambda n: f"{n:02d}"),
    st.integers(0, 9999).map(str),
    st.integers(1790, 2110).map(str),
)
PHRASES = st.builds(
    lambda tokens, joiner: joiner.join(tokens),
    st.lists(TOKENS, max_size=6),
    st.sampled_from([" ", "", "-", "/"]),
)


def check_coherent(estimate: DateEstimate) -> None:
    assert isinstance(estimate, DateEstimate)
    assert estimate.precision in PRECISIONS
    bounds = [y for y in (estimate.year_min, estimate.year_max) if y is not None]
    assert all(PHOTO_YEAR_MIN <= y <= PHOTO_YEAR_MAX for y in bounds), estimate
    if estimate.year_min is not None and estimate.year_max is not None:
        assert estimate.year_min <= estimate.year_max, estimate
    if estimate.year is not None:
        assert estimate.year_min is not None and estimate.year_max is not None, estimate
        assert estimate.year_min <= estimate.year <= estimate.year_max, estimate
    if estimate.precision == "unknown":
        assert estimate == DateEstimate(None, None, None, "unknown")


@FAST
@given(st.text(max_size=60))
@example("\x00")
@example("hacia 1826")
@example("siglo xviii")
@example("1999-00")
def test_any_text_parses_without_raising_into_a_coherent_estimate(text):
    check_coherent(parse_date(text))


@FAST
@given(PHRASES)
def test_phrase_shaped_text_parses_into_a_coherent_estimate(text):
    check_coherent(parse_date(text))


@FAST
@given(st.integers(-100, 10_000))
def test_a_plain_year_is_itself_inside_the_photographic_window_and_unknown_outside(year):
    expected = DateEstimate(year, year, year, "year") if PHOTO_YEAR_MIN <= year <= PHOTO_YEAR_MAX else None
    estimate = parse_date(str(year))
    assert estimate == (expected or DateEstimate(None, None, None, "unknown"))


@FAST
@given(st.integers(PHOTO_YEAR_MIN, PHOTO_YEAR_MAX), st.integers(PHOTO_YEAR_MIN, PHOTO_YEAR_MAX),
       st.sampled_from(["{a}-{b}", "{a}/{b}", "entre {a} y {b}", "de {a} a {b}"]))
def test_a_range_of_two_full_years_spans_them_with_the_middle_rounded_up(a, b, form):
    low, high = min(a, b), max(a, b)
    assert parse_date(form.format(a=a, b=b)) == DateEstimate((low + high + 1) // 2, low, high, "range")
