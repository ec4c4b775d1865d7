"""The whole pipeline on one archive of 10k, 100k or 1M records: seconds, peak RSS and database size per stage.

    .venv/bin/python benchmarks/scale.py --sizes 10000,100000            # SQLite, then its copy on PostgreSQL
    .venv/bin/python benchmarks/scale.py --sizes 1000000 --work /tmp/scale-1m --skip harvest,date-undated,records
    .venv/bin/python benchmarks/scale.py --sizes 10000,100000,1000000 --all-pictures --work /tmp/fotofecha-scale-1m \
        --model /tmp/fotofecha-scale/model                                  # a picture per record: 1M-row manifest
    .venv/bin/python benchmarks/scale.py --report --also benchmarks/results/scale_1m_earlier.json \
        --also /tmp/fotofecha-scale-1m                                      # table and plot from what is done

For each size: an OAI-PMH repository of generated records (benchmarks/scale_archive.py: made on request
by index, never held in memory) is harvested with `cli.py crawl --oai`; one record in ten gets a small
real picture (64 px crops of /work/shared/real-photos); then dedupe, balance-report, export (images and
manifest), date-undated (with a small model trained once, on the first size's export), the /records
pages (every sort and filter, first, middle and last page, through modeling/app/records.py), db info and
db copy to PostgreSQL. The PostgreSQL copy then runs balance-report, export, /records and db info.

Every stage is a child process; peak RSS is sampled (psutil, every 50 ms, children included) and CPU
seconds come from getrusage. Resumable: each finished stage is stored in <work>/state.json and skipped
when run again; a stage killed half way runs again from its start. Writes
benchmarks/results/scale.md (the table and the targets) and scale.png (CPU time per record against size).
`--skip harvest` writes the generated records straight into the database instead (a 1M harvest takes
long on a shared machine; its cost per record is the smaller sizes').

`--all-pictures` (in a work directory of its own) gives every record a picture instead: a pool of 4,000 real
64 px files reused by path, with synthetic sha256 and dedupe verdicts written directly (fill_pictures), since
writing and deduplicating a million distinct files takes hours on two cores. Its stages are fill, pictures,
manifest (`export --no-copy`: a manifest row per kept picture, no files written) and date-undated (the records
without a year, 1 in 20, each with a picture to decode and date).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale_archive import (  # noqa: E402
    POOL_FILES,
    PROFILE,
    LazyOaiServer,
    attach_pictures,
    fill_pictures,
    fill_records,
)

REAL_PHOTOS = Path("/work/shared/real-photos/images")
SAMPLE_S = 0.05  # seconds between two RSS samples
PYTHON = sys.executable


def measure(command: list[str], log: Path) -> dict:
    """Run `command` (cwd ROOT); seconds, CPU seconds, peak RSS MB (children included), its stdout; exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with log.open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": ""})
        handle = psutil.Process(process.pid)
        peak = 0
        while process.poll() is None:
            try:
                rss = handle.memory_info().rss + sum(c.memory_info().rss for c in handle.children(recursive=True))
            except psutil.NoSuchProcess:
                break
            peak = max(peak, rss)
            time.sleep(SAMPLE_S)
        output = process.stdout.read()
        process.wait()
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed ({process.returncode}):\n{output[-2000:]}"
                         f"{log.read_text()[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "rss_mb": round(peak / 2**20, 1),
            "output": output.strip()[-1500:]}


def cli(*args: str) -> list[str]:
    return [PYTHON, str(ROOT / "cli.py"), *args]


def database_mb(url: str) -> float:
    from sqlalchemy import text

    from db.copy import sqlite_path
    from db.session import make_engine

    path = sqlite_path(url)
    if path is not None:
        return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20, 1)
    engine = make_engine(url, migrate=False)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return round(size / 2**20, 1)


