"""Honour Retry-After on 429 and 503 responses; Scrapy's RetryMiddleware retries at once.

The retry of a throttled request waits at least as long as the server asked (seconds or an
HTTP date). A wait longer than RETRY_AFTER_MAX is not honoured by waiting: the request
gives up and the failure records why, so a crawl never stalls for hours unseen.
Responses without Retry-After pass through to RetryMiddleware unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Request, Response

THROTTLE_STATUSES = frozenset({429, 503})


def parse_retry_after(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header value, None when absent or unreadable.

    >>> parse_retry_after("2")
    2.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc))
    30.0
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class RetryAfterMiddleware:
    """Waits out Retry-After before retrying; install after RetryMiddleware (priority > 550)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("RETRY_AFTER_MAX", 300.0)

    @classmethod
    def from_crawler(cls, crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in THROTTLE_STATUSES or request.meta.get("dont_retry", False):
            return response
        wait = parse_retry_after(response.headers.get(b"Retry-After"))
        if wait is None:
            return response
        stats = self.crawler.stats
        if wait > self.max_wait:
            # Retrying sooner than asked would be rude, waiting this long would stall the crawl.
            request.meta["dont_retry"] = True
            request.meta["retry_after_refused"] = wait
            stats.inc_value("retry_after/refused")
            return response
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"retry_after_{response.status}",
            give_up_log_level=self.crawler.settings.get("RETRY_GIVE_UP_LOG_LEVEL", "INFO"),
        )
        if retry is None:
            return response
        stats.inc_value("retry_after/waits")
        stats.inc_value("retry_after/seconds", wait)
        await asyncio.sleep(wait)
        return retry
