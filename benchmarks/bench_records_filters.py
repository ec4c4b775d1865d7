"""/records' filters on a large archive: CPU time of one filtered page (modeling.app.records.list_records) and
whether SQLite's plan uses the filter's index.

    .venv/bin/python benchmarks/bench_records_filters.py --records 300000

Builds a synthetic SQLite archive (records with a holder and, for 1 in 10, no year; one stored image each;
one estimate each by one model) in a temporary folder, then times each filter alone, in alternated rounds.
Writes a markdown table to benchmarks/results/records_filters.md with the machine and load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.session import make_engine  # noqa: E402
from modeling.app.records import RecordsQuery, list_records  # noqa: E402

KEY = "bench:0000000000000000"
LABELS = [f"{start}-{start + 19}" for start in range(1860, 2000, 20)]


def build(path: Path, n: int, seed: int = 0) -> None:
    """n records, n images, n estimates, written with plain sqlite3 into a schema made by make_engine."""
    import sqlite3

    make_engine(f"sqlite:///{path}").dispose()
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    holders = [f"Estudio {i}" for i in range(2000)]
    records, images, estimates = [], [], []
    for i in range(1, n + 1):
        year = None if i % 10 == 0 else rng.randint(1860, 1999)
        records.append((i, "bench", f"B-{i:08d}", f"Foto {i}", rng.choice(holders), str(year or "s.f."), year,
                        "year" if year else "unknown", "2024-01-01", "2024-01-01", "ok"))
        images.append((i, i, f"http://127.0.0.1/{i}.jpg", f"/nowhere/{i}.jpg", "ok"))
        estimate = rng.randint(1860, 1999)
        low, high = estimate - rng.randint(3, 30), estimate + rng.randint(3, 30)
        estimates.append((i, i, KEY, estimate, low, high, LABELS[min((estimate - 1860) // 20, 6)], 0.5,
                          high - low > 40, "picture", "[]", "ok", "model", "2024-01-01"))
    conn.executemany("insert into records(id, source, source_id, title, holder, date_raw, year, date_precision, "
                     "first_seen, last_seen, status) values (?,?,?,?,?,?,?,?,?,?,?)", records)
    conn.executemany("insert into images(id, record_id, url, path, status) values (?,?,?,?,?)", images)
    conn.executemany("insert into estimates(id, image_id, model_key, year, low, high, period, probability, unsure, "
                     "sources, evidence, status, kind, created_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", estimates)
    conn.commit()
    conn.execute("analyze")
    conn.close()


def cpu_ms(engine, query: RecordsQuery) -> float:
    start = time.process_time()
    list_records(engine, KEY, query)
    return 1000 * (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/records_filters.md")
    args = parser.parse_args()
    queries = {
        "no filter, by id": RecordsQuery(sort="id"),
        "holder, by id": RecordsQuery(sort="id", holder="Estudio 7"),
        "period, by id": RecordsQuery(sort="id", period="1940-1959"),
        "undated, by id": RecordsQuery(sort="id", undated=True),
        "suspect, by id": RecordsQuery(sort="id", suspect=True),
        "holder, by disagreement": RecordsQuery(holder="Estudio 7"),
        "no filter, by disagreement": RecordsQuery(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.db"
        start = time.perf_counter()
        build(path, args.records)
        built_s = time.perf_counter() - start
        engine = make_engine(f"sqlite:///{path}")
        times: dict[str, list[float]] = {name: [] for name in queries}
        for _ in range(args.rounds):  # alternated rounds: every query sees the same machine load
            for name, query in queries.items():
                times[name].append(cpu_ms(engine, query))
        engine.dispose()
    load = os.getloadavg()
    lines = [f"# /records filters on {args.records:,} records (SQLite)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other engineers share the machine). Archive built in "
             f"{built_s:.0f} s. CPU time of one page of 25 (list_records: the page's query, the filtered count and "
             f"the dating progress), median of {args.rounds} alternated rounds.", "",
             "| query | CPU ms (median) | min | max |", "|---|---|---|---|"]
    for name, values in times.items():
        lines.append(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} |")
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