class Postgres:
    """A PostgreSQL server kept under <work>/pg between runs (tests/pg_server.py's, not thrown away)."""

    def __init__(self, work: Path) -> None:
        from tests.pg_server import PostgresServer, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL server binaries not found: install them, or pass --backends sqlite.")
        self.server = PostgresServer(bindir)
        shutil.rmtree(self.server.root)
        self.server.root = work / "pg"
        self.server.data = self.server.root / "data"
        fresh = not self.server.data.exists()
        self.server.root.mkdir(parents=True, exist_ok=True)
        if self.server.user is not None:
            import pwd

            entry = pwd.getpwnam(self.server.user)
            os.chown(self.server.root, entry.pw_uid, entry.pw_gid)
            os.chmod(work, 0o755)
        if fresh:
            self.server.start()
        else:
            self.server.start_server()

    def database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.server.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.server.url(name)

    def stop(self) -> None:
        self.server.stop_server()


class Bench:
    def __init__(self, work: Path, seed: int, skip: set[str], model: Path | None = None) -> None:
        self.skip = skip  # stages not run (--skip); a skipped harvest fills the database directly
        self.model = model  # date-undated's run (--model); None: train the small one once
        self.work = work
        self.seed = seed
        self.state_path = work / "state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {"stages": {}}
        self.postgres: Postgres | None = None

    def save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.state_path)

    def stage(self, size: int, backend: str, name: str, run) -> dict | None:
        key = f"{size}/{backend}/{name}"
        if name in self.skip:
            print(f"{key}: skipped (--skip)", flush=True)
            return None
        if key in self.state["stages"]:
            print(f"{key}: done before, skipped", flush=True)
            return self.state["stages"][key]
        load = os.getloadavg()[0]
        print(f"{key}: running (load {load:.2f})", flush=True)
        result = run()
        result.update(size=size, backend=backend, stage=name, load=round(load, 2),
                      at=time.strftime("%H:%M", time.gmtime()))
        self.state["stages"][key] = result
        self.save()
        print(f"{key}: {result['seconds']} s, {result['rss_mb']} MB peak, DB {result.get('db_mb')} MB", flush=True)
        return result

    def pg(self) -> Postgres:
        if self.postgres is None:
            self.postgres = Postgres(self.work)
        return self.postgres

    def run_size(self, size: int, backends: list[str]) -> None:
        folder = self.work / str(size)
        folder.mkdir(parents=True, exist_ok=True)
        sqlite = f"sqlite:///{folder / 'archive.db'}"
        images = folder / "images"
        logs = folder / "logs"
        logs.mkdir(exist_ok=True)
        profile = self.work / "profile.toml"
        profile.write_text(PROFILE)

        def harvest() -> dict:
            (folder / "archive.db").unlink(missing_ok=True)
            server = LazyOaiServer(size, self.seed).start()
            try:
                result = measure(cli("crawl", "--profile", str(profile), "--oai", f"{server.base_url}/oai",
                                     "--db", sqlite, "--images-dir", str(images), "--no-autothrottle", "--delay", "0",
                                     "--concurrency", "16"), logs / "harvest.log")
            finally:
                server.stop()
            return result | {"db_mb": database_mb(sqlite)}

        def attach() -> dict:
            started, cpu = time.monotonic(), time.process_time()
            shutil.rmtree(images, ignore_errors=True)
            count = attach_pictures(sqlite, size, self.seed, images, REAL_PHOTOS)
            return {"seconds": round(time.monotonic() - started, 2), "cpu_s": round(time.process_time() - cpu, 2),
                    "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1), "pictures": count,
                    "db_mb": database_mb(sqlite), "output": f"{count} pictures attached"}

        def command(*args: str, name: str, url: str) -> dict:
            return measure(cli(*args), logs / f"{name}.log") | {"db_mb": database_mb(url)}

        def export(url: str, tag: str):
            out = folder / f"export-{tag}"
            return lambda: command("export", "--db", url, "--out", str(out), "--image-size", "64", "--workers", "2",
                                   "--force", name=f"export-{tag}", url=url) | {"manifest_rows": _rows(out)}

        def records(url: str, tag: str):
            out = folder / f"records-{tag}.json"
            return lambda: self._records(url, out, logs / f"records-{tag}.log")

        s = "sqlite"
        def fill() -> dict:
            (folder / "archive.db").unlink(missing_ok=True)
            started, cpu = time.monotonic(), time.process_time()
            fill_records(sqlite, size, self.seed)
            return {"seconds": round(time.monotonic() - started, 2), "cpu_s": round(time.process_time() - cpu, 2),
                    "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1), "db_mb": database_mb(sqlite),
                    "output": "records inserted directly, not harvested"}

        if "harvest" in self.skip:
            self.stage(size, s, "fill", fill)
        else:
            self.stage(size, s, "harvest", harvest)
        self.stage(size, s, "attach", attach)
        self.stage(size, s, "dedupe", lambda: command("dedupe", "--db", sqlite, "--workers", "2", name="dedupe",
                                                      url=sqlite))
        self.stage(size, s, "balance-report", lambda: command("balance-report", "--db", sqlite, name="balance",
                                                              url=sqlite))
        self.stage(size, s, "export", export(sqlite, s))
        model = None if "date-undated" in self.skip else self._model(folder / f"export-{s}")
        self.stage(size, s, "date-undated", lambda: command("date-undated", "--model", str(model), "--db", sqlite,
                                                            "--batch-size", "64", name="undated", url=sqlite))
        self.stage(size, s, "records", records(sqlite, s))
        self.stage(size, s, "db-info", lambda: command("db", "info", "--db", sqlite, name="info", url=sqlite))
        if "postgresql" not in backends:
            return
        pg_url = self.state.setdefault("pg_urls", {}).get(str(size))
        copy_key = f"{size}/{s}/db-copy"
        if copy_key not in self.state["stages"] or pg_url is None:
            self.state["stages"].pop(copy_key, None)
            pg_url = self.pg().database(f"scale_{size}")
            self.state["pg_urls"][str(size)] = pg_url
            self.save()
        else:
            self.pg()
        self.stage(size, s, "db-copy", lambda: command("db", "copy", "--from", sqlite, "--to", pg_url, "--force",
                                                       name="copy", url=pg_url))
        p = "postgresql"
        self.stage(size, p, "balance-report", lambda: command("balance-report", "--db", pg_url, name="balance-pg",
                                                              url=pg_url))
        self.stage(size, p, "export", export(pg_url, p))
        self.stage(size, p, "records", records(pg_url, p))
        self.stage(size, p, "db-info", lambda: command("db", "info", "--db", pg_url, name="info-pg", url=pg_url))

    def run_every_picture(self, size: int) -> None:
        """--all-pictures: every record gets a picture (fill_pictures), then the manifest of `size` rows
        (export --no-copy) and date-undated over the undated records' pictures (1 in 20)."""
        folder = self.work / str(size)
        folder.mkdir(parents=True, exist_ok=True)
        sqlite = f"sqlite:///{folder / 'archive.db'}"
        logs = folder / "logs"
        logs.mkdir(exist_ok=True)

        def timed(work, output) -> dict:
            started, cpu = time.monotonic(), time.process_time()
            result = work()
            return {"seconds": round(time.monotonic() - started, 2), "cpu_s": round(time.process_time() - cpu, 2),
                    "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1), "db_mb": database_mb(sqlite),
                    "output": output(result)}

        def fill() -> dict:
            (folder / "archive.db").unlink(missing_ok=True)
            return timed(lambda: fill_records(sqlite, size, self.seed), lambda n: f"{n} records inserted directly")

        def pictures() -> dict:
            shutil.rmtree(folder / "images", ignore_errors=True)
            result = timed(lambda: fill_pictures(sqlite, folder / "images", REAL_PHOTOS, self.seed),
                           lambda n: f"{n} pictures ({POOL_FILES} files reused by path), dedupe verdicts written")
            return result | {"pictures": int(result["output"].split()[0])}

        def manifest() -> dict:
            out = folder / "manifest"
            return measure(cli("export", "--db", sqlite, "--out", str(out), "--no-copy", "--force"),
                           logs / "manifest.log") | {"db_mb": database_mb(sqlite), "manifest_rows": _rows(out)}

        s = "sqlite"
        self.stage(size, s, "fill", fill)
        self.stage(size, s, "pictures", pictures)
        self.stage(size, s, "manifest", manifest)
        # balance-report over every picture (the stage of the same name above reads one record in ten's)
        self.stage(size, s, "balance-pictures", lambda: measure(cli("balance-report", "--db", sqlite),
                                                                logs / "balance.log") | {"db_mb": database_mb(sqlite)})
        model = None if "date-undated" in self.skip else self._model(None)
        self.stage(size, s, "date-undated", lambda: measure(
            cli("date-undated", "--model", str(model), "--db", sqlite, "--batch-size", "64"),
            logs / "undated.log") | {"db_mb": database_mb(sqlite)})

    def _model(self, export_dir: Path | None) -> Path:
        """The small model date-undated uses: --model, or trained once (1 epoch, 64 px, timm's tiny test_efficientnet)."""
        if self.model is not None:
            return self.model
        run = self.work / "model"
        if "model" not in self.state:
            shutil.rmtree(run, ignore_errors=True)
            result = measure(cli("train", "--data", str(export_dir), "--out", str(run), "--arch", "test_efficientnet",
                                 "--no-pretrained", "--img-size", "64", "--epochs", "1", "--batch-size", "64", "--lr", "1e-3",
                                 "--workers", "0", "--device", "cpu"), self.work / "train.log")
            self.state["model"] = {"run": str(run), "trained_on": str(export_dir), **result}
            self.save()
        return Path(self.state["model"]["run"])

    def _records(self, url: str, out: Path, log: Path) -> dict:
        result = measure([PYTHON, str(ROOT / "benchmarks" / "scale_records.py"), "--db", url,
                          "--model", self.state["model"]["run"], "--out", str(out)], log)
        timings = json.loads(out.read_text())
        # The pages' own time is what grows with the archive; the process's includes importing the app.
        result.update(process_s=result["seconds"], seconds=round(sum(p["ms"] for p in timings["pages"]) / 1000, 2))
        result.update(db_mb=database_mb(url), pages=len(timings["pages"]), p95_ms=timings["p95_ms"],
                      max_ms=timings["max_ms"], slowest=timings["slowest"])
        return result


