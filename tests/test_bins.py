"""Bins: the vocabulary modeling reads from export.json."""

import pytest

from dataset.bins import BadBins, Bins, parse_bins
from dataset.split import split_targets


@pytest.mark.parametrize("spec, origin, year_max, edges", [
    ("20y", 1860, 1989, (1860, 1880, 1900, 1920, 1940, 1960, 1980, 2000)),
    ("decade", 1860, 1880, (1860, 1870, 1880, 1890)),
    ("10y", 1900, 1909, (1900, 1910)),
    ("25y", 1850, 1900, (1850, 1875, 1900, 1925)),
    ("1860,1900,1930,1960,1991", 0, 0, (1860, 1900, 1930, 1960, 1991)),
])
def test_parse_bins(spec, origin, year_max, edges):
    assert parse_bins(spec, origin=origin, year_max=year_max).edges == edges


def test_labels_and_lookup():
    bins = parse_bins("20y", origin=1860, year_max=1999)
    assert bins.labels[0] == "1860-1879" and bins.labels[-1] == "1980-1999"
    assert (bins.index_of(1859), bins.index_of(1860), bins.index_of(1879), bins.index_of(1880), bins.index_of(2000)) == (
        None, 0, 0, 1, None)
    assert bins.index_of_range(1925, 1935) == 3 and bins.index_of_range(1875, 1885) is None
    assert Bins.from_json(bins.to_json()) == bins
    assert parse_bins("1y", origin=1900, year_max=1901).labels == ("1900", "1901")


@pytest.mark.parametrize("spec, message", [
    ("weekly", "Cannot read bins 'weekly'"),
    ("0y", "Cannot read bins '0y'"),
    ("1900,1890", "are not increasing"),
    ("1900,x", "Cannot read bin edges"),
    ("99999999999999999999y", r"^Bins '99999999999999999999y' are wider than 100 years: expected 1y to 100y"),
    ("9" * 5000 + "y", "are wider than 100 years"),
    ("101y", "are wider than 100 years"),
    ("1860,99999999999999999999", r"^Bin edge 99999999999999999999 is outside 1800..2100"),
    ("-5,1900", r"^Bin edge -5 is outside 1800..2100"),
])
def test_bad_specs(spec, message):
    with pytest.raises(BadBins, match=message):
        parse_bins(spec)


def test_split_targets_round_to_the_count():
    assert split_targets(14, (0.8, 0.1, 0.1)) == [11, 2, 1]
    assert split_targets(3, (0.8, 0.1, 0.1)) == [3, 0, 0]
    assert sum(split_targets(97, (0.7, 0.2, 0.1))) == 97


def test_origin_is_bounded_and_a_century_is_allowed():
    with pytest.raises(BadBins, match=r"^--origin -99999 is outside 1800..2100: expected years of photographs"):
        parse_bins("20y", origin=-99999, year_max=1950)
    assert parse_bins("100y", origin=1800, year_max=1999).edges == (1800, 1900, 2000)
    assert parse_bins("0020y", origin=1860, year_max=1880).edges == (1860, 1880, 1900)
