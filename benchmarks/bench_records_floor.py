"""/records' floor at scale: the CPU of each count a page takes, and of a first and a repeat view of a few pages.

    .venv/bin/python benchmarks/bench_records_floor.py --archive /tmp/records-1m.db

Reads an archive that `bench_records_pages.py --archive PATH` built and filled (SQLite: the database runs in
this process, so process CPU is the database's own work). Each count is what a first view after a write runs
again (db/counts.py keeps it otherwise); a page's first view needs three to five of them. Writes
benchmarks/results/records_floor.md with the machine and load.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, true  # noqa: E402

from benchmarks.bench_records_filters import KEY  # noqa: E402
from db.models import Image, ImageEstimate, Record  # noqa: E402
from db.session import make_engine  # noqa: E402
from modeling.app.records import RecordsQuery, list_records  # noqa: E402

COUNTS = {"the archive's records": select(func.count(Record.id)),
          "dated (image estimates of the model)": select(func.count()).select_from(ImageEstimate).where(
              ImageEstimate.model_key == KEY, ImageEstimate.image_id.is_not(None)),
          "datable (stored images)": select(func.count()).select_from(Image).where(Image.status == "ok"),
          "suspect estimates": select(func.count(ImageEstimate.record_id)).where(
              ImageEstimate.model_key == KEY, ImageEstimate.suspect == true())}
PAGES = {"disagreement, first page": RecordsQuery(), "id, middle page": RecordsQuery(sort="id", page=20000),
         "year, suspect, middle page": RecordsQuery(sort="year", suspect=True, page=14000),
         "year, by the model, middle page": RecordsQuery(sort="year", kind="model", page=20000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/records_floor.md")
    args = parser.parse_args()
    url = f"sqlite:///{args.archive}"
    engine, writer = make_engine(url), create_engine(url)
    before = os.getloadavg()
    lines = [f"# /records' floor on {args.archive.name} (SQLite, in this process)", "",
             "| count (what a first view after a write runs again) | rows | CPU ms |", "|---|---|---|"]
    for label, stmt in COUNTS.items():
        with engine.connect() as connection:
            cpu = time.process_time()
            rows = connection.execute(stmt).scalar()
            lines.append(f"| {label} | {rows:,} | {1000 * (time.process_time() - cpu):.0f} |")
    lines += ["", "| page | first view after a write, CPU ms | repeat view, CPU ms |", "|---|---|---|"]
    for number, (label, query) in enumerate(PAGES.items()):
        with writer.begin() as connection:  # another connection writes: every count is taken again
            connection.exec_driver_sql(f"UPDATE records SET last_seen = '2025-01-{number + 1:02d}' WHERE id = 1")
        spent = []
        for _ in range(2):
            cpu = time.process_time()
            list_records(engine, KEY, query)
            spent.append(1000 * (time.process_time() - cpu))
        lines.append(f"| {label} | {spent[0]:.0f} | {spent[1]:.0f} |")
    load = os.getloadavg()
    lines += ["", f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load "
              f"average {before[0]:.1f} before, {load[0]:.1f} after (other engineers share the machine). "
              f"`python benchmarks/bench_records_floor.py {' '.join(sys.argv[1:])}`, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    engine.dispose()
    writer.dispose()
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
