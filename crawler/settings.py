"""Scrapy settings for the harvester: polite by default.

`cli.py crawl` (crawler/run.py) starts from these and overrides only what the user asked
for (--concurrency, --delay, --no-autothrottle). `scrapy crawl archive` from the repository
root uses them as they are (scrapy.cfg points here).
"""

from scrapy.settings import default_settings as _scrapy_defaults

BOT_NAME = "fotofecha"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Tell the archive who we are and how to reach us: replace the contact before a real crawl.
USER_AGENT = (
    "fotofecha/0.1 (photo-dating research crawler; +https://example.org/fotofecha; "
    "contact: CHANGE-ME@example.org)"
)

# Politeness.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # each delay varies by +-50%
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Faults: transient errors are retried; a 429/503 with Retry-After waits as asked first.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_GIVE_UP_LOG_LEVEL = "INFO"
# Longest Retry-After honoured, in seconds; a longer one fails the request with that reason.
RETRY_AFTER_MAX = 300
DOWNLOAD_TIMEOUT = 60
# The profile caps pages and images separately ([limits] max_page_mb, max_image_mb; see
# crawler/middlewares/profile_limits.py); this is the ceiling for anything else.
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024

# A response yields at most one item; Scrapy starts this many worker tasks per response, so
# the default (100) costs more than the items do.
CONCURRENT_ITEMS = 8

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # a crawl opens no listening socket
# Switched off above, and left out of Scrapy's base lists so they are not even imported (Scrapy imports
# every class a list names, None or not): the remote control pulls in aiohttp, the cookies middleware its
# own parsers, about 0.45 s of every crawl's start (tests/test_crawl_startup.py).
_NOT_IMPORTED = {
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
}
EXTENSIONS_BASE = {k: v for k, v in _scrapy_defaults.EXTENSIONS_BASE.items() if k not in _NOT_IMPORTED}
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in _scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in _NOT_IMPORTED
}
HTTPCACHE_ENABLED = False
# Record pages are fetched before the next listing page: memory stays flat on big archives.
DEPTH_PRIORITY = 0

DOWNLOADER_MIDDLEWARES = {
    # process_response runs from high to low numbers: this must see 429/503 before
    # RetryMiddleware (550) retries them at once.
    "crawler.middlewares.retry_after.RetryAfterMiddleware": 560,
    # Above RedirectMiddleware (600): an over-size answer is named before anything retries it.
    "crawler.middlewares.profile_limits.ProfileLimitsMiddleware": 650,
}

SPIDER_MIDDLEWARES = {
    # Next to the spider, so it sees a callback's exception first.
    "crawler.middlewares.parse_errors.ParseErrorMiddleware": 950,
}

ITEM_PIPELINES = {
    "crawler.pipelines.dates.DatePipeline": 100,
    "crawler.pipelines.validate.ValidatePipeline": 200,
    "crawler.pipelines.images.ImageDownloadPipeline": 300,
    "crawler.pipelines.store.StorePipeline": 800,
}

# Where the pipelines write (run.py sets these from CrawlConfig).
FOTOFECHA_DB_URL = None  # None: $FOTOFECHA_DB or sqlite:///data/archive.db
FOTOFECHA_IMAGES_DIR = "data/images"
FOTOFECHA_RUN_ID = None  # CrawlRun.id stamped on Page rows
FOTOFECHA_STORE_BATCH = 1  # items per database transaction (the OAI spider raises it)
FOTOFECHA_STORE_BATCH_S = 0.25  # ...or seconds, whichever comes first
FOTOFECHA_IIIF_SIZE = "max"  # IIIF pictures: "max" or the long side in pixels (e.g. 2048)

LOG_LEVEL = "INFO"
