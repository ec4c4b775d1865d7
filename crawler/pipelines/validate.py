"""Decide a record's status: "ok", or "incomplete" with an error naming what is missing.

Also fingerprints the page's fields (content_hash), which tells an updated record from an
unchanged one when a crawl runs with --refresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from json.encoder import encode_basestring

from crawler.items import RECORD_TYPES, RecordItem, batch_parts
from crawler.profile import RECORD_FIELDS
from db.dates import says_undated

HASHED_FIELDS = (*RECORD_FIELDS, "image_url")
# The fields in the order json.dumps(sort_keys=True) wrote them, and one encoder (json.dumps with
# options builds a new one per call): the same hash, computed a few thousand times a second by a harvest.
_SORTED_FIELDS = tuple(sorted(HASHED_FIELDS))
_ENCODER = json.JSONEncoder(ensure_ascii=False)


# Each field's '"name": ' as json.dumps writes it: text values are written in between with the function its
# encoder uses for them (ensure_ascii=False), so the payload is json.dumps' without building a dict per record.
_KEYS = tuple(zip((f'"{name}": ' for name in _SORTED_FIELDS), _SORTED_FIELDS, strict=True))


def content_hash(item: Mapping[str, object]) -> str:
    get = item.get
    parts = []
    for key, name in _KEYS:
        value = get(name)
        if value is None:
            parts.append(key + "null")
        elif value.__class__ is str:
            parts.append(key + encode_basestring(value))
        else:  # not text (never from the spiders): the encoder writes it
            payload = _ENCODER.encode({name: get(name) for name in _SORTED_FIELDS})
            break
    else:
        payload = "{" + ", ".join(parts) + "}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_required(item: RecordItem, required: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(reasons, messages) for what `item` lacks; both empty when it is complete."""
    reasons: list[str] = []
    messages: list[str] = []
    missing = [name for name in required if name != "year" and not item.get(name)]
    if missing:
        reasons.append("record_missing_fields")
        messages.append(f"record_missing_fields: {', '.join(missing)}")
    date_raw = item.get("date_raw")
    if "year" in required and date_raw and item.get("year") is None:
        if says_undated(date_raw):
            reasons.append("record_undated")
            messages.append(f"record_undated: the archive gives no date ({date_raw!r})")
        else:
            reasons.append("record_date_not_understood")
            messages.append(f"record_date_not_understood: {date_raw!r} gives no year")
    return reasons, messages


class ValidatePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ValidatePipeline:
        return cls(crawler)

    def process_item(self, item):
        required = self.crawler.spider.profile.required
        for part in batch_parts(item):
            if isinstance(part, RECORD_TYPES):
                validate(part, required)
        return item


def validate(item: RecordItem, required: tuple[str, ...]) -> None:
    """Set the item's status, error, reasons and content_hash."""
    reasons, messages = check_required(item, required)
    item["status"] = "incomplete" if reasons else "ok"
    item["error"] = "; ".join(messages) or None
    item["reasons"] = reasons
    item["content_hash"] = content_hash(item)
