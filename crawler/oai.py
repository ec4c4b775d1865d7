"""OAI-PMH 2.0 responses -> plain data: pure parsers over the XML bytes a repository sends.

The bytes go to lxml as they are, so the encoding the XML prolog declares (ISO-8859-1,
Windows-1252...) is honoured, unless the bytes are in fact UTF-8 (non-ASCII, and valid UTF-8:
a single-byte text almost never is), which repositories get wrong; then they are read as UTF-8.
Entities are not resolved and nothing is fetched from the network while parsing. A text node
over libxml2's 10 MB limit (a huge dc:description) is read with its huge-document option, so a
page is not lost for one field; the page-size cap (max_page_mb) still bounds it. Requests are built here too (`verb_url`), so the spider and probe
ask the same questions.

>>> page = parse_list(b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2024-01-02T03:04:05Z'
...                   b'</responseDate><error code="noRecordsMatch">none</error></OAI-PMH>')
>>> page.error, page.response_date
(('noRecordsMatch', 'none'), '2024-01-02T03:04:05Z')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

from lxml import etree

from db.errors import PipelineError

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS = {"o": OAI_NS}
METADATA_PREFIX = "oai_dc"
DAY_GRANULARITY = "YYYY-MM-DD"
SECOND_GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"

_DC_ANY, _DCTERMS_ANY = f"{{{DC_NS}}}*", f"{{{DCTERMS_NS}}}*"  # any element in these namespaces, for iter()
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
_HUGE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)
_UTF8_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True,
                               encoding="utf-8")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SINGLE_BYTE_ENCODINGS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "iso-8859-15"}


class NotOaiResponse(PipelineError):
    """The bytes are not an OAI-PMH response (not XML, or another root element)."""


@dataclass(frozen=True)
class OaiRecord:
    identifier: str  # the header's OAI identifier, e.g. "oai:archive.example:123"
    datestamp: str  # the header's datestamp, as written
    deleted: bool  # header status="deleted": the repository withdrew it (no metadata)
    set_specs: tuple[str, ...]  # the sets the header names
    # DC element local name (title, date, identifier...) -> (text, xml:lang or "") in document order;
    # empty elements are left out
    dc: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class OaiList:
    """One ListRecords (or ListIdentifiers/ListSets) answer."""

    response_date: str | None  # responseDate, as written
    error: tuple[str, str] | None  # (code, message) of the first <error>, None when there is none
    records: list[OaiRecord] = field(default_factory=list)
    token: str | None = None  # resumptionToken; None or "" both end the list
    complete_list_size: int | None = None  # completeListSize attribute of the token, when given
    expiration_date: str | None = None  # expirationDate attribute of the token, when given
    sets: list[tuple[str, str]] = field(default_factory=list)  # ListSets: (setSpec, setName)


@dataclass(frozen=True)
class Identify:
    repository_name: str  # repositoryName
    base_url: str  # baseURL the repository states
    granularity: str  # YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ
    earliest_datestamp: str | None  # earliestDatestamp
    deleted_record: str | None  # no | transient | persistent
    response_date: str | None  # responseDate


def _parse(body: bytes):
    declared = _DECLARED_ENCODING.match(body[:200])
    if declared and declared.group(1).decode().lower() in _SINGLE_BYTE_ENCODINGS and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # really single-byte text
        else:
            return etree.fromstring(body, _UTF8_PARSER)  # declared Latin-1, written as UTF-8
    try:
        return etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        if "XML_PARSE_HUGE" not in str(exc):
            raise
        return etree.fromstring(body, _HUGE_PARSER)


def _root(body: bytes):
    try:
        root = _parse(body)
    except etree.XMLSyntaxError as exc:
        raise NotOaiResponse(f"not XML: {exc}") from None
    if root.tag != f"{{{OAI_NS}}}OAI-PMH":
        raise NotOaiResponse(f"root element is {root.tag!r}, expected OAI-PMH in namespace {OAI_NS}")
    return root


def _text(node, path: str) -> str | None:
    found = node.find(path, NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _error(root) -> tuple[str, str] | None:
    error = root.find("o:error", NS)
    if error is None:
        return None
    # The whole text: some repositories put markup inside the message ("<b>from</b> is not a date");
    # without control characters, as it ends up on a terminal (an ESC would start an escape sequence).
    message = _CONTROL_CHARACTERS.sub("", "".join(error.itertext()))
    return error.get("code", "unknown"), " ".join(message.split())


def parse_identify(body: bytes) -> Identify:
    """An Identify answer; NotOaiResponse when it is not one (an error counts as not one)."""
    root = _root(body)
    node = root.find("o:Identify", NS)
    if node is None:
        code, message = _error(root) or ("no Identify element", "")
        raise NotOaiResponse(f"Identify answered {code} {message}".strip())
    return Identify(
        repository_name=_text(node, "o:repositoryName") or "",
        base_url=_text(node, "o:baseURL") or "",
        granularity=_text(node, "o:granularity") or DAY_GRANULARITY,
        earliest_datestamp=_text(node, "o:earliestDatestamp"),
        deleted_record=_text(node, "o:deletedRecord"),
        response_date=_text(root, "o:responseDate"),
    )


def parse_formats(body: bytes) -> tuple[tuple[str, str] | None, list[str]]:
    """(error, metadataPrefixes) of a ListMetadataFormats answer."""
    root = _root(body)
    prefixes = [p.text.strip() for p in root.iterfind("o:ListMetadataFormats/o:metadataFormat/o:metadataPrefix", NS)
                if p.text]
    return _error(root), prefixes


_HEADER, _METADATA = f"{{{OAI_NS}}}header", f"{{{OAI_NS}}}metadata"
_IDENTIFIER, _DATESTAMP, _SET_SPEC = f"{{{OAI_NS}}}identifier", f"{{{OAI_NS}}}datestamp", f"{{{OAI_NS}}}setSpec"
_LOCAL_NAMES: dict[str, str] = {}  # "{namespace}title" -> "title": a page repeats a dozen tags a hundred times


def _dc_values(metadata, wanted: frozenset[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    values: dict[str, list[tuple[str, str]]] = {}
    if metadata is None:
        return values
    for element in metadata.iter(_DC_ANY, _DCTERMS_ANY):
        tag = element.tag
        local = _LOCAL_NAMES.get(tag) or _LOCAL_NAMES.setdefault(tag, tag.rpartition("}")[2])
        if wanted is not None and local not in wanted:
            continue
        # A leaf's text is its .text; mixed content needs the walk.
        raw = element.text if len(element) == 0 else "".join(element.itertext())
        if not raw:
            continue
        text = " ".join(raw.split())
        if text:
            lang = element.get(XML_LANG)
            entry = (text, lang.strip().lower() if lang else "")
            if local in values:
                values[local].append(entry)
            else:
                values[local] = [entry]
    return values


def _record(node, wanted: frozenset[str] | None = None) -> OaiRecord:
    """A <record> (header and metadata) or a bare <header>, read child by child: one pass, no path lookups."""
    header, metadata = (node, None) if node.tag == _HEADER else (None, None)
    if header is None:
        for child in node:
            if child.tag == _HEADER and header is None:
                header = child
            elif child.tag == _METADATA and metadata is None:
                metadata = child
    identifier = datestamp = None  # the first of each, as written, surrounding space stripped
    set_specs: list[str] = []
    if header is not None:
        for child in header:
            tag = child.tag
            if tag == _IDENTIFIER:
                identifier = (child.text or "").strip() if identifier is None else identifier
            elif tag == _DATESTAMP:
                datestamp = (child.text or "").strip() if datestamp is None else datestamp
            elif tag == _SET_SPEC and child.text:
                set_specs.append(child.text.strip())
    return OaiRecord(
        identifier=identifier or "",
        datestamp=datestamp or "",
        deleted=header is not None and header.get("status") == "deleted",
        set_specs=tuple(set_specs),
        dc=_dc_values(metadata, wanted),
    )


def parse_list(body: bytes, wanted: frozenset[str] | None = None) -> OaiList:
    """A ListRecords, ListIdentifiers or ListSets answer (or an OAI error).

    wanted: the DC elements (local names) to read into each record's dc, the others skipped; None: all.
    """
    root = _root(body)
    error = _error(root)
    records: list[OaiRecord] = []
    sets: list[tuple[str, str]] = []
    token_node = None
    for verb in ("ListRecords", "ListIdentifiers", "ListSets"):
        container = root.find(f"o:{verb}", NS)
        if container is None:
            continue
        if verb == "ListRecords":
            records = [_record(node, wanted) for node in container.iterfind("o:record", NS)]
        elif verb == "ListIdentifiers":
            records = [_record(node) for node in container.iterfind("o:header", NS)]
        else:
            sets = [(_text(s, "o:setSpec") or "", _text(s, "o:setName") or "") for s in container.iterfind("o:set", NS)]
        token_node = container.find("o:resumptionToken", NS)
    size = token_node.get("completeListSize") if token_node is not None else None
    return OaiList(
        response_date=_text(root, "o:responseDate"),
        error=error,
        records=records,
        token=(token_node.text or "").strip() or None if token_node is not None else None,
        complete_list_size=int(size) if size and size.isdigit() else None,
        expiration_date=token_node.get("expirationDate") if token_node is not None else None,
        sets=sets,
    )


def parse_single(body: bytes) -> tuple[tuple[str, str] | None, OaiRecord | None]:
    """(error, record) of a GetRecord answer."""
    root = _root(body)
    node = root.find("o:GetRecord/o:record", NS)
    return _error(root), (_record(node) if node is not None else None)


def endpoint_of(url: str) -> str:
    """The base URL of a repository: the URL without its query or fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def verb_url(endpoint: str, verb: str, **arguments: str | None) -> str:
    """A request URL; arguments that are None are left out (the protocol forbids empty ones).

    >>> verb_url("http://h/oai", "ListRecords", metadataPrefix="oai_dc", set=None)
    'http://h/oai?verb=ListRecords&metadataPrefix=oai_dc'
    """
    query = urlencode({"verb": verb, **{k: v for k, v in arguments.items() if v is not None}})
    return f"{endpoint_of(endpoint)}?{query}"


def from_argument(response_date: str, granularity: str) -> str:
    """The `from` a later harvest sends: the stored responseDate at the repository's granularity.

    >>> from_argument("2024-05-06T07:08:09Z", "YYYY-MM-DD"), from_argument("2024-05-06T07:08:09Z", SECOND_GRANULARITY)
    ('2024-05-06', '2024-05-06T07:08:09Z')
    """
    if granularity == SECOND_GRANULARITY and len(response_date) >= 20:
        return response_date[:19] + "Z"
    return response_date[:10]
