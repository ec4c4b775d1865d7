"""Free-text archive dates -> (year, year_min, year_max, precision).

Shared vocabulary: the crawler parses what it harvests and `cli.py import` parses CSV dates
with the same function. Pure: no I/O, no clock. What cannot be read gets year None and
precision "unknown", never a guess. A range's best estimate is its middle (rounded up).

Besides Spanish catalogue prose it reads EDTF levels 0 and 1 (the Library of Congress's
Extended Date/Time Format, common in Dublin Core dc:date): ``1950-05``, ``1950-05-03T10:00Z``,
``1920/1930``, ``2004-06/2006-08``, ``195X``, ``19XX``, ``1950-XX``, ``1950~`` (approximate:
circa), ``1950?`` (uncertain), ``1950%``, seasons ``1950-21``..``1950-24``, open intervals
``../1950`` and ``1950/..``, and the level-2 sets ``[1920..1930]`` and ``{1920, 1925}``.
``YYYY-NN`` with NN 01-12 is a month, as EDTF says; with NN 21-24 a season unless the
archivist's range reading ("1920-24") fits; any other NN abbreviates a range's end ("1920-30").

>>> parse_date("hacia 1930")
DateEstimate(year=1930, year_min=1925, year_max=1935, precision='circa')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Photography begins in 1826; anything outside this window is not a photograph's date.
PHOTO_YEAR_MIN = 1826
PHOTO_YEAR_MAX = 2099
# "hacia 1930" / "ca. 1930": archivists mean within about five years.
CIRCA_SPAN = 5

PRECISIONS = (
    "day", "month", "year", "uncertain", "circa", "range", "decade",
    "century_part", "century", "before", "after", "unknown",
)

MONTHS = {
    "enero": 1, "ene": 1, "febrero": 2, "feb": 2, "marzo": 3, "mar": 3, "abril": 4, "abr": 4,
    "mayo": 5, "may": 5, "junio": 6, "jun": 6, "julio": 7, "jul": 7, "agosto": 8, "ago": 8,
    "septiembre": 9, "setiembre": 9, "sept": 9, "sep": 9, "set": 9, "octubre": 10, "oct": 10,
    "noviembre": 11, "nov": 11, "diciembre": 12, "dic": 12,
}
DECADE_WORDS = {
    "diez": 10, "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50,
    "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
}
ROMAN_CENTURIES = {"xviii": 1700, "xix": 1800, "xx": 1900, "xxi": 2000}
# Part of a century -> (first year offset, last year offset) within it.
CENTURY_PARTS = {
    "principios": (0, 29), "comienzos": (0, 29), "inicios": (0, 29),
    "primera mitad": (0, 49), "mediados": (40, 69), "segunda mitad": (50, 99),
    "finales": (70, 99), "fines": (70, 99),
}
UNKNOWN_MARKERS = {"sf", "sd", "s f", "s d", "sin fecha", "sin datar", "desconocida", "desconocido", "nd", "n d"}


@dataclass(frozen=True)
class DateEstimate:
    year: int | None  # best single estimate; None when the text gives none
    year_min: int | None  # earliest year the text allows
    year_max: int | None  # latest year the text allows
    precision: str  # one of PRECISIONS


UNKNOWN = DateEstimate(None, None, None, "unknown")

YEAR = r"(1[89]\d\d|20\d\d)"
MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
CIRCA = r"(?:hacia(?: el)?|h\.?|ca\.?|c\.?|circa|aprox\.?|aproximadamente|sobre|alrededor de)"

_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("iso", re.compile(rf"^{YEAR}-(\d{{1,2}})-(\d{{1,2}})$")),
    ("iso_month", re.compile(rf"^{YEAR}-(0[1-9]|1[0-2])$")),
    ("edtf_season", re.compile(rf"^{YEAR}-(2[1-4])$")),
    ("edtf_interval", re.compile(rf"^{YEAR}(?:-\d\d|-xx){{0,2}}/{YEAR}(?:-\d\d|-xx){{0,2}}$")),
    ("edtf_open_start", re.compile(rf"^/{YEAR}(?:-\d\d|-xx){{0,2}}$")),
    ("edtf_open_end", re.compile(rf"^{YEAR}(?:-\d\d|-xx){{0,2}}/$")),
    ("edtf_month_blank", re.compile(rf"^{YEAR}-(0[1-9]|1[0-2])-xx$")),
    ("edtf_year_blank", re.compile(rf"^{YEAR}-xx(?:-xx)?$")),
    ("edtf_century_blank", re.compile(r"^(1[89]|20)xx$")),
    ("year_set", re.compile(rf"^{YEAR}(?:(?:\.\.|, ?){YEAR})+$")),
    ("dmy_num", re.compile(rf"^(\d{{1,2}})[/.-](\d{{1,2}})[/.-]{YEAR}$")),
    ("dmy_text", re.compile(rf"^(\d{{1,2}})(?: de)? {MONTH}(?: de)?,? {YEAR}$")),
    ("my_text", re.compile(rf"^{MONTH}(?: de)?,? {YEAR}$")),
    ("my_num", re.compile(rf"^(\d{{1,2}})[/-]{YEAR}$")),
    ("season", re.compile(rf"^(?:primavera|verano|otono|invierno)(?: de)? {YEAR}$")),
    ("year", re.compile(rf"^{YEAR}$")),
    ("circa_pre", re.compile(rf"^{CIRCA} ?{YEAR}$")),
    ("circa_post", re.compile(rf"^{YEAR},? ?(?:ca|c|aprox|aproximadamente|circa)\.?$")),
    ("range", re.compile(rf"^(?:entre |de )?{YEAR} ?(?:-|/|a|y|al) ?(\d{{4}}|\d{{2}})$")),
    ("decade_num", re.compile(r"^(?:los )?anos (?:de )?(?:los )?(\d{2}|1[89]\d0)(?: del (?:siglo|s\.?) ([xvi]+))?$")),
    ("decade_word", re.compile(r"^(?:los )?anos (" + "|".join(DECADE_WORDS) + r")(?: del (?:siglo|s\.?) ([xvi]+))?$")),
    ("decade_of", re.compile(r"^decada (?:de )?(?:los )?(?:anos )?(\d{2}|1[89]\d0|20\d0)$")),
    ("decade_s", re.compile(r"^(1[89]\d0|20\d0) ?'?s$")),
    ("decade_blank", re.compile(r"^(1[89]\d|20\d)(?:\?|-|x)$")),
    ("century_part", re.compile(r"^(" + "|".join(CENTURY_PARTS) + r") (?:del? )?(?:siglo|s\.?) ?([xvi]+)$")),
    ("century", re.compile(r"^(?:siglo|s\.?) ?([xvi]+)$")),
    ("before", re.compile(rf"^(?:antes de|anterior a|ante) {YEAR}$")),
    ("after", re.compile(rf"^(?:despues de|posterior a|post) {YEAR}$")),
]


# An ISO 8601 / EDTF time of day, dropped: a photograph's date needs no clock.
# AtoM prints each date with its event type: "hacia 1940 (Creación)", "1952 (Producción)".
_EVENT_TYPE = re.compile(
    r"\s*\((?:creacion|produccion|acumulacion|coleccion|publicacion|reproduccion|emision|distribucion|edicion"
    r"|creation|production|accumulation|collection|publication|reproduction|broadcasting|distribution)\)\s*$"
)
_TIME_OF_DAY = re.compile(r"(\d)t\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:z|[+-]\d\d(?::?\d\d)?)?\b")


def _normalise(text: str) -> tuple[str, bool, bool]:
    """Lowercase ASCII with single spaces, without brackets; whether a '?' was present (uncertain)
    and whether an EDTF '~' or '%' was (approximate)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    folded = _EVENT_TYPE.sub("", folded.strip())
    # "192?" is a decade with its last digit unknown, not an uncertain year.
    folded = re.sub(r"\b(1[89]\d|20\d)\?", r"\1x", folded)
    folded = _TIME_OF_DAY.sub(r"\1", folded)
    approximate = "~" in folded or "%" in folded
    uncertain = "?" in folded or "%" in folded
    folded = re.sub(r"[\[\]{}()¿?~%]", " ", folded)
    folded = re.sub(r"\s*([/-])\s*", r"\1", folded)
    folded = re.sub(r"\s+", " ", folded).strip(" .,;:")
    return folded, uncertain, approximate


