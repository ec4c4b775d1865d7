"""The replica's OAI-PMH 2.0 repository at /oai: its catalogue in oai_dc, with the shapes a harvester meets.

- Identify, ListMetadataFormats, ListSets (one set per town, "lugar:haro"), ListRecords,
  ListIdentifiers and GetRecord; `from`/`until` on datestamps at the configured granularity;
- paging by resumptionToken (opaque, with expirationDate and completeListSize);
- a few withdrawn identifiers listed as deleted headers, and `withdraw()` to delete one later;
- messy Dublin Core: a title also in English (xml:lang), a second, vaguer dc:date, a period
  in dc:coverage before the place, empty elements for missing fields, the picture as a
  dc:identifier, a dc:relation, or a IIIF manifest / info.json (crawler/replica/iiif.py);
- the holder as dc:creator (a studio or photographer: who took it) or dc:contributor (a family
  album, an institution, a donor: who gave or keeps it), and dc:rights a rights statement;
- faults, once per server: a 503 with Retry-After on the second page, and badResumptionToken
  on the third.

The record fields are the HTML pages' fields, so a harvest and a crawl store the same records.
"""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

from crawler.replica.archive import ReplicaArchive, ReplicaRecord
from crawler.replica.browse import NO_PLACE, town_slug
from crawler.replica.iiif import iiif_link
from db.dates import parse_date

XML = "text/xml; charset=utf-8"
ID_PREFIX = "oai:replica.larioja:"
FIRST_DATESTAMP = datetime(2024, 1, 1)
DATESTAMP_STEP = timedelta(minutes=1)
WITHDRAWN = 3  # identifiers the repository lists as deleted from the start
SECONDS = "YYYY-MM-DDThh:mm:ssZ"
DAYS = "YYYY-MM-DD"
PUBLISHER = "La Rioja en la memoria"
RETRY_AFTER_S = 1
RIGHTS = "Derechos reservados. Para reproducirla, consulte al titular."  # every record's dc:rights


def _stamp(moment: datetime, granularity: str) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ" if granularity == SECONDS else "%Y-%m-%d")


def _read_stamp(text: str, granularity: str) -> datetime | None:
    for fmt, allowed in (("%Y-%m-%d", True), ("%Y-%m-%dT%H:%M:%SZ", granularity == SECONDS)):
        try:
            return datetime.strptime(text, fmt) if allowed else None
        except ValueError:
            continue
    return None


def town_set(record: ReplicaRecord) -> str | None:
    """The setSpec of the record's town ("lugar:santo-domingo-de-la-calzada"), None without a place."""
    slug = town_slug(record)
    return None if slug == NO_PLACE else f"lugar:{slug}"


def _element(name: str, text: str | None, lang: str | None = None) -> str:
    attribute = f" xml:lang={quoteattr(lang)}" if lang else ""
    if not text:
        return f"<dc:{name}{attribute}/>"
    return f"<dc:{name}{attribute}>{escape(text)}</dc:{name}>"


def dublin_core(record: ReplicaRecord, number: int, base_url: str) -> str:
    """The record's oai_dc metadata (number: its 0-based position, which picks its quirks)."""
    fields = record.fields
    parts = []
    if number % 7 == 0:
        parts.append(_element("title", f"Photograph {record.source_id}", "en"))
        parts.append(_element("title", fields["Título"], "es"))
    else:
        parts.append(_element("title", fields["Título"]))
    parts.append(_element("description", fields.get("Descripción")))
    parts.append(_element("publisher", PUBLISHER))
    if "Titular" in fields:
        parts.append(_element(record.holder.dc_element, fields["Titular"]))
    parts.append(_element("rights", RIGHTS))
    parts.append(_element("date", record.date_raw))
    estimate = parse_date(record.date_raw)
    if estimate.year is not None and estimate.year_min == estimate.year_max and number % 4 == 0:
        parts.append(_element("date", f"{estimate.year // 10}X"))  # vaguer: the exact value above wins
    if estimate.year is not None and number % 6 == 0:
        parts.append(_element("coverage", f"{estimate.year_min}/{estimate.year_max}"))  # a period, not a place
    if "Lugar" in fields:
        parts.append(_element("coverage", fields["Lugar"]))
    parts.append(_element("type", "Image"))
    parts.append(_element("identifier", record.source_id))
    parts.append(_element("identifier", base_url + record.page_path))
    link = iiif_link(record, number)
    if link is not None:
        parts.append(_element("relation", base_url + link))
    elif number % 2:
        parts.append(_element("relation", base_url + record.image_path))
    else:
        parts.append(_element("identifier", base_url + record.image_path))
    body = "".join(parts)
    return (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">' + body + "</oai_dc:dc>"
    )


