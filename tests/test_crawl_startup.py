"""A crawl does not import the Scrapy parts it switches off (their imports cost its start ~0.45 s)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from pathlib import Path
from scrapy.crawler import Crawler
from scrapy.utils.reactor import install_reactor
from crawler.run import CrawlConfig, crawl_settings
from crawler.spiders.oai import OaiSpider

install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
crawler = Crawler(OaiSpider, crawl_settings(CrawlConfig(), "sqlite://", Path("images"), 1))
crawler._apply_settings()  # builds the extensions and the downloader's middlewares, as a crawl's start does
print(json.dumps({"extensions": [type(e).__name__ for e in crawler.extensions.middlewares],
                  "loaded": sorted(m for m in ("aiohttp", "scrapy.extensions.remote_control",
                                                "scrapy.downloadermiddlewares.cookies") if m in sys.modules)}))
"""


def test_a_crawls_start_leaves_the_switched_off_parts_unimported():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["loaded"] == []
    assert "CoreStats" in probe["extensions"]  # the crawl's own counters are still there


def test_the_http_download_handler_is_imported_with_the_oai_spider_not_at_the_first_request():
    """Its import (inspect.stack() for deprecated aliases, 0.2-0.4 s) belongs to start-up, not to the harvest."""
    probe = "import sys, crawler.spiders.oai; print('scrapy.core.downloader.handlers.http11' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True"
