"""Download a record's image and keep its original bytes, content-addressed by sha256.

Scrapy's ImagesPipeline re-encodes JPEGs; this one stores exactly what the server sent,
after proving it is a whole image (see crawler/imagefile.py). Every outcome is recorded on
the item (item["image"]): stored, or failed with a reason and a readable error.
A record that links a IIIF manifest or info.json is resolved first (crawler/iiif.py) and the
picture asked for at FOTOFECHA_IIIF_SIZE ("max" or a long side in pixels).
Every request passes the profile-limits middleware, which refuses a picture, manifest or image
service off the archive's hosts or on an internal address (crawler/hostguard.py): the row says
image_offsite_host, image_refused_address or image_refused_scheme (image_iiif_... for a
manifest or info.json). Error text names what was wrong, never what the server sent.
"""

from __future__ import annotations

import json
from pathlib import Path

from scrapy import Request

from crawler.failures import describe
from crawler.iiif import IiifUnreadable, image_request, manifest_image, parse_size
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
        self.iiif_size = parse_size(str(crawler.settings.get("FOTOFECHA_IIIF_SIZE") or "max"))

    @classmethod
    def from_crawler(cls, crawler) -> ImageDownloadPipeline:
        return cls(crawler)

    async def process_item(self, item):
        if isinstance(item, RecordItem) and item.get("image_url"):
            url, via = item["image_url"], item.get("image_via")
            if via:
                url, failed = await self.resolve_iiif(url, via)
                if failed is not None:
                    item["image"] = failed
                    return item
            item["image"] = await self.fetch(url, referer=item.get("page_url"))
        return item

    async def _json(self, url: str) -> tuple[dict | None, dict | None]:
        try:
            response = await self.crawler.engine.download_async(Request(url, priority=2))
        except Exception as exc:  # noqa: BLE001 - any download failure becomes a failed image row
            reason, detail, _ = describe(exc)
            return None, failed_image(url, f"image_iiif_{reason}", f"{detail} ({url})")
        if response.status != 200:
            return None, failed_image(url, f"image_iiif_http_{response.status}", f"HTTP {response.status} for {url}")
        try:
            document = json.loads(response.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f"at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "in its encoding"
            return None, failed_image(url, "image_iiif_unreadable", f"not JSON (invalid {where}) at {url}")
        except RecursionError:
            return None, failed_image(url, "image_iiif_unreadable", f"JSON nested too deep to read at {url}")
        if not isinstance(document, dict):
            kind = type(document).__name__
            return None, failed_image(url, "image_iiif_unreadable", f"a JSON {kind}, not a IIIF object, at {url}")
        return document, None

    async def resolve_iiif(self, url: str, via: str) -> tuple[str, dict | None]:
        """(picture URL, None), or (url, failed image row) when the manifest or info.json cannot be read."""
        document, failed = await self._json(url)
        if failed is not None:
            return url, failed
        try:
            if via == "iiif_manifest":
                service, direct = manifest_image(document)
                if service is None:
                    return direct, None
                info_url = f"{service.rstrip('/')}/info.json"
                document, failed = await self._json(info_url)
                if failed is not None:
                    return url, failed
            return image_request(document, self.iiif_size), None
        except IiifUnreadable as exc:
            return url, failed_image(url, "image_iiif_unreadable", f"{exc} ({url})")

    async def fetch(self, url: str, referer: str | None = None) -> dict:
        try:  # a relative or garbled URL (a IIIF id such as "x") fails in Request(): a row too
            request = Request(url, headers={"Referer": referer} if referer else None, priority=2,
                              meta={KIND_META: "image"})
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
        try:
            path = store_bytes(self.images_dir, body, sha256, info.format)
        except OSError as exc:
            # A full disk or a lost mount: the record is stored with this failed image and fetched again later.
            return failed_image(url, "image_not_saved", f"cannot write under {self.images_dir}: "
                                f"{exc.strerror or exc} ({url})", received=len(body))
        self.crawler.stats.inc_value("fotofecha/images/bytes", len(body))
        return {
            "url": url, "status": "ok", "reason": None, "error": None, "path": str(path),
            "sha256": sha256, "width": info.width, "height": info.height, "format": info.format,
            "bytes": len(body), "fetched_at": utcnow(),
        }
