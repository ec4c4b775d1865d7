"""A page the spider cannot parse becomes a failed Page row instead of a log line.

Spider middleware: when a callback raises (a page that is not HTML, markup that trips a
selector, a bug), the exception is turned into a failed PageItem naming it, so the summary
counts it and the next crawl tries the page again. HTTP errors are left to the request's
errback (HttpErrorMiddleware's job).
"""

from __future__ import annotations

from collections.abc import Iterable

from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.items import PageItem


class ParseErrorMiddleware:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ParseErrorMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception) -> Iterable[PageItem] | None:
        if isinstance(exception, HttpError):
            return None
        is_record = "listed_url" in response.meta
        prefix = "page" if is_record else "listing"
        self.crawler.stats.inc_value("fotofecha/parse_errors")
        return [
            PageItem(
                url=response.meta.get("listed_url", response.url),
                kind="record" if is_record else "listing",
                status="failed",
                http_status=response.status,
                reason=f"{prefix}_parse_error",
                error=f"{prefix}_parse_error: {type(exception).__name__}: {exception} ({response.url})",
            )
        ]
