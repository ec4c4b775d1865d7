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
import multiprocessing.sharedctypes  # noqa: F401 - RawValue and Lock below: loaded with this module, not per run
import multiprocessing.synchronize  # noqa: F401
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection, wait
from typing import NoReturn, TypeVar

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
    """(index, work(chunk)) for every chunk, as each is done, by `workers` processes that pull from one counter.

    This process is one of them and `workers - 1` are forked. Each takes the next chunk not yet taken
    from a shared counter, so nobody waits while work is left and nobody holds work it has not started:
    with chunks that shrink towards the end of the list, every process finishes within a small chunk
    of the others. A fork is a bare os.fork with a pipe back (no pool, no queue thread: a few
    milliseconds less per run, which small scans notice). A worker's exception is raised here; a
    stopped iteration or an exception here ends the forks. Without os.fork (or with one worker, or one
    chunk) the chunks run here, in order.
    """
    if workers <= 1 or len(chunks) < 2 or not hasattr(os, "fork"):
        for index, chunk in enumerate(chunks):
            yield index, work(chunk)
        return
    counter, lock = multiprocessing.RawValue("q", 0), multiprocessing.Lock()
    forks: dict[int, Connection] = {}  # pid -> the pipe its results come back on
    try:
        gc.freeze()  # start-up's objects: the forks' collector never walks them, so their pages stay shared
        try:
            for _ in range(workers - 1):
                receive, send = multiprocessing.Pipe(duplex=False)
                pid = os.fork()
                if pid == 0:  # the fork: never returns from here
                    receive.close()
                    _pull_chunks(work, chunks, counter, lock, send, os.getppid())
                send.close()
                forks[pid] = receive
        finally:
            gc.unfreeze()
        while (index := _next_index(counter, lock)) < len(chunks):
            yield index, work(chunks[index])
            for pid in [pid for pid, pipe in forks.items() if pipe.poll()]:
                yield from _received(forks, pid)
        while forks:
            for pipe in wait(list(forks.values())):
                yield from _received(forks, next(pid for pid, p in forks.items() if p is pipe))
    finally:
        for pid, pipe in forks.items():
            pipe.close()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _received(forks: dict[int, Connection], pid: int) -> Iterator[tuple[int, object]]:
    """What the fork `pid` sent: results, its exception (raised), or its end (reaped, and forgotten)."""
    pipe = forks[pid]
    while pipe.poll():
        try:
            index, result, error = pipe.recv()
        except EOFError:
            pipe.close()
            del forks[pid]
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"a worker process died (exit code {os.waitstatus_to_exitcode(status)})") from None
            return
        if error is not None:
            raise error
        yield index, result


def _next_index(counter, lock) -> int:
    with lock:
        index = counter.value
        counter.value = index + 1
    return index


def _pull_chunks(work, chunks, counter, lock, send: Connection, parent_pid: int) -> NoReturn:
    code = 1
    try:
        _watch_parent(parent_pid)
        while (index := _next_index(counter, lock)) < len(chunks):
            send.send((index, work(chunks[index]), None))
        code = 0
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it; the fork must not unwind
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel travels as its traceback
            exc = RuntimeError(traceback.format_exc())
        try:
            send.send((-1, None, exc))
            code = 0
        except BaseException:  # noqa: BLE001 - the parent is gone
            pass
    finally:
        try:
            send.close()
        finally:
            os._exit(code)
