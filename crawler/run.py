"""run_crawl(CrawlConfig) -> CrawlSummary: one harvest, recorded as a CrawlRun row.

The crawl runs on Scrapy's CrawlerRunner in this process (on the reactor thread, see
crawler/reactor.py); the calling thread shows progress on stderr and turns Ctrl-C into a
clean stop. Every fault is a row and a counter; the summary groups failures by reason.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerRunner
from scrapy.settings import Settings
from sqlalchemy import select, update
from twisted.python.failure import Failure

from crawler.imagefile import remove_partial_files
from crawler.pipelines.store import NOT_STORED_STAT, STORE_FAILED_STAT
from crawler.profile import DEFAULT_PROFILE, check_http_url, load_profile, start_urls_for
from crawler.reactor import call_in_reactor
from crawler.spiders.archive import ArchiveSpider
from crawler.spiders.oai import FATAL_STAT, UNFINISHED_STAT, OaiSpider
from db.errors import PipelineError
from db.models import CrawlRun, Page, utcnow
from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import progress
from db.session import make_engine, resolve_url, session_scope

PROGRESS_INTERVAL_S = 0.5
CONNECT_TIMEOUT_S = 15
# Start-page failures caused by the profile's limits (crawler/middlewares/profile_limits.py).
PROFILE_LIMIT_ERRORS = ("listing_too_large:", "listing_offsite_redirect:")


class StartUnreachable(PipelineError):
    """Not one listing page could be read: the start URL is wrong or the archive is down."""


class CrawlAborted(PipelineError):
    """Scrapy could not start the crawl (bad settings or spider arguments)."""


class HarvestRefused(PipelineError):
    """The OAI-PMH repository refused the harvest (no oai_dc, a bad argument, not OAI-PMH at all)."""


@dataclass(frozen=True)
class CrawlConfig:
    profile: str = DEFAULT_PROFILE  # profile name (crawler/profiles/NAME.toml) or path of a TOML file
    start_url: str | None = None  # replaces the profile's start URLs; a bare origin joins its relative ones
    db_url: str | None = None  # SQLAlchemy URL; None: $FOTOFECHA_DB, else sqlite:///data/archive.db
    images_dir: str = "data/images"  # image files go to <images_dir>/<sha[:2]>/<sha>.<ext>
    limit: int | None = None  # fetch at most this many record pages this run; None: all
    concurrency: int | None = None  # requests in flight per domain; None: settings.py (2)
    delay: float | None = None  # seconds between requests to a domain; None: settings.py (1.0)
    autothrottle: bool = True  # adapt the delay to the server's latency (polite); off for benchmarks/tests
    refresh: bool = False  # refetch pages and images already stored; count updated/unchanged
    oai: str | None = None  # OAI-PMH base URL: harvest its oai_dc records instead of walking HTML listings
    oai_set: str | None = None  # with oai: harvest only this setSpec
    iiif_size: str = "max"  # IIIF pictures: "max" or the long side in pixels, e.g. "2048"
    progress: bool = True  # progress bar on stderr
    verbose: bool = False  # show Scrapy's own log on stderr
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger images are recorded as image_too_many_pixels (db.pixels)


@dataclass(frozen=True)
class CrawlSummary:
    run_id: int  # CrawlRun.id
    profile: str  # profile name
    start_urls: tuple[str, ...]  # where the listing walk began
    new: int  # records stored for the first time
    updated: int  # records refetched whose fields or image changed
    unchanged: int  # records refetched, identical
    skipped: int  # records already stored complete, not fetched (no --refresh)
    incomplete: int  # records stored with status incomplete (a required field missing)
    images_stored: int  # images stored ok this run
    images_failed: int  # image rows stored failed this run
    listing_pages: int  # listing pages read
    robots_disallowed: int  # URLs not fetched because robots.txt disallows them
    failed: dict[str, int] = field(default_factory=dict)  # reason -> count (pages, images, records)
    internal_errors: int = 0  # errors Scrapy logged outside the rows (rerun with --verbose)
    requests: int = 0  # HTTP requests made
    elapsed_s: float = 0.0  # wall time of the crawl
    interrupted: bool = False  # stopped by Ctrl-C before the end
    deleted: int = 0  # OAI-PMH: stored records the repository marked deleted (status "deleted")
    not_stored: int = 0  # items that reached no row (database refused, a pipeline raised): rerun fetches them
    unfinished: str | None = None  # why the harvest is not complete and must be rerun; None when it is

    @property
    def records(self) -> int:
        return self.new + self.updated + self.unchanged

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s else 0.0


def crawl_settings(config: CrawlConfig, db_url: str, images_dir: Path, run_id: int) -> Settings:
    """settings.py, plus what the user asked for on the command line."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    overrides: dict[str, object] = {
        "FOTOFECHA_DB_URL": db_url,
        "FOTOFECHA_IMAGES_DIR": str(images_dir),
        "FOTOFECHA_RUN_ID": run_id,
        "FOTOFECHA_MAX_PIXELS": config.max_pixels,
        "FOTOFECHA_IIIF_SIZE": config.iiif_size,
        "AUTOTHROTTLE_ENABLED": config.autothrottle,
        "LOG_LEVEL": "DEBUG" if config.verbose else "INFO",
    }
    if config.concurrency is not None:
        overrides["CONCURRENT_REQUESTS_PER_DOMAIN"] = config.concurrency
        overrides["CONCURRENT_REQUESTS"] = max(16, config.concurrency * 2)
    if config.delay is not None:
        overrides["DOWNLOAD_DELAY"] = config.delay
        overrides["AUTOTHROTTLE_START_DELAY"] = max(config.delay, 0.1)
    settings.setdict(overrides, priority="cmdline")
    return settings


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _summarize(run_id: int, profile: str, start_urls, stats: dict, elapsed_s: float, interrupted: bool) -> CrawlSummary:
    def count(key: str) -> int:
        return int(stats.get(key, 0))

    failed = {
        key.removeprefix("fotofecha/failed/"): int(value)
        for key, value in sorted(stats.items())
        if key.startswith("fotofecha/failed/")
    }
    robots = sum(n for reason, n in failed.items() if reason.endswith("robots_disallowed"))
    return CrawlSummary(
        run_id=run_id,
        profile=profile,
        start_urls=tuple(start_urls),
        new=count("fotofecha/records/new"),
        updated=count("fotofecha/records/updated"),
        unchanged=count("fotofecha/records/unchanged"),
        skipped=count("fotofecha/records/skipped"),
        incomplete=count("fotofecha/records/incomplete"),
        images_stored=count("fotofecha/images/ok"),
        images_failed=count("fotofecha/images/failed"),
        listing_pages=count("fotofecha/pages/listing"),
        robots_disallowed=robots,
        failed=failed,
        internal_errors=count("log_count/ERROR") + count("log_count/CRITICAL"),
        requests=count("downloader/request_count"),
        elapsed_s=elapsed_s,
        interrupted=interrupted,
        deleted=count("fotofecha/records/deleted"),
        not_stored=count(NOT_STORED_STAT),
        unfinished=stats.get(UNFINISHED_STAT) or (
            f"{count(NOT_STORED_STAT)} items could not be stored (see failed by reason). "
            "Rerun the same command to fetch them." if count(NOT_STORED_STAT) else None),
    )


