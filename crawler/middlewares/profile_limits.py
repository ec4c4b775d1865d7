"""The profile's download limits on every request: redirects stay on the archive's hosts, answers stay small.

Downloader middleware. A redirect (HTTP 3xx or meta refresh) to a host outside the start
URLs' hosts, the profile's `image_hosts` and the host the redirected URL was on is not
followed: it fails with OffsiteRedirect, so the row says `*_offsite_redirect` and names both
addresses. Pages are capped at the
profile's `max_page_mb` and images at `max_image_mb` (Scrapy's per-request
`download_maxsize`); an answer over its cap fails with ResponseTooLarge (`*_too_large`),
aborted as soon as its size is known, before the body is held in memory.
Image requests say so with meta {"fotofecha_kind": "image"}; everything else is a page.
Every request (page, image, IIIF document, each redirect hop) first passes the spider's
FetchGuard (crawler/hostguard.py): one off the archive's hosts, on an internal address or
not http(s) fails with RefusedFetch (`*_offsite_host`, `*_refused_address`, `*_refused_scheme`)
before any connection is made.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Request

from crawler.hostguard import FetchGuard
from crawler.profile import MB, SiteProfile

KIND_META = "fotofecha_kind"  # request.meta key: "image" for image downloads, absent for pages
LIMIT_FIELD_META = "fotofecha_limit_field"  # request.meta key: the profile field behind download_maxsize


class OffsiteRedirect(IgnoreRequest):
    """A redirect led off the archive's hosts; it was not followed."""


class RefusedFetch(IgnoreRequest):
    """The URL is off the archive's hosts or on an internal address; nothing was asked."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # offsite_host | refused_address | refused_scheme


class ResponseTooLarge(Exception):
    """The answer is larger than the profile allows for its kind; the download was aborted."""


def allowed_hosts(profile: SiteProfile, start_urls: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Hosts a redirect may lead to (each with its subdomains): the start URLs', the profile's, image_hosts.

    A leading "www." is dropped, so a redirect from www.archive.example to archive.example stays on site.

    >>> from crawler.profile import load_profile
    >>> allowed_hosts(load_profile("replica"), ["http://127.0.0.1:8000/fotos"])
    ('127.0.0.1',)
    """
    urls = [*start_urls, *(u for u in profile.start_urls if urlsplit(u).hostname)]
    hosts = [urlsplit(u).hostname or "" for u in urls] + list(profile.image_hosts)
    return tuple(dict.fromkeys(h.lower().removeprefix("www.") for h in hosts if h))


def on_hosts(url: str, hosts: tuple[str, ...]) -> bool:
    """Whether `url`'s host (any port) is one of `hosts` or a subdomain of one.

    >>> on_hosts("http://img.archive.example:8080/a.jpg", ("archive.example",)), on_hosts("http://evil.example/", ("archive.example",))
    (True, False)
    """
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return any(host == h or host.endswith("." + h) for h in hosts)


class ProfileLimitsMiddleware:
    """Install with a number above RedirectMiddleware's 600, so process_exception sees a cancel first."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self._hosts: tuple[str, ...] | None = None
        self._guard: FetchGuard | None = None

    @classmethod
    def from_crawler(cls, crawler) -> ProfileLimitsMiddleware:
        return cls(crawler)

    @property
    def hosts(self) -> tuple[str, ...]:
        if self._hosts is None:
            spider = self.crawler.spider
            self._hosts = allowed_hosts(spider.profile, getattr(spider, "start_urls", ()))
        return self._hosts

    def process_request(self, request: Request) -> None:
        profile: SiteProfile | None = getattr(self.crawler.spider, "profile", None)
        if profile is None:
            return
        if request.meta.get(KIND_META) == "image":
            request.meta.setdefault("download_maxsize", profile.max_image_bytes)
            request.meta.setdefault(LIMIT_FIELD_META, "max_image_mb")
        else:
            request.meta.setdefault("download_maxsize", profile.max_page_bytes)
            request.meta.setdefault(LIMIT_FIELD_META, "max_page_mb")
        redirected_from = request.meta.get("redirect_urls")
        if redirected_from and not on_hosts(request.url, self._hosts_for(redirected_from[0])):
            self.crawler.stats.inc_value("fotofecha/offsite_redirects")
            raise OffsiteRedirect(
                f"{redirected_from[0]} redirects to {request.url}, off the archive's hosts "
                f"({', '.join(self.hosts)}); not followed. If that host is the archive's, add it to image_hosts "
                "in the profile"
            )
        if self._guard is None:
            self._guard = FetchGuard.for_spider(self.crawler.spider)
        refusal = self._guard.refusal(request.url)
        if refusal is not None:
            self.crawler.stats.inc_value("fotofecha/refused_fetches")
            reason, detail = refusal
            if redirected_from:
                detail = f"{redirected_from[0]} redirects there; {detail}"
            raise RefusedFetch(reason, detail)

    def _hosts_for(self, first_url: str) -> tuple[str, ...]:
        origin = (urlsplit(first_url).hostname or "").removeprefix("www.")
        return (*self.hosts, origin) if origin else self.hosts

    def process_exception(self, request: Request, exception: Exception) -> None:
        # Scrapy aborts an answer over download_maxsize with DownloadCancelledError: at the headers
        # when the Content-Length says so, else as soon as the body grows past it.
        if not isinstance(exception, DownloadCancelledError):
            return None
        field = request.meta.get(LIMIT_FIELD_META)
        limit = request.meta.get("download_maxsize")
        if field is None or not limit:
            return None
        self.crawler.stats.inc_value("fotofecha/too_large")
        raise ResponseTooLarge(
            f"{request.url} is larger than {limit / MB:g} MB, the profile's {field}; aborted "
            f"(raise [limits] {field} in the profile if the archive really serves such files)"
        )
