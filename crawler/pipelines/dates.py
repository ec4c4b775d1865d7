"""Parse the record's free-text date into year, year_min, year_max and precision."""

from __future__ import annotations

from crawler.items import RECORD_TYPES, RecordItem, batch_parts
from db.dates import parse_date


def set_dates(item: RecordItem) -> None:
    estimate = parse_date(item.get("date_raw") or "")
    item["year"] = estimate.year
    item["year_min"] = estimate.year_min
    item["year_max"] = estimate.year_max
    item["date_precision"] = estimate.precision


class DatePipeline:
    def process_item(self, item):
        for part in batch_parts(item):
            if isinstance(part, RECORD_TYPES):
                set_dates(part)
        return item
