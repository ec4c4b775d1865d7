"""Dublin Core (oai_dc) -> the record fields the crawler stores: a pure mapping.

- source_id: the OAI identifier, less the profile's `identifier_prefix` (so a harvest and an
  HTML crawl of one archive key records alike);
- title, description, place (dc:coverage / dcterms:spatial, skipping coverage that is a date),
  holder (dc:rights, dc:publisher, dc:creator or dc:contributor: a per-source setting, which may
  name several in order, the first present winning: a studio in dc:creator, a donor in dc:contributor);
- date_raw: of several dc:date values, the one db.dates reads best (`best_date`), leaving out
  timestamps with a time of day (DSpace puts its accession dates in dc:date) unless nothing else;
- page_url: the first http(s) dc:identifier that is not a picture;
- image_url: a IIIF manifest or info.json, else a picture URL, among dc:identifier,
  dc:relation and dc:source (in that order); `image_via` says which kind it is.

Repeated elements with xml:lang take the Spanish value, then an untagged one, then the first.

>>> from crawler.oai import OaiRecord
>>> record = OaiRecord("oai:x:7", "2024-01-01", False, (), {"title": [("Square", "en"), ("Plaza", "es")]})
>>> dc_fields(record)["title"]
'Plaza'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from crawler.oai import OaiRecord
from db.dates import best_date, parse_date

HOLDER_ELEMENTS = ("rights", "publisher", "creator", "contributor")
PREFERRED_LANGUAGES = ("es", "spa")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp", ".jp2", ".bmp")
IMAGE_SOURCES = ("identifier", "relation", "source")
# "2019-04-02T09:13:55Z": when a repository catalogued the item, not when the photograph was taken.
_SYSTEM_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def elements_read(holder_element: str | Sequence[str] = "rights") -> frozenset[str]:
    """The DC elements (local names) dc_fields reads with this holder setting: a harvest parses only these."""
    holders = (holder_element,) if isinstance(holder_element, str) else tuple(holder_element)
    return frozenset(("title", "description", "date", "spatial", "coverage", *IMAGE_SOURCES, *holders))


def _language_rank(lang: str) -> int:
    if lang.split("-")[0] in PREFERRED_LANGUAGES:
        return 0
    return 1 if not lang else 2


def preferred(values: list[tuple[str, str]]) -> list[str]:
    """The texts in the best language present (Spanish, untagged, any), in document order."""
    if not values:
        return []
    if len(values) == 1:  # most elements come once: nothing to choose
        return [values[0][0]]
    if not any(lang for _, lang in values):  # untagged alike (identifiers, most coverage): all of them
        return [text for text, _ in values]
    ranks = [_language_rank(lang) for _, lang in values]
    best = min(ranks)
    return [text for (text, _), rank in zip(values, ranks, strict=True) if rank == best]


def _is_http(value: str) -> bool:
    """An http(s) URL with a host, as urlsplit reads it (a harvest asks this a few times per record)."""
    head = value[:8].lower()
    rest = value[7:] if head.startswith("http://") else value[8:] if head.startswith("https://") else ""
    return bool(rest) and rest[0] not in "/?#"


def image_kind(url: str) -> str | None:
    """"iiif_manifest", "iiif_info", "image" or None for a URL, judged by its shape (nothing is fetched)."""
    return _path_kind(urlsplit(url).path.lower())


# The path of an http(s) URL as urlsplit reads it (netloc up to / ? or #, path up to ? or #), for text
# _is_http accepted: whitespace-normalised Dublin Core, so none of the tabs, newlines or leading spaces
# urlsplit would strip first. A harvest asks it for every link of every record; urlsplit costs 5x more.
_HTTP_PATH = re.compile(r"[^:]*://[^/?#]*([^?#]*)")


def _path_kind(path: str) -> str | None:
    if path.endswith("/info.json"):
        return "iiif_info"
    if path.endswith(("/manifest", "/manifest.json")) or ("iiif" in path and "manifest" in path):
        return "iiif_manifest"
    if path.endswith(IMAGE_EXTENSIONS):
        return "image"
    return None


def _links(dc: dict[str, list[tuple[str, str]]]) -> dict[str, str | None]:
    """http(s) URL -> image_kind, over dc:identifier, dc:relation and dc:source in that order."""
    match = _HTTP_PATH.match
    return {text: _path_kind(match(text).group(1).lower())
            for element in IMAGE_SOURCES for text, _ in dc.get(element, ()) if _is_http(text)}


def _picture(links: dict[str, str | None]) -> tuple[str | None, str | None]:
    for wanted in ("iiif_manifest", "iiif_info", "image"):
        for url, kind in links.items():
            if kind == wanted:
                return url, (None if kind == "image" else kind)
    return None, None


def pick_image(dc: dict[str, list[tuple[str, str]]]) -> tuple[str | None, str | None]:
    """(url, via) of the record's picture: IIIF first (archive quality), then a plain image URL."""
    return _picture(_links(dc))


def _place(dc: dict[str, list[tuple[str, str]]]) -> str | None:
    spatial = preferred(dc.get("spatial", []))
    if spatial:
        return spatial[0]
    # dc:coverage holds places and periods alike: a value that reads as a date is a period.
    places = [text for text in preferred(dc.get("coverage", [])) if parse_date(text).precision == "unknown"]
    return places[0] if places else None


def strip_prefix(identifier: str, prefix: str) -> str:
    return identifier[len(prefix):] if prefix and identifier.startswith(prefix) else identifier


def _first(values: list[tuple[str, str]] | None) -> str | None:
    """The first text in the best language (see preferred)."""
    if not values:
        return None
    if len(values) == 1:  # most elements come once
        return values[0][0]
    texts = preferred(values)
    return texts[0] if texts else None


def dc_fields(record: OaiRecord, holder_element: str | Sequence[str] = "rights",
              identifier_prefix: str = "") -> dict[str, str | None]:
    """The record fields (source_id, title, holder, place, description, date_raw, page_url, image_url, image_via).

    `holder_element` is one element, or several tried in order (the first with a value names the holder).
    """
    dc = record.dc
    get = dc.get
    holder = None
    for element in (holder_element,) if isinstance(holder_element, str) else holder_element:
        holder = _first(get(element))
        if holder:
            break
    descriptions = preferred(get("description", []))
    dated = get("date")
    date_raw = None
    if dated:
        dates = [text for text, _ in dated]
        date_raw, _ = best_date([t for t in dates if not _SYSTEM_TIMESTAMP.match(t)] or dates)
    links = _links(dc)
    pages = [t for t, _ in get("identifier", ()) if t in links and links[t] is None]
    image_url, via = _picture(links)
    return {
        "source_id": strip_prefix(record.identifier, identifier_prefix),
        "title": _first(get("title")),
        "holder": holder or None,
        "place": _place(dc),
        "description": (descriptions[0] if len(descriptions) == 1 else " ".join(dict.fromkeys(descriptions))) or None,
        "date_raw": date_raw,
        "page_url": pages[0] if pages else None,
        "image_url": image_url,
        "image_via": via,
    }
