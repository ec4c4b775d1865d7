"""Find an archive's standard ways in: an OAI-PMH endpoint, then IIIF manifests, before any HTML profile.

`find_oai` asks the URL itself, then the paths where the common platforms put their endpoint
(DSpace, Omeka, AtoM, DIGIBIB, CONTENTdm, Koha...), for ?verb=Identify; the platform a page
shows (crawler/platforms.py) puts its own, possibly sub-path, addresses first. `iiif_links` lists the IIIF
manifests (or info.json) a page links, with the profile selector that finds the first one;
`iiif_document` tells whether fetched JSON is itself a manifest or an info.json.
Fetching goes through the caller's `fetch(url) -> bytes | None` so probe keeps one HTTP client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

from crawler.dublincore import image_kind
from crawler.extract import as_selector
from crawler.oai import NotOaiResponse, endpoint_of, parse_formats, parse_identify, parse_list, verb_url

# Where platforms serve OAI-PMH, relative to the site's root.
WELL_KNOWN_OAI_PATHS = (
    "/oai", "/oai/request", "/server/oai/request", "/oai-pmh-repository/request", "/;oai", "/oai/oai.php",
    "/cgi-bin/koha/oai.pl", "/oai/oai2.php", "/index.php/;oai", "/es/oai/oai.do",
)
# Selectors (in the profile's syntax) that find IIIF links on a record page, most specific first.
IIIF_SELECTORS = (
    "xpath://link[contains(@type, 'iiif.io') or (@rel='alternate' and contains(@href, 'manifest'))]/@href",
    "xpath://*[@data-manifest]/@data-manifest",
    "xpath://a[contains(@href, 'manifest=')]/@href",
    "xpath://a[contains(@href, '/manifest') or contains(@href, 'info.json')]/@href",
)

Fetch = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class OaiEndpoint:
    url: str  # the base URL that answered Identify
    repository_name: str  # its repositoryName
    granularity: str  # datestamp granularity
    formats: tuple[str, ...]  # metadataPrefixes it offers
    sets: int | None  # how many sets the first ListSets page shows; None when it has none


@dataclass(frozen=True)
class IiifLink:
    url: str  # absolute URL of the manifest or info.json
    kind: str  # iiif_manifest | iiif_info
    selector: str  # profile selector that finds it on the page


def oai_at(url: str, fetch: Fetch) -> OaiEndpoint | None:
    """The endpoint at `url` when it answers Identify, else None."""
    body = fetch(verb_url(url, "Identify"))
    if body is None:
        return None
    try:
        identify = parse_identify(body)
    except NotOaiResponse:
        return None
    formats: tuple[str, ...] = ()
    body = fetch(verb_url(url, "ListMetadataFormats"))
    if body is not None:
        try:
            formats = tuple(parse_formats(body)[1])
        except NotOaiResponse:
            formats = ()
    sets = None
    body = fetch(verb_url(url, "ListSets"))
    if body is not None:
        try:
            listed = parse_list(body)
            sets = len(listed.sets) if listed.error is None else None
        except NotOaiResponse:
            sets = None
    return OaiEndpoint(url=endpoint_of(url), repository_name=identify.repository_name,
                       granularity=identify.granularity, formats=formats, sets=sets)


def find_oai_nearby(url: str, fetch: Fetch, first: tuple[str, ...] = ()) -> OaiEndpoint | None:
    """The first of `first` (a recognised platform's addresses) and the site's well-known OAI-PMH paths
    that answers Identify, else None."""
    candidates = [*first, *(urljoin(url, path) for path in WELL_KNOWN_OAI_PATHS)]
    for candidate in dict.fromkeys(candidates):
        found = oai_at(candidate, fetch)
        if found is not None:
            return found
    return None


def _manifest_of(href: str) -> str:
    # Viewer links carry the manifest as a query argument: ?manifest=URL or ?iiif-content=URL.
    query = parse_qs(urlsplit(href).query)
    for key in ("manifest", "iiif-content"):
        if query.get(key):
            return query[key][0]
    return href


def iiif_links(page, base_url: str) -> list[IiifLink]:
    """IIIF manifests and info.json documents a record page links, in selector order, without repeats."""
    sel = as_selector(page)
    found: dict[str, IiifLink] = {}
    for selector in IIIF_SELECTORS:
        for href in sel.xpath(selector.removeprefix("xpath:")).getall():
            url = urljoin(base_url, _manifest_of(href.strip()))
            kind = image_kind(url)
            if kind in ("iiif_manifest", "iiif_info") and url not in found:
                found[url] = IiifLink(url=url, kind=kind, selector=selector)
    return list(found.values())


def iiif_document(body: bytes) -> str | None:
    """"iiif_manifest" or "iiif_info" when the bytes are such a JSON document, else None."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep
        return None
    if not isinstance(data, dict):
        return None
    context = json.dumps(data.get("@context", ""))
    kind = str(data.get("type") or data.get("@type") or "")
    if "presentation" in context or kind in ("Manifest", "sc:Manifest"):
        return "iiif_manifest"
    if "/image/" in context or kind.startswith("ImageService"):
        return "iiif_info"
    return None