def _rows(export_dir: Path) -> int:
    with (export_dir / "manifest.csv").open(encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated archive sizes (records)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fotofecha-scale"),
                        help="work directory (archives, exports, state.json); reuse it to resume")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--skip", default="", help="stages not to run, comma-separated (e.g. harvest,dedupe,export,"
                        "date-undated for a quick 1M); a skipped harvest inserts the records directly")
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="another work directory (or a state .json) whose finished stages join the table "
                        "(a 1M run kept apart; benchmarks/results/scale_1m_earlier.json keeps runs whose directory is gone)")
    parser.add_argument("--report", action="store_true", help="only write the table and plot from state.json")
    parser.add_argument("--all-pictures", action="store_true",
                        help="every record gets a picture (a pool of files reused by path, dedupe verdicts written "
                        "directly): fill, pictures, manifest (export --no-copy), balance-pictures (balance-report), date-undated; "
                        "keep it in its own --work")
    parser.add_argument("--model", type=Path, default=None,
                        help="date-undated's run directory (default: train a tiny one once on the first export)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.work, args.seed, {name.strip() for name in args.skip.split(",") if name.strip()}, args.model)
    backends = [b.strip() for b in args.backends.split(",")]
    try:
        if not args.report:
            for size in (int(s) for s in args.sizes.split(",")):
                if args.all_pictures:
                    bench.run_every_picture(size)
                else:
                    bench.run_size(size, backends)
    finally:
        if bench.postgres is not None:
            bench.postgres.stop()
    from benchmarks.scale_report import write_report

    stages = dict(bench.state["stages"])
    for other in args.also:
        stages.update(json.loads((other if other.suffix == ".json" else other / "state.json").read_text())["stages"])
    print(write_report({**bench.state, "stages": stages}, args.results))


if __name__ == "__main__":
    main()