class _Progress:
    """records/s, images/s and errors so far, redrawn on stderr from the crawler's stats."""

    def __init__(self, enabled: bool) -> None:
        self.bar = progress(desc="crawl", unit=" rec", file=sys.stderr, enabled=enabled, dynamic_ncols=True)
        self.started = time.monotonic()
        self.shown = 0

    def update(self, stats: dict) -> None:
        total = stats.get("fotofecha/oai/complete_list_size")
        if total and self.bar.total != total:
            self.bar.total = int(total)  # an OAI-PMH list says how long it is
        records = int(stats.get("fotofecha/oai/listed") or stats.get("fotofecha/records/done", 0))
        images = int(stats.get("fotofecha/images/ok", 0))
        errors = sum(int(v) for k, v in stats.items() if k.startswith("fotofecha/failed/"))
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.set_postfix_str(f"images {images} ({images / elapsed:.1f}/s), errors {errors}", refresh=False)
        self.bar.update(records - self.shown)
        self.shown = records

    def close(self) -> None:
        self.bar.close()


class _LogToStderr:
    """With --verbose, Scrapy's log goes to stderr for the duration of the crawl."""

    def __init__(self, enabled: bool) -> None:
        self.handler = logging.StreamHandler(sys.stderr) if enabled else logging.NullHandler()
        self.handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
        self.target = logging.root if enabled else logging.getLogger("scrapy")

    def __enter__(self) -> None:
        self.target.addHandler(self.handler)
        self.level = self.target.level
        if self.target is logging.root:
            logging.root.setLevel(logging.DEBUG)

    def __exit__(self, *exc) -> None:
        self.target.removeHandler(self.handler)
        self.target.setLevel(self.level)


