"""The /records pages at scale: every sort and filter, first, middle and last page, through modeling/app/records.py.

    .venv/bin/python benchmarks/scale_records.py --db sqlite:///archive.db --model runs/x --out records.json

Each page is asked twice and the second answer timed (the first warms the database's cache, as a person
paging would have). Writes the milliseconds per page, their p95 and the slowest page as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from db.models import ImageEstimate, Record  # noqa: E402
from db.session import make_engine, session_scope  # noqa: E402
from modeling.app.dating import model_key  # noqa: E402
from modeling.app.records import SORTS, RecordsQuery, list_records  # noqa: E402

PER_PAGE = 25  # rows per page, as the app shows them


def filters(engine, key: str) -> dict[str, dict]:
    """Every filter the page offers, each with a value that selects something in this archive."""
    with session_scope(engine) as session:
        period = session.scalar(select(ImageEstimate.period).where(ImageEstimate.model_key == key)
                                .group_by(ImageEstimate.period).order_by(func.count().desc()).limit(1))
        holder = session.scalar(select(Record.holder).where(Record.holder.is_not(None)).limit(1))
    return {"none": {}, "period": {"period": period}, "holder": {"holder": holder}, "suspect": {"suspect": True},
            "undated": {"undated": True}, "kind": {"kind": "model"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    engine = make_engine(args.db)
    key = model_key(args.model)
    pages = []
    for sort in SORTS:
        for name, chosen in filters(engine, key).items():
            first = list_records(engine, key, RecordsQuery(sort=sort, per_page=PER_PAGE, **chosen))
            for where, number in (("first", 1), ("middle", math.ceil(first.pages / 2)), ("last", first.pages)):
                query = RecordsQuery(page=number, sort=sort, per_page=PER_PAGE, **chosen)
                list_records(engine, key, query)
                started = time.perf_counter()
                page = list_records(engine, key, query)
                ms = (time.perf_counter() - started) * 1000
                pages.append({"sort": sort, "filter": name, "page": where, "ms": round(ms, 1), "total": page.total})
    engine.dispose()
    times = sorted(p["ms"] for p in pages)
    slowest = max(pages, key=lambda p: p["ms"])
    args.out.write_text(json.dumps({
        "pages": pages, "p95_ms": times[max(0, math.ceil(0.95 * len(times)) - 1)], "max_ms": times[-1],
        "slowest": f"{slowest['sort']}/{slowest['filter']}/{slowest['page']}"}, indent=1))


if __name__ == "__main__":
    main()
