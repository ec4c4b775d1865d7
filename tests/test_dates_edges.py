"""db.dates at the edges of its rules: impossible days and months, the plausible-year bounds, two-digit range
ends, decades and centuries that do not exist, uncertainty on day and month dates, spacing, undated notes."""

import pytest

from db.dates import PHOTO_YEAR_MAX, PHOTO_YEAR_MIN, DateEstimate, parse_date, says_undated

U = DateEstimate(None, None, None, "unknown")


def day(year: int) -> DateEstimate:
    return DateEstimate(year, year, year, "day")


CASES = [
    # numeric day/month/year: day 1..31, month 1..12
    ("1/1/1950", day(1950)), ("31/12/1950", day(1950)), ("0/5/1950", U), ("32/1/1950", U), ("5/13/1950", U),
    ("5/0/1950", U), ("29 / 04 / 1973", day(1973)),
    ("1950-01-01", day(1950)), ("1950-12-31", day(1950)), ("1950-13-01", U), ("1950-00-10", U),
    ("1950-12-32", U), ("1950-12-00", U),
    ("1 enero 1950", day(1950)), ("31 enero 1950", day(1950)), ("0 enero 1950", U), ("32 enero 1950", U),
    # month/year: month 1..12
    ("1/1950", DateEstimate(1950, 1950, 1950, "month")), ("12/1950", DateEstimate(1950, 1950, 1950, "month")),
    ("13/1950", U), ("0/1950", U),
    # plausible years: PHOTO_YEAR_MIN..PHOTO_YEAR_MAX (1826..2099)
    (str(PHOTO_YEAR_MIN), DateEstimate(1826, 1826, 1826, "year")), (str(PHOTO_YEAR_MIN - 1), U),
    (str(PHOTO_YEAR_MAX), DateEstimate(2099, 2099, 2099, "year")), ("1825-1830", U),
    # two-digit range ends: below the start's last two digits they roll into the next century; equal stays
    ("1950-50", DateEstimate(1950, 1950, 1950, "range")), ("1950-51", DateEstimate(1951, 1950, 1951, "range")),
    ("1950-13", DateEstimate(1982, 1950, 2013, "range")), ("2098-13", U),  # 2113 is past PHOTO_YEAR_MAX
    # ... but NN 01-12 is a month (EDTF), never a range's end
    ("1910-05", DateEstimate(1910, 1910, 1910, "month")), ("2098-01", DateEstimate(2098, 2098, 2098, "month")),
    # decades: only whole decades, only centuries that exist
    ("década de los 65", U), ("años cuarenta del siglo XIX", DateEstimate(1845, 1840, 1849, "decade")),
    ("años 40 del siglo XIX", DateEstimate(1845, 1840, 1849, "decade")), ("años cuarenta del siglo XV", U),
    ("años 40 del siglo XV", U),
    # a century part before photography is cut to its photographic years
    ("principios del siglo XIX", DateEstimate(1828, 1826, 1829, "century_part")),
    # uncertainty on any exact date
    ("enero 1951?", DateEstimate(1951, 1951, 1951, "uncertain")),
    ("[29/04/1973?]", DateEstimate(1973, 1973, 1973, "uncertain")),
    # spacing
    ("hacia  1930", DateEstimate(1930, 1925, 1935, "circa")), ("1955 c.", DateEstimate(1955, 1950, 1960, "circa")),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_edges(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "undated"), [
    ("s.d.", True), ("S/F", True), ("s. f.", True), ("Sin Fecha.", True), ("n.d.", True), ("1950", False),
    ("", False), (None, False), ("sin datos", False),
])
def test_says_undated(text, undated):
    assert says_undated(text) is undated
