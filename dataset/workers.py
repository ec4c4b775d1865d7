"""Worker process pools that end with their parent: a killed export or dedupe leaves no workers behind.

SIGKILL gives the parent no chance to stop its pool, so each worker watches for itself: a daemon
thread polls os.getppid() and exits the worker once the parent is gone (the worker is then
re-parented, so its parent id changes). Polling, unlike Linux's PR_SET_PDEATHSIG, does not fire when
merely the thread that started the pool ends, and works on every platform.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

# How often a worker looks for its parent: the longest an orphan outlives it.
PARENT_POLL_SECONDS = 0.25


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A ProcessPoolExecutor of `workers` processes that exit when this process dies."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_watch_parent, initargs=(os.getpid(),))


def _watch_parent(parent_pid: int) -> None:
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # the parent is gone: nobody will read our results
