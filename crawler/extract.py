"""Pure field extraction from a record page: labels in, values out.

Archives print their metadata as label/value pairs in a handful of markups. Rather than one
selector per field (brittle: a template change breaks all of them), every pair on the page
is collected whatever the markup, and the profile's label map picks the ones it knows:

- ``<dl><dt>Título</dt><dd>value</dd></dl>``
- ``<tr><th>Título</th><td>value</td></tr>`` (or two ``<td>`` cells)
- ``<li><strong>Título:</strong> value</li>`` (also ``<p>``, ``<b>``)
- ``<div class="field"><h3>Título</h3><div>value</div></div>`` (AtoM's description pages)

Labels match ignoring case, accents, surrounding whitespace and a trailing colon.

>>> extract_fields("<dl><dt>Título:</dt><dd> Plaza  Mayor </dd></dl>", {"Titulo": "title"}).fields
{'title': 'Plaza Mayor'}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

from parsel import Selector

# Elements whose boundaries separate words even without whitespace in the source.
_BREAKING_TAGS = frozenset({"br", "p", "div", "li", "dd", "dt", "td", "th", "tr"})
_SKIPPED_TAGS = frozenset({"script", "style", "template"})
_WHITESPACE = re.compile(r"\s+")

# A label cell: first element child of an <li>/<p> that is <strong>/<b>.
_INLINE_LABEL_ITEMS = ".//*[self::li or self::p][*[1][self::strong or self::b]]"
# A headed field box: <div class="field"><h3>label</h3><div>value</div></div>.
_HEADED_FIELDS = ".//div[contains(concat(' ', normalize-space(@class), ' '), ' field ')][h3 and div]"


@dataclass(frozen=True)
class Extraction:
    """What one record page says, as far as the label map understands it."""

    fields: dict[str, str] = field(default_factory=dict)  # field name -> value, for mapped labels found
    labels: dict[str, str] = field(default_factory=dict)  # every label on the page (as written) -> value
    missing: tuple[str, ...] = ()  # mapped field names with no non-empty value on the page
    unmapped: tuple[str, ...] = ()  # labels on the page that the map does not know


def normalize_label(label: str) -> str:
    """The comparison key of a label: no accents, casefolded, single spaces, no trailing colon.

    >>> normalize_label("  Descripción : ")
    'descripcion'
    """
    decomposed = unicodedata.normalize("NFKD", label)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WHITESPACE.sub(" ", plain).strip().rstrip(":").strip().casefold()


def clean_text(text: str) -> str:
    """Collapse whitespace runs (including newlines and non-breaking spaces) to single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def element_text(sel: Selector) -> str:
    """Visible text of an element, words kept apart at <br> and block boundaries."""
    root = sel.root
    if isinstance(root, str):
        return clean_text(root)
    parts: list[str] = []
    # Depth-first with an explicit stack: markup nested thousands deep must not hit the recursion limit.
    stack: list = [root]  # elements still to walk, and tail strings to emit in between
    while stack:
        element = stack.pop()
        if isinstance(element, str):
            parts.append(element)
            continue
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _SKIPPED_TAGS:
            continue
        if tag in _BREAKING_TAGS:
            parts.append(" ")
        if tag and element.text:
            parts.append(element.text)
        for child in reversed(element):
            if child.tail:
                stack.append(child.tail)
            stack.append(child)
    return clean_text("".join(parts))


def as_selector(page: str | bytes | Selector, base_url: str | None = None) -> Selector:
    """A parsel Selector over HTML text, bytes, a Selector, or a Scrapy response (its .selector)."""
    if isinstance(page, Selector):
        return page
    selector = getattr(page, "selector", None)
    if isinstance(selector, Selector):
        return selector
    if isinstance(page, bytes):
        page = page.decode("utf-8", errors="replace")
    # type="html": parsel would otherwise read a page that looks like JSON as JSON (and recurse on deep nesting).
    return Selector(text=page, type="html", base_url=base_url)


def select_all(sel: Selector, expression: str) -> list[str]:
    """Strings matched by a profile selector: CSS by default, XPath with an ``xpath:`` prefix."""
    if expression.startswith("xpath:"):
        return [value.strip() for value in sel.xpath(expression[len("xpath:"):]).getall()]
    return [value.strip() for value in sel.css(expression).getall()]


def select_scope(sel: Selector, expression: str | None) -> Selector | None:
    """The first element matched by a container selector, the whole page when none is configured."""
    if not expression:
        return sel
    if expression.startswith("xpath:"):
        matches = sel.xpath(expression[len("xpath:"):])
    else:
        matches = sel.css(expression)
    return matches[0] if matches else None


def label_value_pairs(scope: Selector) -> list[tuple[str, str]]:
    """Every (label, value) pair inside `scope`, in document order per markup, labels as written."""
    pairs: list[tuple[str, str]] = []
    for term in scope.xpath(".//dt"):
        definition = term.xpath("following-sibling::*[1][self::dd]")
        if definition:
            pairs.append((element_text(term), element_text(definition[0])))
    for row in scope.xpath(".//tr[th and td]"):
        pairs.append((element_text(row.xpath("./th")[0]), element_text(row.xpath("./td")[0])))
    for row in scope.xpath(".//tr[not(th) and count(td) = 2]"):
        cells = row.xpath("./td")
        pairs.append((element_text(cells[0]), element_text(cells[1])))
    for box in scope.xpath(_HEADED_FIELDS):
        pairs.append((element_text(box.xpath("./h3")[0]), element_text(box.xpath("./div")[0])))
    for item in scope.xpath(_INLINE_LABEL_ITEMS):
        label = element_text(item.xpath("./*[1]")[0])
        full = element_text(item)
        value = full[len(label):] if full.startswith(label) else full
        pairs.append((label, clean_text(value.lstrip().removeprefix(":"))))
    return [(label, value) for label, value in pairs if normalize_label(label)]


def extract_fields(
    page: str | bytes | Selector,
    label_map: Mapping[str, str],
    container: str | None = None,
) -> Extraction:
    """Map the page's labelled values onto field names through `label_map` (label -> field).

    Several labels may feed one field ("Año" and "Fecha" -> date_raw): the first non-empty wins.
    An empty value counts as missing. `container` (a profile selector) limits the search.
    """
    sel = as_selector(page)
    scope = select_scope(sel, container)
    keys = {normalize_label(label): name for label, name in label_map.items()}
    fields: dict[str, str] = {}
    labels: dict[str, str] = {}
    unmapped: list[str] = []
    for label, value in label_value_pairs(scope) if scope is not None else []:
        labels.setdefault(label.rstrip(": "), value)
        name = keys.get(normalize_label(label))
        if name is None:
            if label.rstrip(": ") not in unmapped:
                unmapped.append(label.rstrip(": "))
        elif value and name not in fields:
            fields[name] = value
    wanted = list(dict.fromkeys(label_map.values()))
    missing = tuple(name for name in wanted if name not in fields)
    return Extraction(fields=fields, labels=labels, missing=missing, unmapped=tuple(unmapped))


def extract_image_url(page: str | bytes | Selector, expression: str, base_url: str) -> str | None:
    """The absolute URL of the record's main image, or None when the selector matches nothing."""
    for value in select_all(as_selector(page), expression):
        if value:
            return urljoin(base_url, value)
    return None


def extract_links(page: str | bytes | Selector, expression: str, base_url: str) -> list[str]:
    """Absolute URLs matched by a link selector, in page order, without repeats."""
    urls = (urljoin(base_url, value) for value in select_all(as_selector(page), expression) if value)
    return list(dict.fromkeys(urls))
