"""Many writers on one PostgreSQL archive: two crawls of two sources, an import and the app's archive dater at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.imagefile import remove_partial_files
from crawler.replica import ReplicaServer, build_archive, render_photo
from db.models import CrawlRun, Image, ImageEstimate, Record
from db.session import make_engine, session_scope
from modeling.app.dating import ArchiveDater, model_key
from modeling.inference.dater import PictureDater

ROOT = Path(__file__).resolve().parent.parent
RECORDS_PER_SOURCE = 30
IMPORTED = 12


def source_profile(tmp_path: Path, source: str) -> Path:
    """The replica profile under another source name (records are keyed by (source, source_id))."""
    text = (ROOT / "crawler" / "profiles" / "replica.toml").read_text(encoding="utf-8")
    path = tmp_path / f"{source}.toml"
    path.write_text(text.replace('source = "replica"', f'source = "{source}"'), encoding="utf-8")
    return path


def crawl_command(profile: Path, base_url: str, db_url: str, images: Path) -> list[str]:
    return [sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", str(profile), "--start-url", base_url,
            "--db", db_url, "--images-dir", str(images), "--concurrency", "8", "--delay", "0", "--no-autothrottle"]


def expected_ids(archive) -> set[str]:
    # every record but the one robots.txt forbids is stored (failed ones as rows with their reason)
    return {r.source_id for r in archive.records if "robots_disallowed" not in r.faults}


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_two_crawls_an_import_and_the_dater_write_one_archive_at_once(db_url, tmp_path, app_run_dir):
    archives = {"north": build_archive(RECORDS_PER_SOURCE, seed=1), "south": build_archive(RECORDS_PER_SOURCE, seed=2)}
    scans = tmp_path / "scans"
    scans.mkdir()
    for k in range(IMPORTED):
        render_photo(1900 + 7 * k, k, (64, 48)).save(scans / f"scan{k:02d}.jpg", quality=85)
    images = tmp_path / "images"
    engine = make_engine(db_url)
    dater = ArchiveDater(engine, PictureDater.from_run_dir(app_run_dir), model_key(app_run_dir), batch_size=4,
                         progress=False)
    writers_done = threading.Event()

    def date_while_others_write() -> None:
        while not writers_done.is_set():
            dater.run()

    with ReplicaServer(archives["north"]) as north, ReplicaServer(archives["south"]) as south:
        commands = [crawl_command(source_profile(tmp_path, name), server.base_url, db_url, images)
                    for name, server in (("north", north), ("south", south))]
        commands.append([sys.executable, str(ROOT / "cli.py"), "import", str(scans), "--source", "family",
                         "--images-dir", str(images), "--db", db_url])
        dating = threading.Thread(target=date_while_others_write)
        dating.start()
        processes = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for c in commands]
        try:
            outcomes = [p.communicate(timeout=240) for p in processes]
        finally:
            writers_done.set()
            dating.join(timeout=120)
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, f"{process.args[2]} failed:\n{out}\n{err}"
    assert not dating.is_alive(), "the archive dater did not finish: a lock was never released"
    dated_while_writing = dater.dated
    dater.run()  # what the writers added after the dater's last pass

    with session_scope(engine) as s:
        for name, archive in archives.items():
            stored = s.scalars(select(Record.source_id).where(Record.source == name)).all()
            assert len(stored) == len(set(stored)) and set(stored) == expected_ids(archive), name
        assert s.scalar(select(func.count()).select_from(Record).where(Record.source == "family")) == IMPORTED
        # one image row per record (no doubles), each stored image dated exactly once
        assert s.scalar(select(func.count(Image.id))) == s.scalar(select(func.count(func.distinct(Image.record_id))))
        ok_images = set(s.scalars(select(Image.id).where(Image.status == "ok")))
        dated = s.scalars(select(ImageEstimate.image_id)).all()
        assert len(dated) == len(set(dated)) and set(dated) == ok_images
        assert dater.dated == len(dated) and dated_while_writing > 0  # the dater wrote while the others did
        assert [r.status for r in s.scalars(select(CrawlRun))] == ["finished", "finished"]
        assert len(ok_images) >= 2 * (RECORDS_PER_SOURCE - 5) + IMPORTED
    engine.dispose()


def test_a_new_crawl_leaves_the_temp_files_of_running_writers(tmp_path):
    folder = tmp_path / "images" / "ab"
    folder.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    ours = folder / f".ab12.jpg.{os.getpid()}.1.part"
    stale = folder / f".ab34.jpg.{dead_pid}.1.part"
    for path in (ours, stale):
        path.write_bytes(b"half")
    assert remove_partial_files(tmp_path / "images") == 1
    assert ours.exists() and not stale.exists()
