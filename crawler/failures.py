"""Name download failures: a short reason code for the summary and a readable detail for the row.

The code is prefixed by what failed (listing_, page_, image_), e.g. page_http_500,
image_robots_disallowed, listing_connection_error, page_offsite_redirect, listing_too_large,
image_refused_address.
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.python.failure import Failure
from twisted.web.client import ResponseNeverReceived

from crawler.items import PageItem
from crawler.middlewares.profile_limits import OffsiteRedirect, RefusedFetch, ResponseTooLarge

CONNECTION_ERRORS = (ConnectError, DownloadConnectionRefusedError, ConnectionError)
DNS_ERRORS = (DNSLookupError, CannotResolveHostError)
TIMEOUT_ERRORS = (TxTimeoutError, DownloadTimeoutError, TimeoutError)
# The connection closed before a whole answer arrived (no status line, or a body cut short).
CONNECTION_LOST_ERRORS = (ResponseNeverReceived, DownloadFailedError, ResponseDataLossError, ConnectionLost)


def describe(exc: BaseException | Failure) -> tuple[str, str, int | None]:
    """(reason, detail, http_status) for a failed download; reason lacks the listing_/page_/image_ prefix."""
    if isinstance(exc, Failure):
        exc = exc.value
    if isinstance(exc, HttpError):
        response = exc.response
        detail = f"HTTP {response.status} from {response.url}"
        refused = response.request.meta.get("retry_after_refused") if response.request else None
        if refused is not None:
            detail += f" (Retry-After {refused:.0f} s exceeds RETRY_AFTER_MAX; not retried)"
        elif response.request is not None and response.request.meta.get("retry_times"):
            detail += f" after {response.request.meta['retry_times']} retries"
        return f"http_{response.status}", detail, response.status
    if isinstance(exc, OffsiteRedirect):
        return "offsite_redirect", str(exc), None
    if isinstance(exc, RefusedFetch):
        return exc.reason, str(exc), None
    if isinstance(exc, ResponseTooLarge):
        return "too_large", str(exc), None
    if isinstance(exc, IgnoreRequest):
        if "robots" in str(exc).lower():
            return "robots_disallowed", "not fetched: robots.txt disallows it", None
        return "ignored", f"not fetched: {exc}", None
    if isinstance(exc, DNS_ERRORS):
        return "dns_error", f"{type(exc).__name__}: {exc}", None
    if isinstance(exc, CONNECTION_ERRORS):
        return "connection_error", f"{type(exc).__name__}: {exc}", None
    if isinstance(exc, CONNECTION_LOST_ERRORS):
        return "connection_lost", f"the connection closed before a whole answer arrived ({type(exc).__name__})", None
    if isinstance(exc, TIMEOUT_ERRORS):
        return "timeout", f"{type(exc).__name__}: {exc}", None
    return "download_error", f"{type(exc).__name__}: {exc}", None


def failed_page(failure: Failure, kind: str) -> PageItem:
    """The row for a listing (kind "listing") or record page (kind "record") that could not be downloaded."""
    request = failure.request
    url = request.meta.get("listed_url", request.url)
    reason, detail, http_status = describe(failure)
    prefix = "page" if kind == "record" else "listing"
    return PageItem(
        url=url, kind=kind, status="failed", http_status=http_status,
        reason=f"{prefix}_{reason}", error=f"{prefix}_{reason}: {detail}",
    )
