"""Parse the record's free-text date into year, year_min, year_max and precision."""

from __future__ import annotations

from crawler.items import RecordItem
from db.dates import parse_date


class DatePipeline:
    def process_item(self, item):
        if isinstance(item, RecordItem):
            estimate = parse_date(item.get("date_raw") or "")
            item["year"] = estimate.year
            item["year_min"] = estimate.year_min
            item["year_max"] = estimate.year_max
            item["date_precision"] = estimate.precision
        return item
