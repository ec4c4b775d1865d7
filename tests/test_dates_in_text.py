"""db.dates.find_dates: the date phrases inside a title or description, read by parse_date (a table of cases)."""

import pytest

from db.dates import find_dates

CASES = [
    ("Fiesta mayor, 1932", [("1932", 1932, 1932)]),
    ("Vista de la plaza en los años 50", [("los años 50", 1950, 1959)]),
    ("Feria hacia 1940 en Toledo", [("hacia 1940", 1935, 1945)]),
    ("Obras del puerto 1915-1920", [("1915-1920", 1915, 1920)]),
    ("Obras de 1915 a 1920", [("1915 a 1920", 1915, 1920)]),
    ("Harbour works between 1915 and 1920", [("between 1915 and 1920", 1915, 1920)]),
    ("Street scene, the 1930s", [("1930s", 1930, 1939)]),
    ("Boda el 3 de mayo de 1950", [("3 de mayo de 1950", 1950, 1950)]),
    ("Inauguración 12/05/1951", [("12/05/1951", 1951, 1951)]),
    ("Tranvía, principios del siglo XX", [("principios del siglo XX", 1900, 1929)]),
    ("Retrato c. 1890", [("c. 1890", 1885, 1895)]),
    ("about 1945, a farm", [("about 1945", 1940, 1950)]),
    ("Riada 1930-35 y otra en 1940", [("1930-35", 1930, 1935), ("1940", 1940, 1940)]),
    ("Década de los 40", [("Década de los 40", 1940, 1949)]),
    # no dates: catalogue numbers, counts, years out of photography's range
    ("LC-USF33-T01-002683", []),
    ("General caption number 26, 1500 people", []),
    ("Copia de un grabado de 1750", []),
    ("", []),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_find_dates_reads_the_phrases_in_free_text(text, expected):
    found = find_dates(text)
    assert [(f.phrase, f.estimate.year_min, f.estimate.year_max) for f in found] == expected
    for f in found:  # offsets point into the text as written (accents and all)
        assert text[f.start:f.end] == f.phrase


def test_open_bounds_are_found_with_their_one_side():
    (before,) = find_dates("Derribado antes de 1930")
    assert (before.estimate.year, before.estimate.year_min, before.estimate.year_max) == (None, None, 1929)
    (after,) = find_dates("built after 1950")
    assert (after.estimate.year_min, after.estimate.year_max) == (1951, None)
