"""Draft a site profile from an archive's own pages: `cli.py probe --suggest URL`.

From a listing page it finds the record links (the largest group of same-shaped links and the
element that holds them) and the next-page link; from up to SAMPLE_RECORDS record pages it
collects every label the crawler's extraction sees and maps the ones it knows (Spanish and
English catalogue vocabulary, ISAD(G)/AtoM and Dublin Core labels) to fields, and picks an
image selector. The TOML it writes says what was guessed and is meant to be reviewed.
Pure functions over HTML; `suggest` does the fetching.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawler.detect import iiif_links
from crawler.extract import as_selector, extract_links, label_value_pairs, normalize_label

SAMPLE_RECORDS = 3
MIN_RECORD_LINKS = 3
# Labels as normalize_label leaves them -> field.
LABEL_VOCABULARY = {
    "source_id": ("identificador", "signatura", "codigo de referencia", "reference code", "identifier",
                  "numero de inventario", "n. de inventario", "inventario", "codigo", "id"),
    "title": ("titulo", "title", "titulo propio", "nombre"),
    "holder": ("titular", "derechos", "rights", "propietario", "coleccion", "collection", "fondo", "holder",
               "institucion archivistica", "repository", "institucion"),
    "date_raw": ("fecha", "fechas", "fecha(s)", "ano", "date", "dates", "date(s)", "fecha de creacion", "datacion",
                 "cronologia"),
    "place": ("lugar", "localizacion", "localidad", "municipio", "place", "location", "coverage", "cobertura",
              "cobertura espacial", "spatial coverage", "ambito geografico", "puntos de acceso geograficos",
              "place access points"),
    "description": ("descripcion", "description", "alcance y contenido", "scope and content", "resumen",
                    "abstract"),
}
FIELD_OF_LABEL = {label: name for name, labels in LABEL_VOCABULARY.items() for label in labels}
NEXT_WORDS = ("siguiente", "next", "siguiente »", "siguiente ›", "next »", "next ›", "»", "›", ">")
IMAGE_EXTENSIONS_XPATH = " or ".join(f"contains(@href, '.{ext}')" for ext in ("jpg", "jpeg", "png", "tif"))


@dataclass(frozen=True)
class Suggestion:
    url: str  # the page the user gave
    source: str  # a source name from the host
    start_url: str | None  # the listing, when the URL was one
    record_links: str | None  # selector for record links (None: not found, the draft says so)
    next_page: str | None  # selector for the next listing page
    image: str | None  # selector for the main image (or its IIIF manifest)
    labels: dict[str, str] = field(default_factory=dict)  # label as printed -> field
    unmapped: tuple[str, ...] = ()  # labels seen that the vocabulary does not know
    record_urls: tuple[str, ...] = ()  # record pages the labels came from


def label_map(pages: list[Selector]) -> tuple[dict[str, str], tuple[str, ...]]:
    """(label -> field, unknown labels) over the record pages, labels as first printed."""
    mapped: dict[str, str] = {}
    unknown: dict[str, None] = {}
    seen: set[str] = set()
    for page in pages:
        for label, _value in label_value_pairs(page):
            key = normalize_label(label)
            if key in seen:
                continue
            seen.add(key)
            name = FIELD_OF_LABEL.get(key)
            if name is None:
                unknown[label.strip().rstrip(":").strip()] = None
            else:
                mapped[label.strip().rstrip(":").strip()] = name
    return mapped, tuple(unknown)


def _shape(url: str) -> str:
    parts = urlsplit(url)
    return re.sub(r"\d+", "N", parts.path) + ("?" + re.sub(r"=[^&]*", "=", parts.query) if parts.query else "")


def _selector_for(element) -> str | None:
    """A CSS selector naming `element` by id or class, None when it has neither."""
    if element.get("id"):
        return f"#{element.get('id')}"
    classes = (element.get("class") or "").split()
    return f"{element.tag}.{classes[0]}" if classes else None


def _common_container(anchors) -> str | None:
    """The nearest ancestor with an id or class holding every anchor, as a CSS selector."""
    ancestor = anchors[0].getparent()
    while ancestor is not None:
        inside = set(ancestor.iter("a"))
        if all(a in inside for a in anchors):
            named = _selector_for(ancestor)
            if named:
                return named
        ancestor = ancestor.getparent()
    return None


def record_link_selector(listing: Selector, base_url: str) -> str | None:
    """A selector for the record links of a listing page: the largest same-shaped group of links."""
    anchors = [a for a in listing.root.iter("a") if a.get("href")]
    host = urlsplit(base_url).netloc
    groups: dict[str, list] = {}
    for anchor in anchors:
        url = urljoin(base_url, anchor.get("href"))
        if urlsplit(url).netloc == host and re.search(r"\d", urlsplit(url).path + urlsplit(url).query):
            groups.setdefault(_shape(url), []).append(anchor)
    groups = {shape: group for shape, group in groups.items() if len(group) >= MIN_RECORD_LINKS}
    if not groups:
        return None
    best = max(groups.values(), key=len)
    container = _common_container(best)
    classes = Counter(c for a in best for c in (a.get("class") or "").split())
    shared = next((c for c, n in classes.most_common() if n == len(best)), None)
    anchor = f"a.{shared}" if shared else "a"
    if container:
        return f"{container} {anchor}::attr(href)"
    prefix = urlsplit(urljoin(base_url, best[0].get("href"))).path.rsplit("/", 1)[0] + "/"
    return f"xpath://a[contains(@href, '{prefix}')]/@href"


def next_page_selector(listing: Selector) -> str | None:
    if listing.css("a[rel=next]"):
        return "a[rel=next]::attr(href)"
    for anchor in listing.root.iter("a"):
        text = " ".join("".join(anchor.itertext()).split()).casefold()
        if anchor.get("href") and text in NEXT_WORDS:
            return f"xpath://a[normalize-space(.)={json.dumps(' '.join(''.join(anchor.itertext()).split()))}]/@href"
    for anchor in listing.root.iter("a"):
        classes = (anchor.get("class") or "").split()
        named = next((c for c in classes if any(w in c.casefold() for w in ("next", "siguiente"))), None)
        if named and anchor.get("href"):
            return f"a.{named}::attr(href)"
    return None


def image_selector(record: Selector, base_url: str) -> str | None:
    """The record page's main picture: a IIIF manifest, an id'd or figure image, a linked file, og:image."""
    links = iiif_links(record, base_url)
    if links:
        return links[0].selector
    for image in record.root.iter("img"):
        if image.get("id") and image.get("src"):
            return f"img#{image.get('id')}::attr(src)"
    if record.css("figure img[src]"):
        return "figure img::attr(src)"
    if record.xpath(f"//a[img and ({IMAGE_EXTENSIONS_XPATH})]"):
        return f"xpath:(//a[img and ({IMAGE_EXTENSIONS_XPATH})])[1]/@href"
    if record.css("meta[property='og:image']"):
        return "meta[property='og:image']::attr(content)"
    return None


def suggest_from(url: str, first: Selector, records: list[tuple[str, Selector]]) -> Suggestion:
    """The suggestion from the page at `url` (a listing when record pages were found from it) and record pages."""
    is_listing = bool(records) and records[0][0] != url
    record_pages = [page for _, page in records] or [first]
    labels, unmapped = label_map(record_pages)
    host = urlsplit(url).hostname or "archive"
    name = host if host.replace(".", "").isdigit() else host.removeprefix("www.").split(".")[0]
    source = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "archive"
    return Suggestion(
        url=url,
        source=source,
        start_url=url if is_listing else None,
        record_links=record_link_selector(first, url) if is_listing else None,
        next_page=next_page_selector(first) if is_listing else None,
        image=image_selector(record_pages[0], records[0][0] if records else url),
        labels=labels,
        unmapped=unmapped,
        record_urls=tuple(u for u, _ in records) or (url,),
    )


def suggest(url: str, fetch) -> Suggestion:
    """Fetch `url` (listing or record page) and up to SAMPLE_RECORDS record pages it links; suggest a profile.

    `fetch(url) -> (final_url, html text)` raises the caller's error when a page cannot be read.
    """
    final_url, html = fetch(url)
    first = as_selector(html)
    selector = record_link_selector(first, final_url)
    records: list[tuple[str, Selector]] = []
    if selector is not None:
        for link in extract_links(first, selector, final_url)[:SAMPLE_RECORDS]:
            record_url, record_html = fetch(link)
            records.append((record_url, as_selector(record_html)))
    if records and not label_map([page for _, page in records])[0]:
        records = []  # the "links" led to pages without labels: the URL was a record page after all
    return suggest_from(final_url, first, records)


def _utf8(text: str) -> str:
    return text.encode("utf-8", errors="replace").decode("utf-8")  # a lone surrogate cannot be written


def _q(text: str) -> str:
    """A TOML basic string holding `text`, whatever it holds: JSON escapes quotes, backslashes and
    control characters as TOML does, except DEL, which TOML also wants escaped."""
    return json.dumps(_utf8(text), ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    """Text for a TOML comment: a comment ends at a newline and may hold no control character."""
    return "".join("?" if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F else c for c in _utf8(text))


def render_toml(suggestion: Suggestion) -> str:
    """The draft profile, with comments saying what was guessed and what to check."""
    fields = set(suggestion.labels.values())
    required = [name for name in ("source_id", "title", "holder", "date_raw", "place") if name in fields]
    required += (["year"] if "date_raw" in fields else []) + (["image_url"] if suggestion.image else [])
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(suggestion.url))
    lines = [
        f"# DRAFT written by 'cli.py probe --suggest {_comment(suggestion.url)}': review every line before a crawl,",
        "# then check it on a record page:  cli.py probe RECORD-URL --profile THIS-FILE",
        f"# Labels were read from: {_comment(', '.join(suggestion.record_urls))}",
        f"name = {_q(suggestion.source + ' (suggested)')}",
        f"source = {_q(suggestion.source)}",
    ]
    if suggestion.start_url:
        lines.append(f"start_urls = [{_q(suggestion.start_url)}]")
    else:
        lines += ["# CHECK: the URL was a record page; put the first listing page here.",
                  f"start_urls = [{_q(origin)}]"]
    lines += [f"required = [{', '.join(_q(n) for n in required)}]", "", "[selectors]"]
    for key, value, hint in (
        ("record_links", suggestion.record_links, "the links from a listing to record pages"),
        ("next_page", suggestion.next_page, "the next listing page"),
        ("image", suggestion.image, "the main picture (or its IIIF manifest)"),
    ):
        if value:
            lines.append(f"{key} = {_q(value)}")
        else:
            lines += [f"# NOT FOUND: write the selector for {hint}.", f"{key} = {_q('a.CHANGE-ME::attr(href)')}"]
    lines += ['fields_container = ""', "", "# label as printed -> record field"]
    lines.append("[labels]")
    lines += [f"{_q(label)} = {_q(name)}" for label, name in suggestion.labels.items()]
    if "source_id" not in fields:
        lines += ["# NOT FOUND: no label for the identifier; records are keyed by it.", '"Identificador" = "source_id"']
    if suggestion.unmapped:
        lines.append("# Labels seen but not mapped (map them to source_id, title, holder, place, description or date_raw):")
        lines += [f"# {_q(label)} = ?" for label in suggestion.unmapped]
    return "\n".join(lines) + "\n"
