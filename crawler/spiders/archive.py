"""The archive spider: listing pages (with pagination) -> record pages -> RecordItems.

Listings may nest (browse by town, then by decade...): a profile's listing_links name the links
from a listing to deeper listings, followed to max_listing_depth, each listing fetched once.

Everything site-specific comes from the profile. Record pages already stored complete are
not fetched again unless refresh is on; a failure of any page becomes a PageItem, so it is
stored with its reason. Images are fetched by the image pipeline, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dublincore import image_kind
from crawler.extract import extract_fields, extract_image_url, extract_links
from crawler.failures import failed_page
from crawler.items import PageItem, RecordLoader
from crawler.profile import DEFAULT_PROFILE, SiteProfile, load_profile, start_urls_for
from crawler.spiders import as_bool
from crawler.state import complete_page_urls
from db.session import make_engine

# Record pages before the next listing page: the queue stays short on a big archive.
RECORD_PRIORITY = 1


class ArchiveSpider(scrapy.Spider):
    name = "archive"

    def __init__(
        self,
        profile: SiteProfile | str = DEFAULT_PROFILE,
        start_url: str | None = None,
        limit: int | str | None = None,
        refresh: bool | str = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.profile = profile if isinstance(profile, SiteProfile) else load_profile(profile)
        self.start_urls = list(start_urls_for(self.profile, start_url))
        self.limit = int(limit) if limit not in (None, "") else None
        self.refresh = as_bool(refresh)
        self.known_complete: set[str] = set()
        self.scheduled_records = 0
        self.listings_seen: set[str] = set(self.start_urls)  # loop protection for nested listings

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if not self.refresh:
            engine = make_engine(self.settings.get("FOTOFECHA_DB_URL"))
            try:
                self.known_complete = complete_page_urls(engine, self.profile.source)
            finally:
                engine.dispose()
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse_listing, errback=self.listing_failed)

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.scheduled_records >= self.limit

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request | PageItem]:
        seen: list[str] = []
        for url in extract_links(response, self.profile.record_links, response.url):
            if url in self.known_complete:
                seen.append(url)
                self.crawler.stats.inc_value("fotofecha/records/skipped")
                continue
            if self.limit_reached:
                break
            self.scheduled_records += 1
            yield scrapy.Request(
                url,
                callback=self.parse_record,
                errback=self.record_failed,
                priority=RECORD_PRIORITY,
                meta={"listed_url": url},
            )
        yield PageItem(url=response.url, kind="listing", status="ok", http_status=response.status, seen_urls=seen)
        if self.limit_reached:
            return
        depth = response.meta.get("listing_depth", 0)
        next_urls = [u for u in extract_links(response, self.profile.next_page, response.url) if u not in self.listings_seen]
        if next_urls:
            yield self._listing_request(next_urls[0], depth)
        if self.profile.listing_links:
            yield from self._deeper_listings(response, depth)

    def _listing_request(self, url: str, depth: int) -> scrapy.Request:
        self.listings_seen.add(url)
        return scrapy.Request(url, callback=self.parse_listing, errback=self.listing_failed,
                              meta={"listing_depth": depth})

    def _deeper_listings(self, response: Response, depth: int) -> Iterator[scrapy.Request]:
        for url in extract_links(response, self.profile.listing_links, response.url):
            if url in self.listings_seen:
                continue  # a link back up (or across): already walked
            if depth + 1 > self.profile.max_listing_depth:
                self.crawler.stats.inc_value("fotofecha/listings/depth_limited")
                continue
            yield self._listing_request(url, depth + 1)

    def parse_record(self, response: Response) -> Iterator:
        listed_url = response.meta.get("listed_url", response.url)
        extraction = extract_fields(response, self.profile.labels, self.profile.fields_container)
        if "source_id" not in extraction.fields:
            seen = ", ".join(extraction.labels) or "none"
            yield PageItem(
                url=listed_url, kind="record", status="failed", http_status=response.status,
                reason="page_no_identifier",
                error=(
                    f"page_no_identifier: no value for the label mapped to source_id on {response.url} "
                    f"(labels seen: {seen}); check the profile's [labels] and fields_container with cli.py probe"
                ),
            )
            return
        loader = RecordLoader()
        loader.add_value("source", self.profile.source)
        for name, value in extraction.fields.items():
            loader.add_value(name, value)
        loader.add_value("page_url", listed_url)
        image_url = extract_image_url(response, self.profile.image, response.url)
        loader.add_value("image_url", image_url)
        # A profile whose image selector finds a IIIF manifest or info.json gets the picture through it.
        kind = image_kind(image_url) if image_url else None
        loader.add_value("image_via", kind if kind in ("iiif_manifest", "iiif_info") else None)
        yield loader.load_item()

    def record_failed(self, failure: Failure) -> Iterator[PageItem]:
        yield failed_page(failure, "record")

    def listing_failed(self, failure: Failure) -> Iterator[PageItem]:
        yield failed_page(failure, "listing")
