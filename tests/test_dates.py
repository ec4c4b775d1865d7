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