class OaiRepository:
    """Answers /oai requests for one replica archive served at `base_url`."""

    def __init__(self, archive: ReplicaArchive, base_url: str, page_size: int = 100, granularity: str = SECONDS,
                 formats: tuple[str, ...] = ("oai_dc",), faults: bool = True) -> None:
        self.archive = archive
        self.base_url = base_url
        self.page_size = page_size
        self.granularity = granularity
        self.formats = formats
        self.faults = faults
        self._lock = threading.Lock()
        self._numbers = {r.source_id: i for i, r in enumerate(archive.records)}
        # source_id -> datestamp of its deletion; the first WITHDRAWN follow the catalogue's last record
        last = len(archive.records)
        self._deleted = {
            f"LRM-{last + k:06d}": FIRST_DATESTAMP + (last + k) * DATESTAMP_STEP for k in range(1, WITHDRAWN + 1)
        }
        self._faulted: set[str] = set()
        self._version = 0  # bumped by withdraw(): cached lists are stale
        self._lists: dict[tuple, list] = {}  # (version, set, from, until) -> matching headers, for paging

    # -- state ------------------------------------------------------------------------------------
    def withdraw(self, source_id: str, when: datetime | None = None) -> None:
        """Delete a record from now on (its header says status="deleted", with this datestamp)."""
        when = when or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        with self._lock:
            self._deleted[source_id] = when
            self._version += 1

    def _headers(self) -> list[tuple[str, datetime, bool, ReplicaRecord | None]]:
        """(source_id, datestamp, deleted, record) of every identifier, in identifier order."""
        with self._lock:
            deleted = dict(self._deleted)
        rows = [(r.source_id, deleted.get(r.source_id, FIRST_DATESTAMP + i * DATESTAMP_STEP),
                 r.source_id in deleted, r) for i, r in enumerate(self.archive.records)]
        rows += [(sid, when, True, None) for sid, when in deleted.items() if sid not in self._numbers]
        return rows

    def _matching(self, set_spec: str, start: str, end: str, low: datetime | None, high: datetime | None) -> list:
        """The headers a list request selects; kept while the list is paged (a 20,000-record list has 200 pages)."""
        key = (self._version, set_spec, start, end)
        with self._lock:
            if key in self._lists:
                return self._lists[key]
        if high is not None and len(end) == 10:
            high += timedelta(days=1) - timedelta(seconds=1)
        rows = [row for row in self._headers()
                if (low is None or row[1] >= low) and (high is None or row[1] <= high)
                and (not set_spec or (row[3] is not None and not row[2] and town_set(row[3]) == set_spec))]
        with self._lock:
            self._lists = {k: v for k, v in self._lists.items() if k[0] == self._version}
            self._lists[key] = rows
        return rows

    def _fault_once(self, name: str) -> bool:
        with self._lock:
            if not self.faults or name in self._faulted:
                return False
            self._faulted.add(name)
            return True

    # -- responses --------------------------------------------------------------------------------
    def _envelope(self, request: str, inner: str) -> bytes:
        now = _stamp(datetime.now(timezone.utc), SECONDS)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
            f"<responseDate>{now}</responseDate>{request}{inner}</OAI-PMH>"
        ).encode()

    def _error(self, request: str, code: str, message: str) -> tuple[int, str, bytes, tuple]:
        return 200, XML, self._envelope(request, f'<error code="{code}">{escape(message)}</error>'), ()

    def _header(self, source_id: str, when: datetime, deleted: bool, record: ReplicaRecord | None) -> str:
        status = ' status="deleted"' if deleted else ""
        sets = "" if deleted or record is None or town_set(record) is None else f"<setSpec>{town_set(record)}</setSpec>"
        return (f"<header{status}><identifier>{ID_PREFIX}{source_id}</identifier>"
                f"<datestamp>{_stamp(when, self.granularity)}</datestamp>{sets}</header>")

    def _record(self, row, with_metadata: bool) -> str:
        source_id, when, deleted, record = row
        header = self._header(source_id, when, deleted, record)
        if not with_metadata:
            return header
        if deleted:
            return f"<record>{header}</record>"
        metadata = dublin_core(record, self._numbers[source_id], self.base_url)
        return f"<record>{header}<metadata>{metadata}</metadata></record>"

    def answer(self, query: str) -> tuple[int, str, bytes, tuple]:
        """(HTTP status, content type, body, extra headers) for GET /oai?query."""
        args = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        verb = args.pop("verb", "")
        request = f"<request verb={quoteattr(verb)}>{escape(self.base_url)}/oai</request>"
        if verb == "Identify":
            inner = (
                f"<Identify><repositoryName>{PUBLISHER} (réplica)</repositoryName><baseURL>{self.base_url}/oai</baseURL>"
                "<protocolVersion>2.0</protocolVersion><adminEmail>replica@localhost</adminEmail>"
                f"<earliestDatestamp>{_stamp(FIRST_DATESTAMP, self.granularity)}</earliestDatestamp>"
                f"<deletedRecord>persistent</deletedRecord><granularity>{self.granularity}</granularity></Identify>"
            )
            return 200, XML, self._envelope(request, inner), ()
        if verb == "ListMetadataFormats":
            formats = "".join(f"<metadataFormat><metadataPrefix>{p}</metadataPrefix><schema>http://localhost/{p}.xsd"
                              f"</schema><metadataNamespace>http://localhost/{p}/</metadataNamespace></metadataFormat>"
                              for p in self.formats)
            return 200, XML, self._envelope(request, f"<ListMetadataFormats>{formats}</ListMetadataFormats>"), ()
        if verb == "ListSets":
            specs = sorted({town_set(r) for r in self.archive.records} - {None})
            sets = "".join(f"<set><setSpec>{s}</setSpec><setName>{s.split(':', 1)[1]}</setName></set>" for s in specs)
            return 200, XML, self._envelope(request, f"<ListSets>{sets}</ListSets>"), ()
        if verb == "GetRecord":
            return self._get_record(request, args)
        if verb in ("ListRecords", "ListIdentifiers"):
            return self._list(request, verb, args)
        return self._error(request, "badVerb", f"Illegal OAI verb: {verb!r}")

    def _get_record(self, request: str, args: dict) -> tuple[int, str, bytes, tuple]:
        if args.get("metadataPrefix") not in self.formats:
            return self._error(request, "cannotDisseminateFormat", f"{args.get('metadataPrefix')!r} is not offered")
        source_id = args.get("identifier", "").removeprefix(ID_PREFIX)
        rows = [row for row in self._headers() if row[0] == source_id]
        if not rows:
            return self._error(request, "idDoesNotExist", f"No record {args.get('identifier')!r}")
        return 200, XML, self._envelope(request, f"<GetRecord>{self._record(rows[0], True)}</GetRecord>"), ()

    def _list(self, request: str, verb: str, args: dict) -> tuple[int, str, bytes, tuple]:
        token = args.pop("resumptionToken", None)
        if token is not None:
            if args:
                return self._error(request, "badArgument", "resumptionToken is an exclusive argument")
            try:
                offset_text, prefix, set_spec, start, end = base64.urlsafe_b64decode(token.encode()).decode().split("|")
                offset = int(offset_text)
            except ValueError:
                return self._error(request, "badResumptionToken", f"The value {token!r} is invalid")
            if offset == self.page_size and self._fault_once("503"):
                return 503, "text/plain; charset=utf-8", b"Busy, retry later", (("Retry-After", str(RETRY_AFTER_S)),)
            if offset == 2 * self.page_size and self._fault_once("badResumptionToken"):
                return self._error(request, "badResumptionToken", "The resumptionToken has expired")
        else:
            offset, prefix = 0, args.get("metadataPrefix", "")
            set_spec, start, end = args.get("set", ""), args.get("from", ""), args.get("until", "")
            if not prefix:
                return self._error(request, "badArgument", "metadataPrefix is required")
        if prefix not in self.formats:
            return self._error(request, "cannotDisseminateFormat", f"{prefix!r} is not offered; ask for oai_dc")
        bounds = []
        for text in (start, end):
            moment = _read_stamp(text, self.granularity) if text else None
            if text and moment is None:
                return self._error(request, "badArgument", f"{text!r} is not a datestamp at granularity {self.granularity}")
            bounds.append(moment)
        if start and end and len(start) != len(end):
            return self._error(request, "badArgument", "from and until have different granularities")
        rows = self._matching(set_spec, start, end, *bounds)
        if not rows:
            return self._error(request, "noRecordsMatch", "No records match the request")
        chunk = rows[offset : offset + self.page_size]
        items = "".join(self._record(row, verb == "ListRecords") for row in chunk)
        following = offset + self.page_size
        if following < len(rows):
            value = base64.urlsafe_b64encode(f"{following}|{prefix}|{set_spec}|{start}|{end}".encode()).decode()
            expires = _stamp(datetime.now(timezone.utc) + timedelta(hours=1), SECONDS)
            items += (f'<resumptionToken expirationDate="{expires}" completeListSize="{len(rows)}" '
                      f'cursor="{offset}">{value}</resumptionToken>')
        elif offset:
            items += f'<resumptionToken completeListSize="{len(rows)}" cursor="{offset}"/>'
        return 200, XML, self._envelope(request, f"<{verb}>{items}</{verb}>"), ()
