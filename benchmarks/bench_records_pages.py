"""/records at scale: every sort and filter, first/middle/last page, p50/p95, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/bench_records_pages.py --records 1000000 --backend sqlite
    .venv/bin/python benchmarks/bench_records_pages.py --records 1000000 --backend postgresql

Builds the synthetic archive of benchmarks/bench_records_filters.py (a holder each, 1 in 10 undated, one
stored image and one estimate each) on the chosen backend (PostgreSQL: a throwaway server from
tests/pg_server.py, on a Unix socket), fills the stored /records columns with db/estimates.py (what the v9
migration does to an existing archive, timed), then times list_records (the page's count, its index walk,
the 25 rows and the dating progress: what GET /records runs) for each sort x filter x page, in alternated
rounds. Writes a markdown table to benchmarks/results/records_pages_<backend>.md with the machine and load.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.bench_records_filters import KEY, build  # noqa: E402
from db.estimates import refresh_estimates  # noqa: E402
from db.session import make_engine  # noqa: E402
from modeling.app.records import SORTS, RecordsQuery, explain_page, list_records  # noqa: E402

FILTERS = {"no filter": {}, "holder": {"holder": "Estudio 7"}, "period": {"period": "1940-1959"},
           "undated": {"undated": True}, "suspect": {"suspect": True}, "kind": {"kind": "model"}}
TARGET_MS = 300


def copy_to_postgres(sqlite_path: Path, url: str) -> None:
    """The SQLite archive's records, images and estimates into an empty PostgreSQL database (COPY)."""
    import sqlite3

    import psycopg

    make_engine(url).dispose()
    source = sqlite3.connect(sqlite_path)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as target:
        for table in ("records", "images", "estimates"):
            columns = [row[1] for row in source.execute(f"pragma table_info({table})")]
            with target.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                cursor = source.execute(f"select {', '.join(columns)} from {table}")
                while batch := cursor.fetchmany(20000):
                    buffer = io.StringIO()
                    for row in batch:
                        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
                    copy.write(buffer.getvalue())
        for table in ("records", "images", "estimates"):
            target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        target.execute("UPDATE estimates SET unsure = unsure")  # (no-op) keeps the types honest after COPY
    source.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or ROOT / f"benchmarks/results/records_pages_{args.backend}.md"
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.db"
        start = time.perf_counter()
        build(path, args.records)
        built_s = time.perf_counter() - start
        url = f"sqlite:///{path}"
        if args.backend == "postgresql":
            from pg_server import PostgresServer, find_bindir

            server = PostgresServer(find_bindir()).start()
            url = server.new_database()
            copy_to_postgres(path, url)
            path.unlink()
        engine = make_engine(url)
        start, cpu = time.perf_counter(), time.process_time()
        with engine.begin() as connection:  # the v9 migration's fill of an existing archive
            refresh_estimates(connection)
        fill_s, fill_cpu = time.perf_counter() - start, time.process_time() - cpu
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        if args.backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE estimates")  # index-only scans need the visibility map
        cases = {}
        for sort in SORTS:
            for name, chosen in FILTERS.items():
                pages = list_records(engine, KEY, RecordsQuery(sort=sort, **chosen)).pages
                for kind, page in (("first", 1), ("middle", max(1, pages // 2)), ("last", pages)):
                    cases[(sort, name, kind)] = RecordsQuery(sort=sort, page=page, **chosen)
        wall: dict[tuple, list[float]] = {case: [] for case in cases}
        cpu_ms: dict[tuple, list[float]] = {case: [] for case in cases}
        for _ in range(args.rounds):  # alternated rounds: every page sees the same machine load
            for case, query in cases.items():
                start, cpu = time.perf_counter(), time.process_time()
                list_records(engine, KEY, query)
                wall[case].append(1000 * (time.perf_counter() - start))
                cpu_ms[case].append(1000 * (time.process_time() - cpu))
        plans = {f"{sort}, {name}": explain_page(engine, KEY, RecordsQuery(sort=sort, **chosen))
                 for sort in SORTS for name, chosen in FILTERS.items()}
        engine.dispose()
    if server is not None:
        server.stop()
    load = os.getloadavg()
    p95 = {case: statistics.quantiles(values, n=20, method="inclusive")[18] for case, values in wall.items()}
    over = [case for case, value in p95.items() if value >= TARGET_MS]
    lines = [f"# /records pages on {args.records:,} records ({args.backend})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end (other engineers share the machine). "
             f"Archive built in {built_s:.0f} s; stored /records columns filled (db/estimates.refresh_estimates, "
             f"what migration v9 runs) in {fill_s:.1f} s wall, {fill_cpu:.1f} s CPU of this process. "
             f"list_records of one page of 25 (count, index walk, rows, dating progress), {args.rounds} alternated "
             f"rounds: wall ms p50 / p95 (client CPU ms median). Target: p95 < {TARGET_MS} ms; "
             f"{len(over)} of {len(p95)} pages over it.", "",
             "| sort | filter | first | middle | last |", "|---|---|---|---|---|"]
    for sort in SORTS:
        for name in FILTERS:
            cells = []
            for kind in ("first", "middle", "last"):
                case = (sort, name, kind)
                cells.append(f"{statistics.median(wall[case]):.0f} / {p95[case]:.0f} "
                             f"({statistics.median(cpu_ms[case]):.0f})")
            lines.append(f"| {sort} | {name} | " + " | ".join(cells) + " |")
    lines += ["", "Plans (each index walk of the page order, forwards):", ""]
    for name, segments in plans.items():
        lines.append(f"- {name}: " + " ; ".join(" / ".join(plan.splitlines()[:3]) for plan in segments))
    lines += ["", f"`python benchmarks/bench_records_pages.py --records {args.records} --backend {args.backend} "
              f"--rounds {args.rounds}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