def _open_run(engine, profile_name: str, start_urls, refresh: bool) -> int:
    with session_scope(engine) as session:
        # A run still "running" here was killed: the rows it wrote stand, the run did not finish.
        session.execute(update(CrawlRun).where(CrawlRun.status == "running").values(status="interrupted"))
        run = CrawlRun(start_url=start_urls[0], profile=profile_name, status="running", refresh=refresh)
        session.add(run)
        session.flush()
        return run.id


def _close_run(engine, summary: CrawlSummary, scrapy_stats: dict) -> None:
    payload = {k: v for k, v in asdict(summary).items() if k not in ("start_urls",)}
    payload["scrapy"] = {k: _jsonable(v) for k, v in sorted(scrapy_stats.items())}
    with session_scope(engine) as session:
        run = session.get(CrawlRun, summary.run_id)
        run.finished_at = utcnow()
        run.status = "interrupted" if summary.interrupted else "incomplete" if summary.unfinished else "finished"
        run.stats = json.dumps(payload, ensure_ascii=False, sort_keys=True)


def check_reachable(url: str, option: str = "--start-url") -> None:
    """Fail fast, before Scrapy's polite retries, when nothing listens at the start URL's host.

    `option` is the command-line option that gave the URL (--start-url, or --oai), named in the fix.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise StartUnreachable(
            f"Cannot connect to {parts.hostname}:{port} for the start page {url}: {exc.strerror or exc}. "
            f"Check the address (is the archive up?) or pass another {option}."
        ) from None


def _first_listing_error(engine, run_id: int) -> str | None:
    with session_scope(engine) as session:
        return session.execute(
            select(Page.error).where(Page.run_id == run_id, Page.kind == "listing", Page.status == "failed")
        ).scalars().first()


def run_crawl(config: CrawlConfig) -> CrawlSummary:
    """Harvest the archive described by `config.profile` into `config.db_url`.

    Resumable: rerunning the same config after a kill finishes the job; incremental: record
    pages and images stored complete are not fetched again unless config.refresh.

    >>> run_crawl(CrawlConfig(profile="replica", start_url="http://127.0.0.1:8000"))  # doctest: +SKIP
    """
    profile = load_profile(config.profile)
    if config.oai:
        start_urls = (check_http_url(config.oai),)
        spider, spider_args = OaiSpider, {"endpoint": config.oai, "set_spec": config.oai_set}
    else:
        start_urls = start_urls_for(profile, config.start_url)
        spider, spider_args = ArchiveSpider, {"start_url": config.start_url}
    db_url = resolve_url(config.db_url)
    images_dir = Path(config.images_dir).absolute()
    option = "--oai" if config.oai else "--start-url"
    check_reachable(start_urls[0], option)
    engine = make_engine(db_url)
    try:
        remove_partial_files(images_dir)
        run_id = _open_run(engine, profile.name, start_urls, config.refresh)
        runner = CrawlerRunner(crawl_settings(config, db_url, images_dir, run_id))
        crawler_box: dict = {}
        done = threading.Event()

        def start() -> None:
            try:
                crawler = runner.create_crawler(spider)
                crawler_box["crawler"] = crawler
                deferred = runner.crawl(
                    crawler, profile=profile, limit=config.limit, refresh=config.refresh, **spider_args
                )
            except Exception:  # handed to this function's caller below, as CrawlAborted
                crawler_box["failure"] = Failure()
                done.set()
                return
            deferred.addErrback(lambda failure: crawler_box.setdefault("failure", failure))
            deferred.addBoth(lambda _: done.set())

        progress = _Progress(config.progress)
        interrupted = False
        started = time.monotonic()
        with _LogToStderr(config.verbose):
            call_in_reactor(start)
            try:
                while not done.wait(PROGRESS_INTERVAL_S):
                    if "crawler" in crawler_box:
                        progress.update(crawler_box["crawler"].stats.get_stats())
            except KeyboardInterrupt:
                interrupted = True
                print("\nStopping: finishing the items in flight (Ctrl-C again to abandon them)...", file=sys.stderr)
                call_in_reactor(runner.stop)
                done.wait()
            stats = crawler_box["crawler"].stats.get_stats() if "crawler" in crawler_box else {}
            progress.update(stats)
            progress.close()
        elapsed = time.monotonic() - started
        engine.dispose()  # the pooled connection may have died with a database restarted during a long crawl
        summary = _summarize(run_id, profile.name, start_urls, stats, elapsed, interrupted)
        _close_run(engine, summary, stats)
        failure = crawler_box.get("failure")
        if failure is not None:
            raise CrawlAborted(
                f"The crawl could not start: {failure.getErrorMessage()}. Rerun with --verbose for Scrapy's log."
            )
        if stats.get(FATAL_STAT):
            raise HarvestRefused(stats[FATAL_STAT])
        if summary.listing_pages == 0 and summary.records == 0 and not interrupted and not stats.get(STORE_FAILED_STAT):
            error = (_first_listing_error(engine, run_id) or "no listing page was read").rstrip(".")
            # These errors name their fix (in the profile); the address is not what is wrong.
            fix = "" if error.startswith(PROFILE_LIMIT_ERRORS) else (
                f" Check the address (is the archive up?) or pass another {option}.")
            raise StartUnreachable(f"Could not read the start page {start_urls[0]}: {error}.{fix}")
        return summary
    finally:
        engine.dispose()


def format_summary(summary: CrawlSummary) -> str:
    """The end-of-crawl report: new, updated, unchanged, failed by reason."""
    state = "interrupted" if summary.interrupted else "finished, not complete," if summary.unfinished else "finished"
    lines = [
        f"Crawl run {summary.run_id} ({summary.profile}) {state} in {summary.elapsed_s:.1f} s: "
        f"{summary.records} records fetched ({summary.records_per_s:.1f}/s), {summary.requests} requests.",
        f"  records: {summary.new} new, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.skipped} already complete (not fetched), {summary.incomplete} incomplete"
        + (f", {summary.deleted} deleted" if summary.deleted else ""),
        f"  images: {summary.images_stored} stored, {summary.images_failed} failed",
        f"  listing pages: {summary.listing_pages}; robots.txt disallowed: {summary.robots_disallowed}",
    ]
    if summary.failed:
        lines.append("  failed by reason:")
        width = max(len(reason) for reason in summary.failed)
        lines.extend(f"    {reason:<{width}}  {count}" for reason, count in summary.failed.items())
    else:
        lines.append("  failed by reason: none")
    if summary.unfinished:
        lines.append(f"  not complete: {summary.unfinished}")
    if summary.internal_errors:
        lines.append(f"  {summary.internal_errors} errors outside the rows: rerun with --verbose to see them.")
    return "\n".join(lines)
