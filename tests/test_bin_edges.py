"""Every bin edge, both sides: dataset.bins (curation) and modeling.decode.year_to_bin (models) agree with tables.

Bin i is [edges[i], edges[i+1]): a bin's first year (1940 in 1940-1959) is in it, the year before is not.
"""

from __future__ import annotations

import pytest

from dataset.bins import bin_label, parse_bins
from modeling.decode import year_to_bin

TWENTY = (1860, 1880, 1900, 1920, 1940, 1960, 1980, 2000)
EXPLICIT = (1860, 1900, 1925, 1960, 1991)

# (year, bin) at every edge of the 20-year bins, written out; None = outside every bin.
TWENTY_TABLE = [
    (1859, None), (1860, 0), (1879, 0), (1880, 1), (1899, 1), (1900, 2), (1919, 2), (1920, 3),
    (1939, 3), (1940, 4), (1959, 4), (1960, 5), (1979, 5), (1980, 6), (1999, 6), (2000, None),
]
EXPLICIT_TABLE = [
    (1859, None), (1860, 0), (1899, 0), (1900, 1), (1924, 1), (1925, 2), (1959, 2), (1960, 3), (1990, 3),
    (1991, None),
]
# 10-year bins from 1860: every edge e = 1860 + 10 i, the year e - 1 in bin i - 1 and e in bin i.
TEN_TABLE = [(e - 1, i - 1 if i else None) for i, e in enumerate(range(1860, 2001, 10))] + [
    (e, i if e < 2000 else None) for i, e in enumerate(range(1860, 2001, 10))]
TABLES = [("20y", TWENTY_TABLE), ("1860,1900,1925,1960,1991", EXPLICIT_TABLE), ("10y", TEN_TABLE)]


def _bins(spec: str):
    return parse_bins(spec, origin=1860, year_max=1999)


@pytest.mark.parametrize(("spec", "table"), TABLES, ids=[t[0] for t in TABLES])
def test_curation_bins_at_every_edge(spec, table):
    bins = _bins(spec)
    assert [(year, bins.index_of(year)) for year, _ in table] == table


@pytest.mark.parametrize(("spec", "table"), TABLES, ids=[t[0] for t in TABLES])
def test_model_bins_at_every_edge(spec, table):
    """year_to_bin clips: a year before the first edge is in bin 0, one at or past the last edge in the last."""
    edges = _bins(spec).edges
    clipped = [(year, 0 if b is None and year < edges[0] else (len(edges) - 2 if b is None else b)) for year, b in table]
    assert list(zip([y for y, _ in table], year_to_bin([y for y, _ in table], edges).tolist(), strict=True)) == clipped
    # a hair below an edge is still the bin before it (model years are floats)
    inner = [e - 0.001 for e in edges[1:-1]]
    assert year_to_bin(inner, edges).tolist() == list(range(len(edges) - 2))


@pytest.mark.parametrize(("year_min", "year_max", "expected"), [
    (1940, 1959, 4), (1939, 1940, None), (1959, 1960, None), (1860, 1879, 0), (1980, 1999, 6), (1980, 2000, None),
    (1859, 1860, None), (1945, 1945, 4),
])
def test_a_date_range_sits_in_one_bin_only_inside_its_edges(year_min, year_max, expected):
    assert _bins("20y").index_of_range(year_min, year_max) == expected


@pytest.mark.parametrize(("year_max", "last_edge"), [
    (1979, 1980), (1980, 2000), (1999, 2000), (2000, 2020), (1860, 1880),
])
def test_the_last_bin_holds_the_latest_year(year_max, last_edge):
    bins = parse_bins("20y", origin=1860, year_max=year_max)
    assert bins.edges[-1] == last_edge and bins.edges[0] == 1860
    assert bins.index_of(year_max) == len(bins) - 1


@pytest.mark.parametrize(("start", "stop", "label"), [
    (1860, 1880, "1860-1879"), (1900, 1925, "1900-1924"), (1900, 1901, "1900"), (1900, 1902, "1900-1901")])
def test_labels_name_the_last_year_inside(start, stop, label):
    assert bin_label(start, stop) == label


@pytest.mark.parametrize(("spec", "origin", "year_max", "edges", "kept_spec"), [
    (" 20Y ", 1850, 1899, (1850, 1870, 1890, 1910), "20Y"),
    ("1860,1900", 0, 0, (1860, 1900), "1860,1900"),  # two edges: one bin is enough
    (" 1900,1925,1950 ", 1860, 1999, (1900, 1925, 1950), "1900,1925,1950"),  # edges ignore origin
])
def test_bins_keep_their_spec_and_first_edge(spec, origin, year_max, edges, kept_spec):
    bins = parse_bins(spec, origin=origin, year_max=year_max)
    assert (bins.edges, bins.spec, bins.origin) == (edges, kept_spec, edges[0])
    assert bins.to_json() == {"spec": kept_spec, "origin": edges[0], "edges": list(edges), "labels": list(bins.labels)}


@pytest.mark.parametrize(("spec", "year_max", "message"), [
    ("1900", 1999, "Cannot read bins '1900': expected decade, 10y, 20y, any Ny, or edges such as 1860,1900,1991."),
    ("1900,", 1999, "Cannot read bin edges '1900,': expected increasing years such as 1860,1900,1930,1960,1991."),
    ("1900,1900,1950", 1999, "Bin edges '1900,1900,1950' are not increasing: expected at least two increasing "
                             "years such as 1860,1900,1991."),
    ("20y", 1859, "Latest year 1859 is before the bins' origin 1860: pass an --origin at or before it."),
])
def test_bins_that_cannot_be_made_say_why(spec, year_max, message):
    from dataset.bins import BadBins

    with pytest.raises(BadBins) as info:
        parse_bins(spec, origin=1860, year_max=year_max)
    assert str(info.value) == message
