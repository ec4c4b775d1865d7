"""Items the spider yields and the loader that cleans record fields on the way in."""

from __future__ import annotations

import scrapy
from itemloaders.processors import Identity, MapCompose, TakeFirst
from scrapy.loader import ItemLoader

from crawler.extract import clean_text


class RecordItem(scrapy.Item):
    # from the record page
    source = scrapy.Field()  # profile's source name
    source_id = scrapy.Field()  # Identificador
    title = scrapy.Field()
    holder = scrapy.Field()
    place = scrapy.Field()
    description = scrapy.Field()
    date_raw = scrapy.Field()  # the date exactly as printed
    page_url = scrapy.Field()  # the URL the listing links to (before any redirect)
    image_url = scrapy.Field()  # absolute URL of the main image (or of its IIIF manifest / info.json)
    image_via = scrapy.Field()  # None: image_url is the picture; "iiif_manifest" | "iiif_info": resolve it first
    # filled by the pipelines
    year = scrapy.Field()
    year_min = scrapy.Field()
    year_max = scrapy.Field()
    date_precision = scrapy.Field()
    status = scrapy.Field()  # ok | incomplete
    error = scrapy.Field()  # "reason: detail" when not ok
    reasons = scrapy.Field()  # failure reasons, for the run's counters
    content_hash = scrapy.Field()  # sha256 of the page fields
    image = scrapy.Field()  # dict: url, status, error, reason, path, sha256, width, height, format, bytes


class ListedRecord(dict):
    """A record of an OAI-PMH list page with no picture to fetch: RecordItem's fields in a plain dict.

    A harvest builds thousands a second, and each pipeline reads and sets a dozen fields: a Scrapy
    Item checks every field name in Python, which cost more than the rest of the mapping. It travels
    only inside a RecordBatch, and the pipelines treat it as they treat a RecordItem (RECORD_TYPES).
    """

    __slots__ = ()


# What the pipelines take for a record.
RECORD_TYPES = (RecordItem, ListedRecord)


class PageItem(scrapy.Item):
    """A listing page, or a record page that yielded no record: failures are rows too."""

    url = scrapy.Field()
    kind = scrapy.Field()  # listing | record
    status = scrapy.Field()  # ok | failed
    http_status = scrapy.Field()
    reason = scrapy.Field()  # short code counted in the summary, e.g. page_http_500
    error = scrapy.Field()  # "reason: detail"
    seen_urls = scrapy.Field()  # listing only: known record pages it links to (not refetched)


class DeletedItem(scrapy.Item):
    """An OAI-PMH header with status="deleted": the stored record is marked, never removed."""

    source = scrapy.Field()  # profile's source name
    source_id = scrapy.Field()  # as a RecordItem of the same record would carry it
    datestamp = scrapy.Field()  # when the repository withdrew it


class RecordBatch(scrapy.Item):
    """One OAI-PMH list page's records, withdrawals and listing row, through the pipelines as one item.

    A page lists a hundred records: one item instead of a hundred spares Scrapy's per-item round
    through the scraper and every pipeline. The pipelines treat each part as they would the item
    alone; the store writes the parts in order (crawler/pipelines/store.py).
    """

    items = scrapy.Field()  # ListedRecord | RecordItem | DeletedItem | PageItem, in the order the page listed them


def batch_parts(item) -> list:
    """The items `item` stands for: a RecordBatch's parts, or the item itself."""
    return item["items"] if isinstance(item, RecordBatch) else [item]


def _non_empty(value: str) -> str | None:
    cleaned = clean_text(value)
    return cleaned or None


def record_item(values: dict[str, str | None], normalised: bool = False) -> RecordItem:
    """A RecordItem as RecordLoader would load it from single values, without the loader's cost
    (an OAI-PMH harvest builds thousands a second): text whitespace-normalised, empty text absent.

    normalised=True: the text values have single spaces already (Dublin Core read by crawler/oai.py),
    so they are taken as they are.
    """
    item = RecordItem()
    verbatim = RecordLoader.verbatim
    for name, value in values.items():
        if value is None:
            continue
        if name in verbatim:
            item[name] = value
        else:
            cleaned = value if normalised else clean_text(value)
            if cleaned:
                item[name] = cleaned
    return item


def listed_record(values: dict[str, str | None]) -> ListedRecord:
    """record_item(values, normalised=True), as a ListedRecord: the same fields, the same values."""
    verbatim = RecordLoader.verbatim
    return ListedRecord({name: value for name, value in values.items()
                         if value is not None and (value or name in verbatim)})


class RecordLoader(ItemLoader):
    """Whitespace-normalised single values; empty strings count as absent."""

    default_item_class = RecordItem
    default_input_processor = MapCompose(_non_empty)
    default_output_processor = TakeFirst()
    page_url_in = Identity()
    image_url_in = Identity()
    image_via_in = Identity()
    verbatim = ("page_url", "image_url", "image_via")  # the fields taken as given (the *_in = Identity() above)
