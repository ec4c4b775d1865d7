"""The OAI-PMH spider: Identify -> ListMetadataFormats -> (ListSets) (oai_preamble.py) -> ListRecords in oai_dc.

Same pipelines and tables as the HTML spider: each record becomes a record item (Dublin Core
mapped by crawler/dublincore.py, from only the elements it reads), each withdrawn one a DeletedItem,
each ListRecords answer a listing PageItem; a page's records go to the pipelines together, as one
RecordBatch of plain ListedRecord dicts (those with a picture to fetch go alone, as RecordItems, so
their downloads overlap). Paging follows resumptionTokens, and the
next page is asked for before this one is stored; completeListSize feeds the progress bar.

Incremental: when a harvest lists to the end, its first responseDate is kept (oai_harvests) and
the next one asks `from` it at the repository's granularity; records whose image failed before
are then asked for with GetRecord, so a transient fault heals as in the HTML crawl. A record that arrives with the
fields already stored complete is not stored or its image fetched again, so a harvest killed
at any moment and rerun ends with the database an uninterrupted one leaves.

OAI errors: noRecordsMatch is an empty, complete harvest; badResumptionToken restarts the list
from the last good datestamp (the last record's, while the list has come in datestamp order;
else from the same `from`; what was stored stays); anything else (cannotDisseminateFormat,
badArgument, ...) ends the harvest, its message in the stat fotofecha/oai/fatal for run.py, as
do an answer that is not OAI-PMH (an HTML page) and tokens that repeat or never end
(crawler/oai_paging.py). A request whose URL would outgrow URLLENGTH_LIMIT (a long token) is
sent by POST, as OAI-PMH allows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl, urlsplit

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dublincore import dc_fields, elements_read, strip_prefix
from crawler.failures import failed_page
from crawler.items import (
    DeletedItem,
    ListedRecord,
    PageItem,
    RecordBatch,
    RecordItem,
    listed_record,
    record_item,
)
from crawler.oai import (
    METADATA_PREFIX,
    NotOaiResponse,
    endpoint_of,
    from_argument,
    parse_list,
    parse_single,
    verb_url,
)
from crawler.oai_paging import ListPaging
from crawler.pipelines.store import NOT_STORED_STAT, STORE_FAILED_STAT
from crawler.pipelines.validate import content_hash
from crawler.profile import DEFAULT_PROFILE, SiteProfile, load_profile
from crawler.spiders import as_bool
from crawler.spiders.oai_preamble import OaiPreamble
from crawler.spiders.oai_tuning import SETTINGS, quiet_collector, restore_collector
from crawler.state import complete_record_hashes, image_failed_ids, last_harvest, save_harvest
from db.session import make_engine

# A list that keeps answering badResumptionToken after this many restarts is given up.
MAX_RESTARTS = 3
FATAL_STAT = "fotofecha/oai/fatal"
# Why a harvest that ran to its end is not complete (records not stored, a page missing): its `from` stays.
UNFINISHED_STAT = "fotofecha/oai/unfinished"


class OaiSpider(OaiPreamble, scrapy.Spider):
    name = "oai"
    # A list page brings a hundred records at once: what Scrapy leaves out for it (oai_tuning), shared transactions.
    custom_settings = SETTINGS

    def __init__(
        self,
        profile: SiteProfile | str = DEFAULT_PROFILE,
        endpoint: str | None = None,
        set_spec: str | None = None,
        limit: int | str | None = None,
        refresh: bool | str = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not endpoint:
            raise ValueError("the oai spider needs endpoint=URL of an OAI-PMH repository")
        self.profile = profile if isinstance(profile, SiteProfile) else load_profile(profile)
        self.dc_read = elements_read(self.profile.oai_holder)  # list pages parse only what dc_fields maps
        self.endpoint = endpoint_of(endpoint)
        self.set_spec = set_spec or None
        self.limit = int(limit) if limit not in (None, "") else None
        self.refresh = as_bool(refresh)
        self.known: dict[str, str] = {}
        self.listed_ids: set[str] = set()  # OAI identifiers listed this run: a restarted list shows them again
        self.from_: str | None = None
        self.granularity: str | None = None
        self.first_response_date: str | None = None
        self.restarts = 0
        self.paging = ListPaging()  # this pass over ListRecords: a restart begins a new one
        self.pass_ids: set[str] = set()  # after a restart: the identifiers this pass has listed
        self.last_datestamp: str | None = None  # the latest datestamp listed: a restart's `from`...
        self.datestamps_ordered = True  # ...while every record so far came in datestamp order
        self.scheduled = 0
        self.listed = 0
        self.deleted = 0
        self.list_complete = False
        self.list_broken = False  # a page of the list could not be read: the harvest is not complete
        self.unhealed: set[str] = set()  # source_ids whose image failed before: asked for again after the list

    # -- start: what is stored already -----------------------------------------------------------
    async def start(self) -> AsyncIterator[scrapy.Request]:
        engine = make_engine(self.settings.get("FOTOFECHA_DB_URL"))
        try:
            if not self.refresh:
                self.known = complete_record_hashes(engine, self.profile.source)
                previous = last_harvest(engine, self.profile.source, self.endpoint, self.set_spec or "")
                self.previous_date = previous.response_date if previous else None
                self.unhealed = image_failed_ids(engine, self.profile.source) if previous else set()
            else:
                self.previous_date = None
        finally:
            engine.dispose()
        self.gc_threshold = quiet_collector()  # restored in closed()
        yield self._request(verb_url(self.endpoint, "Identify"), self.parse_identify)

    def _request(self, url: str, callback, **meta) -> scrapy.Request:
        # OAI URLs repeat legitimately (a restarted list): loops are bounded by MAX_RESTARTS and ListPaging instead.
        url_limit = self.settings.getint("URLLENGTH_LIMIT")  # 0: no limit
        if url_limit and len(url) > url_limit:
            # Scrapy would drop it (a long resumptionToken): OAI-PMH takes the same arguments as a form.
            self.crawler.stats.inc_value("fotofecha/oai/post_requests")
            return scrapy.FormRequest(self.endpoint, formdata=dict(parse_qsl(urlsplit(url).query)),
                                      callback=callback, errback=self.listing_failed, dont_filter=True, meta=meta)
        return scrapy.Request(url, callback=callback, errback=self.listing_failed, dont_filter=True, meta=meta)

    def _not_oai(self, response: Response, verb: str, exc: NotOaiResponse) -> PageItem:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].strip()
        what = "an HTML page" if "html" in content_type or "html" in str(exc).lower() else "an answer"
        return self._fatal(response, "not_oai", (
            f"{self.endpoint} answered {verb} with {what} that is not OAI-PMH XML ({exc}) at {response.url}. "
            "Is the repository down or behind a login? Check --oai (cli.py probe URL finds the OAI-PMH address)."))

    def _endless(self, response: Response, verb: str, problem: str) -> PageItem:
        return self._fatal(response, "endless_list", (
            f"{self.endpoint} {problem} in {verb}: the list would never end, so the harvest stopped there. "
            "The records listed so far are stored; tell the archive, or harvest one --set at a time."))

    def _fatal(self, response: Response, code: str, message: str) -> PageItem:
        self.crawler.stats.set_value(FATAL_STAT, message)
        return PageItem(url=response.url, kind="listing", status="failed", http_status=response.status,
                        reason=f"listing_oai_{code}", error=f"listing_oai_{code}: {message}")

    # -- ListRecords ------------------------------------------------------------------------------
    def _list_request(self, token: str | None = None, since: str | None = None) -> scrapy.Request:
        """The next page of the list, or its first page `from` `since` (a datestamp; None: the harvest's `from`)."""
        if token:
            url = verb_url(self.endpoint, "ListRecords", resumptionToken=token)
        else:
            start = from_argument(since, self.granularity or "") if since else self.from_
            url = verb_url(self.endpoint, "ListRecords", metadataPrefix=METADATA_PREFIX, **{"from": start},
                           set=self.set_spec)
        return self._request(url, self.parse_records, oai_token=token)

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.scheduled >= self.limit

    def parse_records(self, response: Response) -> Iterator:
        try:
            page = parse_list(response.body, self.dc_read)
        except NotOaiResponse as exc:
            yield self._not_oai(response, "ListRecords", exc)
            return
        self.first_response_date = self.first_response_date or page.response_date
        if page.error is not None:
            yield from self._list_error(response, *page.error)
            return
        if page.complete_list_size is not None:
            self.crawler.stats.set_value("fotofecha/oai/complete_list_size", page.complete_list_size)
        stopped, fresh = False, 0
        counts: Counter[str] = Counter()  # summed here, one stats call per counter (not per record)
        parts: list = []  # the page's records, withdrawals and listing row: one RecordBatch
        with_pictures: list[RecordItem] = []  # records with a picture to fetch: one item each (fetches overlap)
        if self.limit is None:
            # Nothing can stop the list midway: the next page is asked for before this page's items are even
            # built, so the repository prepares it while this one is mapped and stored (the list is a chain
            # of requests, and the time between an answer and the next request is the harvest's pace).
            listed = []
            for record in page.records:
                taken, new = self._take(record, counts)
                fresh += new
                if taken:
                    listed.append(record)
            after = list(self._next_page(response, page, fresh, stopped))
            yield from (output for output in after if isinstance(output, scrapy.Request))
            try:
                for record in listed:
                    self._add(record, counts, parts, with_pictures)
            except Exception:
                self.list_broken = True  # the list goes on, but this page's records are lost: not a complete harvest
                raise
        else:
            for record in page.records:
                if self.limit_reached:
                    stopped = True
                    break
                taken, new = self._take(record, counts)
                fresh += new
                if taken:
                    self._add(record, counts, parts, with_pictures)
            # The next page is asked for before this one goes to the pipelines, so the repository prepares it
            # while this page is stored.
            after = list(self._next_page(response, page, fresh, stopped))
            yield from (output for output in after if isinstance(output, scrapy.Request))
        # (A row for an endless list goes after the page's own row, which it replaces.)
        parts.append(PageItem(url=response.url, kind="listing", status="ok", http_status=response.status, seen_urls=[]))
        for key, count in counts.items():
            self.crawler.stats.inc_value(key, count)
        yield RecordBatch(items=parts)
        yield from with_pictures
        yield from (output for output in after if not isinstance(output, scrapy.Request))

    def _take(self, record, counts: Counter[str]) -> tuple[bool, int]:
        """(listed now, fresh): False for a record this run listed already (a restarted list shows it again);
        fresh counts a record new to this pass over the list (ListPaging's measure of progress)."""
        fresh = 0
        if self.restarts and record.identifier not in self.pass_ids:
            self.pass_ids.add(record.identifier)  # a restarted pass goes somewhere while it lists what it had not
            fresh = 1
        if record.identifier in self.listed_ids:
            counts["fotofecha/oai/relisted"] += 1
            return False, fresh
        self.listed_ids.add(record.identifier)
        self._note_datestamp(record.datestamp)
        self.listed += 1
        counts["fotofecha/oai/listed"] += 1
        return True, fresh if self.restarts else 1

    def _add(self, record, counts: Counter[str], parts: list, with_pictures: list) -> None:
        """A listed record as its item: a withdrawal, a record unchanged since stored (skipped), or one to store."""
        if record.deleted:
            self.deleted += 1
            parts.append(self._deleted_item(record))
            return
        item = self._record_item(record, listed=True)
        known_hash = self.known.get(item["source_id"])
        if known_hash is not None and known_hash == content_hash(item):
            counts["fotofecha/records/skipped"] += 1
            return
        self.scheduled += 1
        (with_pictures if item.get("image_url") else parts).append(item)

    def _next_page(self, response: Response, page, fresh: int, stopped: bool) -> Iterator:
        """The request for the list's next page; the fatal row when the list would never end; nothing at its end."""
        if stopped or (page.token and self.limit_reached):
            return
        if page.token:
            problem = self.paging.next_page(page.token, len(page.records), fresh, page.complete_list_size)
            if problem is not None:
                yield self._endless(response, "ListRecords", problem)
                return
            yield self._list_request(page.token)
        else:
            self.list_complete = True
            yield from self._heal_requests()

    def _heal_requests(self) -> Iterator[scrapy.Request]:
        for source_id in sorted(self.unhealed):
            identifier = self.profile.oai_identifier_prefix + source_id
            if identifier not in self.listed_ids:
                url = verb_url(self.endpoint, "GetRecord", identifier=identifier, metadataPrefix=METADATA_PREFIX)
                yield self._request(url, self.parse_get_record)

    def _note_datestamp(self, datestamp: str) -> None:
        if self.last_datestamp is not None and datestamp < self.last_datestamp:
            self.datestamps_ordered = False
        if self.last_datestamp is None or datestamp > self.last_datestamp:
            self.last_datestamp = datestamp

    def parse_get_record(self, response: Response) -> Iterator:
        try:
            error, record = parse_single(response.body)
        except NotOaiResponse as exc:
            error, record = ("not_oai", f"the answer is not OAI-PMH XML ({exc})"), None
        if error is not None or record is None:
            code, message = error or ("noRecord", "the answer holds no record")
            yield PageItem(url=response.url, kind="listing", status="failed", http_status=response.status,
                           reason=f"listing_oai_{code}", error=f"listing_oai_{code}: {message}")
        elif record.deleted:
            yield self._deleted_item(record)
        else:
            yield self._record_item(record)

    def _deleted_item(self, record) -> DeletedItem:
        source_id = strip_prefix(record.identifier, self.profile.oai_identifier_prefix)
        return DeletedItem(source=self.profile.source, source_id=source_id, datestamp=record.datestamp)

    def _record_item(self, record, listed: bool = False) -> RecordItem | ListedRecord:
        """The record's item; listed: a list page's record, a ListedRecord unless it has a picture to fetch
        (the image pipeline takes RecordItems alone)."""
        fields = dc_fields(record, self.profile.oai_holder, self.profile.oai_identifier_prefix)
        # Dublin Core text comes whitespace-normalised from crawler/oai.py; the header's identifier does not.
        fields["source_id"] = " ".join(fields["source_id"].split())
        values = {"source": self.profile.source, **fields}
        if listed and not fields["image_url"]:
            return listed_record(values)
        return record_item(values, normalised=True)

    def _list_error(self, response: Response, code: str, message: str) -> Iterator:
        if code == "noRecordsMatch":
            # Nothing changed since `from` (or the set is empty): a complete, empty harvest.
            yield PageItem(url=response.url, kind="listing", status="ok", http_status=response.status, seen_urls=[])
            self.list_complete = True
            yield from self._heal_requests()
        elif code == "badResumptionToken" and response.meta.get("oai_token") and self.restarts < MAX_RESTARTS:
            # The token expired or the repository forgot it: list again from the last good datestamp (`from` is
            # inclusive: records sharing it come again and are skipped), or from the same `from` when the
            # list did not come in datestamp order (a record not yet listed may be older than the last one).
            self.restarts += 1
            self.crawler.stats.inc_value("fotofecha/oai/restarts")
            self.paging, self.pass_ids = ListPaging(), set()
            since = self.last_datestamp if self.datestamps_ordered and self.last_datestamp else None
            where = f"from its last good datestamp {since}" if since else "from the start"
            yield PageItem(url=response.url, kind="listing", status="failed", http_status=response.status,
                           reason="listing_oai_badResumptionToken",
                           error=f"listing_oai_badResumptionToken: {message} (list restarted {where})")
            yield self._list_request(since=since)
        else:
            yield self._fatal(response, code, (
                f"{self.endpoint} answered ListRecords with {code}: {message or 'no message'}. "
                "Check --oai and --set (cli.py probe URL lists what the repository offers)."))

    def listing_failed(self, failure: Failure) -> Iterator[PageItem]:
        self.list_broken = True
        yield failed_page(failure, "listing")

    def _unfinished(self) -> str | None:
        """Why a harvest that ran to its end is not complete, or None when it is (or was cut on purpose)."""
        not_stored = int(self.crawler.stats.get_value(NOT_STORED_STAT, 0))
        if not_stored:
            return (f"{not_stored} listed records or rows could not be stored (see failed by reason). "
                    "Rerun the same command: it lists them again.")
        if self.list_broken:
            return ("a page of the list could not be read (see failed by reason). "
                    "Rerun the same command: it lists the repository again.")
        if not self.list_complete and not self.limit_reached:
            return "the list stopped before its last page. Rerun the same command: it lists the repository again."
        return None

    def closed(self, reason: str) -> None:
        """A list read to its end, with every record stored or a row with its reason, becomes the next
        harvest's `from`; otherwise UNFINISHED_STAT says why not (run.py exits 1)."""
        restore_collector(getattr(self, "gc_threshold", None))  # start() quieted it
        store_failed = self.crawler.stats.get_value(STORE_FAILED_STAT)
        if store_failed:  # the store stopped the crawl: its reason is the harvest's
            self.crawler.stats.set_value(UNFINISHED_STAT, store_failed)
            return
        if reason != "finished" or self.crawler.stats.get_value(FATAL_STAT):
            return
        unfinished = self._unfinished()
        if unfinished is not None:
            self.crawler.stats.set_value(UNFINISHED_STAT, unfinished)
            return
        if not self.list_complete or not self.first_response_date:
            return
        engine = make_engine(self.settings.get("FOTOFECHA_DB_URL"))
        try:
            save_harvest(engine, self.profile.source, self.endpoint, self.set_spec or "", self.granularity or "",
                         self.first_response_date, self.listed, self.deleted)
        finally:
            engine.dispose()
