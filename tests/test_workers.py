"""A SIGKILLed export or dedupe leaves no worker processes behind (real processes, real SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.replica import render_photo
from db.models import Image
from db.session import session_scope

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent's bookkeeping is left


def _blocking_archive(add_photo, fresh_db, tmp_path: Path, deduped: bool) -> None:
    """Six stored photos whose files are then swapped for FIFOs: a worker opening one waits forever."""
    for k in range(6):
        add_photo(f"F{k}", render_photo(1900 + 15 * k, k, (48, 36)), str(1900 + 15 * k))
    if deduped:
        from dataset.dedupe import DedupeConfig, run_dedupe

        run_dedupe(fresh_db, DedupeConfig(progress=False))
    with session_scope(fresh_db) as s:
        for path in s.scalars(select(Image.path)):
            os.unlink(path)
            os.mkfifo(path)


@pytest.mark.parametrize("command", ["dedupe", "export"])
def test_workers_end_when_their_parent_is_killed(command, add_photo, fresh_db, db_url, tmp_path):
    _blocking_archive(add_photo, fresh_db, tmp_path, deduped=command == "export")
    # dedupe's own process is one of its hashing workers: --workers 3 forks two.
    args = {"dedupe": ["dedupe", "--workers", "3"],
            "export": ["export", "--workers", "2", "--image-size", "16", "--out", str(tmp_path / "out")]}[command]
    parent = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args, "--db", db_url], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.1)
            workers = _children(parent.pid)
        assert len(workers) >= 2, f"{command} did not start its workers"
        time.sleep(0.5)  # let them reach the FIFOs
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _running(pid)], "workers outlived their killed parent"
    finally:
        for pid in workers:  # the processes this test started, should the assertion have failed
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
