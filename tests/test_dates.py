import pytest

from db.dates import CIRCA_SPAN, DateEstimate, parse_date

U = DateEstimate(None, None, None, "unknown")

CASES = [
    ("1925", DateEstimate(1925, 1925, 1925, "year")),
    (" 1925 ", DateEstimate(1925, 1925, 1925, "year")),
    ("1925.", DateEstimate(1925, 1925, 1925, "year")),
    ("hacia 1930", DateEstimate(1930, 1930 - CIRCA_SPAN, 1930 + CIRCA_SPAN, "circa")),
    ("Hacia el 1930", DateEstimate(1930, 1925, 1935, "circa")),
    ("h. 1930", DateEstimate(1930, 1925, 1935, "circa")),
    ("h.1930", DateEstimate(1930, 1925, 1935, "circa")),
    ("ca. 1900", DateEstimate(1900, 1895, 1905, "circa")),
    ("c. 1900", DateEstimate(1900, 1895, 1905, "circa")),
    ("circa 1900", DateEstimate(1900, 1895, 1905, "circa")),
    ("1925 aprox.", DateEstimate(1925, 1920, 1930, "circa")),
    ("1920-1930", DateEstimate(1925, 1920, 1930, "range")),
    ("1920/30", DateEstimate(1925, 1920, 1930, "range")),
    ("1920 - 1925", DateEstimate(1923, 1920, 1925, "range")),
    ("1920-30", DateEstimate(1925, 1920, 1930, "range")),
    ("entre 1920 y 1930", DateEstimate(1925, 1920, 1930, "range")),
    ("1930-1920", DateEstimate(1925, 1920, 1930, "range")),
    ("1998/02", DateEstimate(2000, 1998, 2002, "range")),
    ("años 50", DateEstimate(1955, 1950, 1959, "decade")),
    ("AÑOS 80", DateEstimate(1985, 1980, 1989, "decade")),
    ("Años cincuenta", DateEstimate(1955, 1950, 1959, "decade")),
    ("años 60 del siglo XIX", DateEstimate(1865, 1860, 1869, "decade")),
    ("década de 1960", DateEstimate(1965, 1960, 1969, "decade")),
    ("década de los 60", DateEstimate(1965, 1960, 1969, "decade")),
    ("1960s", DateEstimate(1965, 1960, 1969, "decade")),
    ("192?", DateEstimate(1925, 1920, 1929, "decade")),
    ("principios del siglo XX", DateEstimate(1915, 1900, 1929, "century_part")),
    ("finales del s. XIX", DateEstimate(1885, 1870, 1899, "century_part")),
    ("mediados del siglo XX", DateEstimate(1955, 1940, 1969, "century_part")),
    ("siglo XIX", DateEstimate(1863, 1826, 1899, "century")),
    ("[1915?]", DateEstimate(1915, 1915, 1915, "uncertain")),
    ("1915?", DateEstimate(1915, 1915, 1915, "uncertain")),
    ("¿1915?", DateEstimate(1915, 1915, 1915, "uncertain")),
    ("[1915]", DateEstimate(1915, 1915, 1915, "year")),
    ("29 ABRIL 1973", DateEstimate(1973, 1973, 1973, "day")),
    ("29 de abril de 1973", DateEstimate(1973, 1973, 1973, "day")),
    ("29/04/1973", DateEstimate(1973, 1973, 1973, "day")),
    ("1973-04-29", DateEstimate(1973, 1973, 1973, "day")),
    ("enero 1962", DateEstimate(1962, 1962, 1962, "month")),
    ("Enero de 1962", DateEstimate(1962, 1962, 1962, "month")),
    ("sept. 1962", DateEstimate(1962, 1962, 1962, "month")),
    ("verano de 1955", DateEstimate(1955, 1955, 1955, "year")),
    ("antes de 1930", DateEstimate(None, None, 1929, "before")),
    ("posterior a 1950", DateEstimate(None, 1951, None, "after")),
    ("s.f.", U),
    ("s.d.", U),
    ("S/F", U),
    ("sin fecha", U),
    ("Desconocida", U),
    ("", U),
    (None, U),
    ("asdf", U),
    ("Foto 1234", U),
    ("1200", U),
    ("3025", U),
    ("13/13/1970", U),
    ("32 abril 1970", U),
    ("1920/5", U),
    ("siglo XV", U),
    ("????", U),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse_date_table(text, expected):
    assert parse_date(text) == expected


def test_table_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("text", [c[0] for c in CASES])
def test_estimate_sits_inside_its_range(text):
    est = parse_date(text)
    if est.year is not None:
        assert est.year_min <= est.year <= est.year_max
    else:
        assert est.precision in ("unknown", "before", "after")


# EDTF levels 0 and 1 (https://www.loc.gov/standards/datetime/), as Dublin Core dc:date carries them.
EDTF_CASES = [
    # level 0
    ("1985", DateEstimate(1985, 1985, 1985, "year")),
    ("1985-04", DateEstimate(1985, 1985, 1985, "month")),
    ("1985-04-12", DateEstimate(1985, 1985, 1985, "day")),
    ("1985-04-12T23:20:30", DateEstimate(1985, 1985, 1985, "day")),
    ("1985-04-12T23:20:30Z", DateEstimate(1985, 1985, 1985, "day")),
    ("1985-04-12T23:20:30+04:00", DateEstimate(1985, 1985, 1985, "day")),
    ("1964/2008", DateEstimate(1986, 1964, 2008, "range")),
    ("2004-06/2006-08", DateEstimate(2005, 2004, 2006, "range")),
    ("1920-02-01/1925-02-08", DateEstimate(1923, 1920, 1925, "range")),
    ("1920/1930", DateEstimate(1925, 1920, 1930, "range")),
    # level 1: qualifiers
    ("1950?", DateEstimate(1950, 1950, 1950, "uncertain")),
    ("1950~", DateEstimate(1950, 1950 - CIRCA_SPAN, 1950 + CIRCA_SPAN, "circa")),
    ("1950%", DateEstimate(1950, 1945, 1955, "circa")),
    ("1950-05~", DateEstimate(1950, 1950, 1950, "uncertain")),
    ("1950-05-03?", DateEstimate(1950, 1950, 1950, "uncertain")),
    # level 1: unspecified digits
    ("195X", DateEstimate(1955, 1950, 1959, "decade")),
    ("19XX", DateEstimate(1950, 1900, 1999, "century")),
    ("18XX", DateEstimate(1863, 1826, 1899, "century")),
    ("1950-XX", DateEstimate(1950, 1950, 1950, "year")),
    ("1950-XX-XX", DateEstimate(1950, 1950, 1950, "year")),
    ("1950-05-XX", DateEstimate(1950, 1950, 1950, "month")),
    # level 1: seasons, and the archivist's short range they could be mistaken for
    ("1950-21", DateEstimate(1950, 1950, 1950, "year")),
    ("1950-24", DateEstimate(1950, 1950, 1950, "year")),
    ("1920-24", DateEstimate(1922, 1920, 1924, "range")),
    # level 1: open and unknown ends (the end year is inside the interval)
    ("../1950", DateEstimate(None, None, 1950, "before")),
    ("/1950", DateEstimate(None, None, 1950, "before")),
    ("1950/..", DateEstimate(None, 1950, None, "after")),
    ("1950/", DateEstimate(None, 1950, None, "after")),
    # level 2 sets that catalogues use for "one of these years"
    ("[1920..1930]", DateEstimate(1925, 1920, 1930, "range")),
    ("{1920, 1925}", DateEstimate(1923, 1920, 1925, "range")),
    ("[1667, 1668]", U),
    # outside what EDTF levels 0-1 or photography allow
    ("Y170000002", U),
    ("-1985", U),  # 1986 BC
    ("1985-13", DateEstimate(1999, 1985, 2013, "range")),  # not a month: the archivist's "1985-(20)13"
    ("1985-04-32", U),
]


@pytest.mark.parametrize(("text", "expected"), EDTF_CASES)
def test_parse_date_edtf_table(text, expected):
    assert parse_date(text) == expected


BEST_CASES = [
    (["1950-05-03", "1950"], "1950-05-03", 1950),  # the day beats the year
    (["años 50", "1953"], "1953", 1953),
    (["hacia 1930", "1930~"], "hacia 1930", 1930),  # as wide: the first wins
    (["", "  ", "s.f.", "195X"], "195X", 1955),
    (["ilegible", "antes de 1930"], "antes de 1930", None),  # an open bound says something
    (["ilegible", "ver reverso"], "ilegible", None),  # nothing understood: keep what the archive wrote
    ([None, ""], None, None),
]


@pytest.mark.parametrize(("texts", "chosen", "year"), BEST_CASES)
def test_best_date_picks_the_value_that_parses_best(texts, chosen, year):
    from db.dates import best_date

    text, estimate = best_date(texts)
    assert (text, estimate.year) == (chosen, year)