def _plausible(*years: int) -> bool:
    return all(PHOTO_YEAR_MIN <= y <= PHOTO_YEAR_MAX for y in years)


def _span(year_min: int, year_max: int, precision: str) -> DateEstimate:
    if year_min > year_max:
        year_min, year_max = year_max, year_min
    return DateEstimate((year_min + year_max + 1) // 2, year_min, year_max, precision)


def _exact(year: int, precision: str) -> DateEstimate:
    return DateEstimate(year, year, year, precision)


def _century(roman: str) -> int | None:
    return ROMAN_CENTURIES.get(roman)


def _two_digit_decade(digits: str, roman: str | None) -> int | None:
    if len(digits) == 4:
        return int(digits)
    base = _century(roman) if roman else 1900
    return None if base is None else base + int(digits)


def _from_match(kind: str, m: re.Match) -> DateEstimate | None:
    g = m.groups()
    if kind == "iso":
        year, month, day = int(g[0]), int(g[1]), int(g[2])
        return _exact(year, "day") if 1 <= month <= 12 and 1 <= day <= 31 else None
    if kind == "dmy_num":
        day, month, year = int(g[0]), int(g[1]), int(g[2])
        return _exact(year, "day") if 1 <= month <= 12 and 1 <= day <= 31 else None
    if kind == "dmy_text":
        return _exact(int(g[2]), "day") if 1 <= int(g[0]) <= 31 else None
    if kind == "iso_month":
        return _exact(int(g[0]), "month")
    if kind == "edtf_season":
        year, season = int(g[0]), int(g[1])
        # "1920-24" is an archivist's range; "1950-21" (spring 1950) cannot be one that ends before it starts.
        return _span(year, (year // 100) * 100 + season, "range") if season >= year % 100 else _exact(year, "year")
    if kind == "edtf_interval":
        return _span(int(g[0]), int(g[1]), "range")
    if kind == "edtf_open_start":
        return DateEstimate(None, None, int(g[0]), "before")
    if kind == "edtf_open_end":
        return DateEstimate(None, int(g[0]), None, "after")
    if kind == "edtf_month_blank":
        return _exact(int(g[0]), "month")
    if kind == "edtf_year_blank":
        return _exact(int(g[0]), "year")
    if kind == "edtf_century_blank":
        base = int(g[0]) * 100
        return _span(base, base + 99, "century")
    if kind == "year_set":
        years = [int(y) for y in re.findall(YEAR, m.string)]
        return _span(min(years), max(years), "range")
    if kind == "my_text":
        return _exact(int(g[1]), "month")
    if kind == "my_num":
        return _exact(int(g[1]), "month") if 1 <= int(g[0]) <= 12 else None
    if kind in ("year", "season"):
        return _exact(int(g[0]), "year")
    if kind in ("circa_pre", "circa_post"):
        year = int(g[0])  # CIRCA does not capture: the year is the only group
        return DateEstimate(year, year - CIRCA_SPAN, year + CIRCA_SPAN, "circa")
    if kind == "range":
        start, end = int(g[0]), g[1]
        # "1920/30" abbreviates the second year; "1920/5" is too ambiguous to read.
        stop = int(end) if len(end) == 4 else (start // 100) * 100 + int(end)
        if len(end) == 2 and stop < start:
            stop += 100
        return _span(start, stop, "range") if _plausible(stop) else None
    if kind in ("decade_num", "decade_of"):
        roman = g[1] if kind == "decade_num" else None
        start = _two_digit_decade(g[0], roman)
        return _span(start, start + 9, "decade") if start is not None and start % 10 == 0 else None
    if kind == "decade_word":
        base = _century(g[1]) if g[1] else 1900
        return None if base is None else _span(base + DECADE_WORDS[g[0]], base + DECADE_WORDS[g[0]] + 9, "decade")
    if kind == "decade_s":
        start = int(g[0])
        return _span(start, start + 9, "decade")
    if kind == "decade_blank":
        start = int(g[0]) * 10
        return _span(start, start + 9, "decade")
    if kind == "century_part":
        base = _century(g[1])
        if base is None:
            return None
        first, last = CENTURY_PARTS[g[0]]
        return _span(base + first, base + last, "century_part")
    if kind == "century":
        base = _century(g[0])
        return None if base is None else _span(base, base + 99, "century")
    if kind == "before":
        return DateEstimate(None, None, int(g[0]) - 1, "before")
    if kind == "after":
        return DateEstimate(None, int(g[0]) + 1, None, "after")
    raise ValueError(f"unknown pattern kind {kind!r}")


def _is_undated_note(folded: str) -> bool:
    return folded.replace(".", "").replace("/", " ").strip() in UNKNOWN_MARKERS


def says_undated(text: str | None) -> bool:
    """True for an archive's own "no date" note (s.f., s.d., sin fecha, desconocida), as opposed to a date
    that cannot be read.

    >>> says_undated("S/F"), says_undated("MCMXX")
    (True, False)
    """
    folded, _, _ = _normalise(str(text or ""))
    return bool(folded) and _is_undated_note(folded)


# Archives repeat their date phrasings ("s.f.", "hacia 1950"), and a harvest reads each value up to four
# times (best_date, coverage, the date pipeline): the answers are immutable, so they are kept.
@lru_cache(maxsize=32768)  # a few MB: a 20,000-record harvest of the replica holds ~9,000 distinct values
def parse_date(text: str | None) -> DateEstimate:
    """Read an archive's free-text date.

    >>> parse_date("años 50")
    DateEstimate(year=1955, year_min=1950, year_max=1959, precision='decade')
    >>> parse_date("s.f.").precision
    'unknown'
    """
    if text is None:
        return UNKNOWN
    folded, uncertain, approximate = _normalise(str(text))
    if not folded or _is_undated_note(folded):
        return UNKNOWN
    for kind, pattern in _PATTERNS:
        m = pattern.match(folded)
        if not m:
            continue
        estimate = _from_match(kind, m)
        if estimate is None:
            return UNKNOWN
        if estimate.precision in ("century", "century_part") and estimate.year_min < PHOTO_YEAR_MIN:
            # "siglo XIX" can only mean its photographic years.
            estimate = _span(PHOTO_YEAR_MIN, estimate.year_max, estimate.precision)
        bounds = [y for y in (estimate.year_min, estimate.year_max) if y is not None]
        if not _plausible(*bounds):
            return UNKNOWN
        if approximate and estimate.precision == "year":
            # EDTF "1950~": about 1950, read as an archivist's "hacia 1950".
            return DateEstimate(estimate.year, estimate.year - CIRCA_SPAN, estimate.year + CIRCA_SPAN, "circa")
        if (uncertain or approximate) and estimate.precision in ("year", "month", "day"):
            return DateEstimate(estimate.year, estimate.year_min, estimate.year_max, "uncertain")
        return estimate
    return UNKNOWN


def _width(estimate: DateEstimate) -> float:
    if estimate.year is not None:
        return estimate.year_max - estimate.year_min
    # An open bound ("antes de 1930") says something, a year says more.
    return float("inf") if estimate.year_min is not None or estimate.year_max is not None else float("nan")


def best_date(texts: Iterable[str | None]) -> tuple[str | None, DateEstimate]:
    """The value among several (a record's repeated dc:date) that parses best, and its estimate.

    Best: a year with the narrowest range; then an open bound; ties go to the earlier value.
    When none is understood, the first non-empty text is kept (with UNKNOWN) so the record
    still says what the archive wrote.

    >>> best_date(["s.f.", "años 50", "1953~", "1953-05"])
    ('1953-05', DateEstimate(year=1953, year_min=1953, year_max=1953, precision='month'))
    """
    candidates = [t.strip() for t in texts if t and t.strip()]
    if not candidates:
        return None, UNKNOWN
    best_text, best, best_width = candidates[0], parse_date(candidates[0]), None
    for text in candidates:
        estimate = parse_date(text)
        width = _width(estimate)
        if width != width:  # nan: nothing understood
            continue
        if best_width is None or width < best_width:
            best_text, best, best_width = text, estimate, width
    return best_text, best


@dataclass(frozen=True)
class FoundDate:
    start: int  # offset of the phrase in the text searched
    end: int  # offset just past it
    phrase: str  # the phrase as written
    estimate: DateEstimate  # what parse_date reads in it


# English phrasings in free text, said the Spanish way parse_date reads ("circa" and "1930s" it reads as they are).
_ENGLISH = (("about ", "hacia "), ("around ", "hacia "), ("before ", "antes de "), ("after ", "despues de "),
            ("between ", "entre "), (" and ", " y "), (" to ", " a "))
_PARTS = "|".join(CENTURY_PARTS)
_DECADE = r"(?:\d\d|1[89]\d0|20\d0|" + "|".join(DECADE_WORDS) + ")"
_CIRCA_IN_TEXT = r"(?:hacia(?: el)?|h\.|ca\.?|c\.|circa|aprox\.?|aproximadamente|alrededor de|about|around)"
# Date phrases inside free text, most specific first: at one position the first alternative that matches wins.
_IN_TEXT = re.compile("|".join(rf"(?:{p})" for p in (
    rf"\b\d{{1,2}}(?: de)? {MONTH}(?: de)?,? {YEAR}\b",
    rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]{YEAR}\b",
    rf"\b{MONTH}(?: de)?,? {YEAR}\b",
    rf"\b(?:entre |between )?{YEAR} ?(?:-|/| a | y | al | and | to ) ?{YEAR}\b",
    rf"\b(?:de )?{YEAR} ?[-/] ?\d\d\b(?![-/]?\d)",
    rf"\b{_CIRCA_IN_TEXT} ?{YEAR}\b",
    rf"\b(?:antes de|anterior a|despues de|posterior a|before|after) {YEAR}\b",
    rf"\b(?:los )?anos (?:de )?(?:los )?{_DECADE}(?: del (?:siglo|s\.?) [xvi]+)?\b",
    r"\bdecada (?:de )?(?:los )?(?:anos )?(?:\d\d|1[89]\d0|20\d0)\b",
    r"\b(?:1[89]\d0|20\d0) ?'?s\b",
    rf"\b(?:(?:{_PARTS}) (?:del? )?)?(?:siglo|s\.) ?(?:xviii|xix|xxi|xx)\b",
    rf"\b{YEAR}\b",
)))


def _fold_keeping_offsets(text: str) -> str:
    """Lowercase ASCII of `text`, one character for one, so offsets in it are offsets in `text`."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode().lower()
        out.append(base[:1] if base else (" " if not ch.isascii() else ch.lower()))
    return "".join(out)


def find_dates(text: str | None) -> list[FoundDate]:
    """Every date phrase parse_date can read inside free text (a title, a description), left to right.

    >>> [(f.phrase, f.estimate.year_min, f.estimate.year_max) for f in find_dates("Feria, hacia 1940; años 50")]
    [('hacia 1940', 1935, 1945), ('años 50', 1950, 1959)]
    """
    if not text:
        return []
    found = []
    for m in _IN_TEXT.finditer(_fold_keeping_offsets(str(text))):
        phrase = m.group(0)
        for english, spanish in _ENGLISH:
            phrase = phrase.replace(english, spanish)
        estimate = parse_date(phrase)
        if estimate.precision != "unknown":
            found.append(FoundDate(m.start(), m.end(), str(text)[m.start():m.end()], estimate))
    return found
