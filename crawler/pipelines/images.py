"""Download a record's image and keep its original bytes, content-addressed by sha256.

Scrapy's ImagesPipeline re-encodes JPEGs; this one stores exactly what the server sent,
after proving it is a whole image (see crawler/imagefile.py). Every outcome is recorded on
the item (item["image"]): stored, or failed with a reason and a readable error.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import Request

from crawler.failures import describe
from crawler.imagefile import ImageRejected, inspect_image, sha256_hex, store_bytes
from crawler.items import RecordItem
from crawler.middlewares.profile_limits import KIND_META
from db.models import utcnow
from db.pixels import DEFAULT_MAX_PIXELS


def failed_image(url: str, reason: str, detail: str, received: int | None = None) -> dict:
    return {
        "url": url, "status": "failed", "reason": reason, "error": f"{reason}: {detail}",
        "path": None, "sha256": None, "width": None, "height": None, "format": None,
        "bytes": received, "fetched_at": utcnow(),
    }


class ImageDownloadPipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.images_dir = Path(crawler.settings.get("FOTOFECHA_IMAGES_DIR") or "data/images").absolute()
        self.max_pixels = crawler.settings.getint("FOTOFECHA_MAX_PIXELS") or DEFAULT_MAX_PIXELS

    @classmethod
    def from_crawler(cls, crawler) -> ImageDownloadPipeline:
        return cls(crawler)

    async def process_item(self, item):
        if isinstance(item, RecordItem) and item.get("image_url"):
            item["image"] = await self.fetch(item["image_url"], referer=item.get("page_url"))
        return item

    async def fetch(self, url: str, referer: str | None = None) -> dict:
        request = Request(url, headers={"Referer": referer} if referer else None, priority=2, meta={KIND_META: "image"})
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - any download failure becomes a failed image row
            reason, detail, _ = describe(exc)
            return failed_image(url, f"image_{reason}", f"{detail} ({url})")
        if response.status != 200:
            return failed_image(url, f"image_http_{response.status}", f"HTTP {response.status} for {url}")
        body = response.body
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        try:
            info = inspect_image(body, content_type, self.max_pixels)
        except ImageRejected as exc:
            return failed_image(url, exc.reason, exc.detail, received=len(body))
        sha256 = sha256_hex(body)
        path = store_bytes(self.images_dir, body, sha256, info.format)
        self.crawler.stats.inc_value("fotofecha/images/bytes", len(body))
        return {
            "url": url, "status": "ok", "reason": None, "error": None, "path": str(path),
            "sha256": sha256, "width": info.width, "height": info.height, "format": info.format,
            "bytes": len(body), "fetched_at": utcnow(),
        }
