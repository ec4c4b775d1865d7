"""Worker processes that end with their parent: a killed export or dedupe leaves no workers behind.

worker_pool is a process pool (export); shared_chunks forks workers that pull chunks from one shared
counter (hashing), so the last chunks are spread as finely as the first.

SIGKILL gives the parent no chance to stop its pool, so each worker watches for itself: a daemon
thread polls os.getppid() and exits the worker once the parent is gone (the worker is then
re-parented, so its parent id changes). Polling, unlike Linux's PR_SET_PDEATHSIG, does not fire when
merely the thread that started the pool ends, and works on every platform.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

# How often a worker looks for its parent: the longest an orphan outlives it.
PARENT_POLL_SECONDS = 0.25
T = TypeVar("T")
R = TypeVar("R")


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A ProcessPoolExecutor of `workers` processes that exit when this process dies."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_watch_parent, initargs=(os.getpid(),))


def _watch_parent(parent_pid: int) -> None:
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # the parent is gone: nobody will read our results


def shared_chunks(work: Callable[[T], R], chunks: Sequence[T], workers: int) -> Iterator[tuple[int, R]]:
    """(index, work(chunk)) for every chunk, as each is done, hashed by `workers` processes that pull from one counter.

    This process is one of them and `workers - 1` are forked. Each takes the next chunk not yet taken
    from a shared counter, so nobody waits while work is left and nobody holds work it has not started:
    with chunks that shrink towards the end of the list, every process finishes within a small chunk
    of the others. Results come back through a queue whose feeder thread writes while the worker goes
    on. A worker's exception is raised here; a stopped iteration or an exception here ends the forks.
    Without the fork start method (or with one worker, or one chunk) the chunks run here, in order.
    """
    if workers <= 1 or len(chunks) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for index, chunk in enumerate(chunks):
            yield index, work(chunk)
        return
    context = multiprocessing.get_context("fork")
    counter, lock = context.RawValue("q", 0), context.Lock()
    results = context.Queue()
    gc.freeze()  # start-up's objects: the forks' collector never walks them, so their pages stay shared
    try:
        forks = [context.Process(target=_pull_chunks, args=(work, chunks, counter, lock, results, os.getpid()),
                                 daemon=True) for _ in range(workers - 1)]
        for process in forks:
            process.start()
    finally:
        gc.unfreeze()
    running = len(forks)
    try:
        while (index := _next_index(counter, lock)) < len(chunks):
            yield index, work(chunks[index])
            while running and not results.empty():
                message = results.get()
                running -= message is None
                yield from _received(message)
        while running:
            try:
                message = results.get(timeout=PARENT_POLL_SECONDS)
            except queue.Empty:
                dead = [process.exitcode for process in forks if process.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a worker process died (exit code {dead[0]})") from None
                continue
            running -= message is None
            yield from _received(message)
    finally:
        for process in forks:
            if process.is_alive():
                process.kill()
            process.join()
        results.close()


def _received(message) -> Iterator[tuple[int, object]]:
    if message is None:
        return
    index, result, error = message
    if error is not None:
        raise error
    yield index, result


def _next_index(counter, lock) -> int:
    with lock:
        index = counter.value
        counter.value = index + 1
    return index


def _pull_chunks(work, chunks, counter, lock, results, parent_pid: int) -> None:
    _watch_parent(parent_pid)
    try:
        while (index := _next_index(counter, lock)) < len(chunks):
            results.put((index, work(chunks[index]), None))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel travels as its traceback
            exc = RuntimeError(traceback.format_exc())
        results.put((index, None, exc))
    results.put(None)
    results.close()
    results.join_thread()
