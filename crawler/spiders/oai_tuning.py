"""What the OAI-PMH spider changes in Scrapy and in Python for speed: a list brings a hundred records a page.

A metadata harvest spends its time on each record's few microseconds of work, so the per-response
work that an OAI-PMH list does not need is left out (SETTINGS), and the garbage collector, which
would otherwise walk everything start-up built again and again, is quieted while the harvest runs
(quiet_collector, restored by restore_collector when the spider closes).
"""

from __future__ import annotations

import gc

# Scrapy imports its HTTP download handler at the first request, inside the harvest's clock, and the module
# builds deprecated aliases with inspect.stack() there (0.2-0.4 s): imported with the spider, at start-up.
import scrapy.core.downloader.handlers.http11  # noqa: F401

from crawler.settings import SPIDER_MIDDLEWARES

# Scrapy's spider middlewares that do nothing for an OAI-PMH list, left out of every response's chain:
# Referer headers, depth counting (paging is bounded by ListPaging), the URL length check (the spider
# posts a long URL instead) and the meta-copy warning. HttpErrorMiddleware stays: an HTTP error goes to
# the spider's listing_failed, a row.
UNUSED_SPIDER_MIDDLEWARES = (
    "scrapy.spidermiddlewares.referer.RefererMiddleware",
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware",
    "scrapy.spidermiddlewares.depth.DepthMiddleware",
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware",
)
# The OAI spider's custom_settings.
SETTINGS = {
    "SPIDER_MIDDLEWARES": {**SPIDER_MIDDLEWARES, **dict.fromkeys(UNUSED_SPIDER_MIDDLEWARES)},
    # Up to ten pages per transaction (or FOTOFECHA_STORE_BATCH_S' worth): a commit costs what storing 40 records does.
    "FOTOFECHA_STORE_BATCH": 1000,
    # Scrapy's check for `return value` in generator callbacks re-reads the callback's source (ast.parse) for
    # every response whose bound method it no longer holds: 7% of a metadata harvest's CPU. These have none.
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
}
# Allocations between two collections of the young generation while a harvest runs (Python's default: 700).
GC_YOUNG = 20_000


def quiet_collector() -> tuple[int, ...]:
    """Quiet the garbage collector for a harvest; returns the thresholds restore_collector puts back.

    What start-up left (modules, Scrapy's objects) is moved out of the collector's reach: a harvest builds
    thousands of short-lived objects a second, and each full collection would walk all of it again. The
    young generation is collected every GC_YOUNG allocations instead of 700: a page's records are freed by
    reference counting, so a collection finds almost nothing to do, and costs its walk regardless.
    """
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, *threshold[1:])
    return threshold


def restore_collector(threshold: tuple[int, ...] | None) -> None:
    """Undo quiet_collector: start-up's objects can be collected again, as often as before."""
    gc.unfreeze()
    if threshold:
        gc.set_threshold(*threshold)
