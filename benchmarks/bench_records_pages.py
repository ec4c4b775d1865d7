"""/records at scale: every sort and filter, first/middle/last page, p50/p95, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/bench_records_pages.py --records 1000000 --backend sqlite
    .venv/bin/python benchmarks/bench_records_pages.py --records 1000000 --backend postgresql

Builds the synthetic archive of benchmarks/bench_records_filters.py (a holder each, 1 in 10 undated, one
stored image and one estimate each) on the chosen backend (PostgreSQL: a throwaway server from
tests/pg_server.py, on a Unix socket), fills the stored /records columns with db/estimates.py (what the v9
migration does to an existing archive, timed), then times list_records (the page's count, its index walk,
the 25 rows and the dating progress: what GET /records runs) for each sort x filter x page, in alternated
rounds: the first view after a write from another connection (every count taken again) and a repeat view
(the counts db/counts.py keeps). Writes markdown tables to benchmarks/results/records_pages_<backend>_<size>.md
with the machine and load. `--archive PATH` builds the SQLite archive there once and reuses it after.
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

from sqlalchemy import create_engine  # noqa: E402

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
    source.close()


def prepare(args, tmp: Path):
    """The archive on the chosen backend with its stored /records columns filled: (engine, url, server, notes)."""
    path = args.archive or Path(tmp) / "archive.db"
    start = time.perf_counter()
    if not path.exists():
        build(path, args.records)
    built = f"built in {time.perf_counter() - start:.0f} s" if not args.archive else f"reused from {path.name}"
    url, server = f"sqlite:///{path}", None
    if args.backend == "postgresql":
        from pg_server import PostgresServer, find_bindir

        server = PostgresServer(find_bindir()).start()
        url = server.new_database()
        start = time.perf_counter()
        copy_to_postgres(path, url)
        built += f", copied to PostgreSQL in {time.perf_counter() - start:.0f} s"
    engine = make_engine(url)
    start, cpu = time.perf_counter(), time.process_time()
    fill = "stored /records columns copied as the reused archive had them filled (--no-fill)"
    if args.fill:
        with engine.begin() as connection:  # the v9/v10 migrations' fill of an existing archive
            refresh_estimates(connection)
        fill = (f"stored /records columns filled (db/estimates.refresh_estimates, what migrations v9 and v10 run) "
                f"in {time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU of this process")
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    if args.backend == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")  # index-only scans need the visibility map
    return engine, url, server, f"Archive {built}; {fill}."


def measure(engine, url: str, cases: dict, rounds: int) -> tuple[dict, dict, dict, dict]:
    """Alternated rounds (every page sees the same machine load); per page and round, a write from another
    connection (a harvest's, so every count is taken again), the first view after it, and a repeat view.
    Returns wall ms and client CPU ms after a write, then repeated."""
    writer = create_engine(url)
    wall = {view: {case: [] for case in cases} for view in ("cold", "warm")}
    cpu_ms = {view: {case: [] for case in cases} for view in ("cold", "warm")}
    for round_ in range(rounds):
        for number, (case, query) in enumerate(cases.items()):
            with writer.begin() as connection:
                connection.exec_driver_sql(f"UPDATE records SET last_seen = '2025-{round_ + 1:02d}-{number % 28 + 1:02d}'"
                                           " WHERE id = 1")
            for view in ("cold", "warm"):
                start, cpu = time.perf_counter(), time.process_time()
                list_records(engine, KEY, query)
                wall[view][case].append(1000 * (time.perf_counter() - start))
                cpu_ms[view][case].append(1000 * (time.process_time() - cpu))
    writer.dispose()
    return wall["cold"], cpu_ms["cold"], wall["warm"], cpu_ms["warm"]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def table(wall: dict, cpu_ms: dict) -> list[str]:
    lines = ["| sort | filter | first | middle | last |", "|---|---|---|---|---|"]
    for sort in SORTS:
        for name in FILTERS:
            cells = []
            for kind in ("first", "middle", "last"):
                case = (sort, name, kind)
                cell = f"{statistics.median(wall[case]):.0f} / {p95(wall[case]):.0f}"
                cells.append(f"{cell} ({statistics.median(cpu_ms[case]):.0f})")
            lines.append(f"| {sort} | {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--archive", type=Path, default=None,
                        help="the SQLite archive to build, or to reuse when it exists (default: a temporary one)")
    parser.add_argument("--no-fill", dest="fill", action="store_false",
                        help="keep the stored /records columns of a reused, already filled --archive")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    size = "1m" if args.records == 1_000_000 else f"{args.records // 1000}k"
    out = args.out or ROOT / f"benchmarks/results/records_pages_{args.backend}_{size}.md"
    before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        engine, url, server, prepared = prepare(args, tmp)
        cases = {}
        for sort in SORTS:
            for name, chosen in FILTERS.items():
                pages = list_records(engine, KEY, RecordsQuery(sort=sort, **chosen)).pages
                for kind, page in (("first", 1), ("middle", max(1, pages // 2)), ("last", pages)):
                    cases[(sort, name, kind)] = RecordsQuery(sort=sort, page=page, **chosen)
        start_load = os.getloadavg()
        cold, cold_cpu, warm, warm_cpu = measure(engine, url, cases, args.rounds)
        plans = {f"{sort}, {name}": explain_page(engine, KEY, RecordsQuery(sort=sort, **chosen))
                 for sort in SORTS for name, chosen in FILTERS.items()}
        engine.dispose()
        if server is not None:
            server.stop()
    load = os.getloadavg()
    over_warm = sum(p95(values) >= TARGET_MS for values in warm.values())
    over_cold = sum(p95(values) >= TARGET_MS for values in cold.values())
    lines = [f"# /records pages on {args.records:,} records ({args.backend})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
             f"{before[0]:.1f} before the archive, {start_load[0]:.1f} / {start_load[1]:.1f} / {start_load[2]:.1f} "
             f"when the pages started, {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end (other engineers "
             f"share the machine). {prepared}", "",
             f"list_records of one page of 25 (what GET /records runs: counts, index walk, rows, dating progress), "
             f"{args.rounds} alternated rounds; before each page a write from another connection (a harvest's), "
             f"then the first view after it (every count taken again) and a repeat view (counts kept, db/counts.py). "
             f"Wall ms p50 / p95. Target: p95 < {TARGET_MS} ms.", "",
             f"## Repeat views (nothing written since the last view): {over_warm} of {len(warm)} pages over target",
             "", "Wall ms p50 / p95 (client CPU ms median).", "", *table(warm, warm_cpu), "",
             f"## First view after a write: {over_cold} of {len(cold)} pages over target", "",
             "Wall ms p50 / p95 (client CPU ms median: on SQLite the database's own work, it runs in this process).",
             "", *table(cold, cold_cpu),
             "", "## Plans (each index walk of the page order, forwards)", ""]
    for name, segments in plans.items():
        lines.append(f"- {name}: " + " ; ".join(" / ".join(plan.splitlines()[:3]) for plan in segments))
    lines += ["", f"`python benchmarks/bench_records_pages.py {' '.join(sys.argv[1:])}`, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
