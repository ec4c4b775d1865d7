"""RetryAfterMiddleware: waits what the server asks before retrying a 429/503, within a cap."""

from __future__ import annotations

import asyncio
import time

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares.retry_after import RetryAfterMiddleware, parse_retry_after


def middleware(**settings) -> RetryAfterMiddleware:
    crawler = get_crawler(Spider, settings_dict={"RETRY_AFTER_MAX": 5, **settings})
    crawler.spider = Spider.from_crawler(crawler, name="probe")
    return RetryAfterMiddleware.from_crawler(crawler)


def respond(status: int, retry_after: str | None = None) -> tuple[Request, HtmlResponse]:
    request = Request("http://127.0.0.1:9/foto/1")
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return request, HtmlResponse(request.url, status=status, headers=headers, body=b"", request=request)


@pytest.mark.parametrize("status", [429, 503])
def test_waits_then_retries(status):
    mw = middleware()
    request, response = respond(status, "1")
    started = time.monotonic()
    retry = asyncio.run(mw.process_response(request, response))
    assert time.monotonic() - started >= 1.0
    assert isinstance(retry, Request) and retry.url == request.url and retry.meta["retry_times"] == 1
    assert mw.crawler.stats.get_value("retry_after/waits") == 1


def test_too_long_a_wait_gives_up_with_the_reason():
    mw = middleware()
    request, response = respond(429, "3600")
    assert asyncio.run(mw.process_response(request, response)) is response
    assert request.meta["dont_retry"] is True and request.meta["retry_after_refused"] == 3600.0


@pytest.mark.parametrize(("status", "header"), [(429, None), (200, "1"), (500, "1")])
def test_other_responses_pass_through(status, header):
    request, response = respond(status, header)
    assert asyncio.run(middleware().process_response(request, response)) is response


def test_retries_are_bounded():
    mw = middleware(RETRY_TIMES=1)
    request, response = respond(429, "0")
    retry = asyncio.run(mw.process_response(request, response))
    again, response = respond(429, "0")
    again.meta.update(retry.meta)
    assert asyncio.run(mw.process_response(again, response)) is response


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("1", 1.0), (" 120 ", 120.0), ("", None), ("soon", None), (None, None), (b"3", 3.0),
     ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds
