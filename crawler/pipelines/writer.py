"""The store's writer thread: batches written to the database beside the reactor, in the order handed over.

A metadata harvest's reactor thread parses a list page while the database stores the previous one:
Python's sqlite3 releases the GIL inside sqlite3_step (the B-tree and index work) and psycopg while it
waits for the server, so the store's database time runs on the second core. What crosses threads:

- batches, in order, through a queue of at most MAX_PENDING: a reactor that runs ahead of the database
  waits in submit() (memory stays flat and the harvest slows to the database's pace);
- what each batch gave (a value of the `write` function, e.g. counters) back through a second queue,
  which the reactor empties with results(): the crawl's stats are only ever touched on the reactor;
- a `write` that raises kills the writer: `failure` says why in one line, and lost() gives back every
  batch it took or was handed and did not finish, for the caller to count as not stored.

Nothing is committed on the reactor's behalf after close() returns: it hands over the end, waits for the
writer to finish what it holds, and then results() holds the outcome of every batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

# Batches handed over and not yet taken by the writer: the reactor waits in submit() beyond this.
MAX_PENDING = 2
# How often a waiting submit() or close() looks whether the writer died meanwhile (seconds).
POLL_S = 0.5

Result = TypeVar("Result")
_END = None  # the hand-over that tells the writer no batch follows


class StoreWriter(Generic[Result]):
    """One thread that calls write(batch) for each submitted batch, in order.

    >>> writer = StoreWriter(len)
    >>> writer.submit([1, 2]), writer.submit([3]), writer.close(), writer.results()
    (True, True, True, [2, 1])
    """

    def __init__(self, write: Callable[[list], Result], name: str = "fotofecha-store") -> None:
        self.write = write
        self.pending: queue.Queue[list | None] = queue.Queue(maxsize=MAX_PENDING)
        self.done: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self.failure: str | None = None  # why the writer died (one line), None while it works or once it ended well
        self.dying: list | None = None  # the batch the writer was writing when it died
        self.unsent: list[list] = []  # batches submitted after it died
        self.waited_s = 0.0  # how long submit() waited for the writer in all (the database's back-pressure)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.pending.get()
            if batch is _END:
                return
            try:
                self.done.put(self.write(batch))
            except BaseException as exc:  # noqa: BLE001 - the reactor reads it (failure) and stops the crawl
                self.dying = batch
                self.failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}"
                return

    @property
    def alive(self) -> bool:
        return self.failure is None and self.thread.is_alive()

    def _hand(self, batch: list | None) -> bool:
        if self.alive:
            try:
                self.pending.put_nowait(batch)  # the common case: room in the queue
                return True
            except queue.Full:
                pass
        started = time.monotonic()
        try:
            return self._wait_to_hand(batch)
        finally:
            self.waited_s += time.monotonic() - started

    def _wait_to_hand(self, batch: list | None) -> bool:
        while True:
            if not self.alive:
                if batch is not _END:
                    self.unsent.append(batch)
                return False
            try:
                self.pending.put(batch, timeout=POLL_S)
                return True
            except queue.Full:
                continue

    def submit(self, batch: list) -> bool:
        """Hand `batch` over (waiting while MAX_PENDING are pending); False when the writer has died: the batch
        is then kept for lost()."""
        return self._hand(batch)

    def close(self) -> bool:
        """Hand over the end and wait for the writer to finish every batch before it; False if it died."""
        if self._hand(_END):
            self.thread.join()
        return self.failure is None

    def results(self) -> list[Result]:
        """What the batches written since the last call gave, in order (call it on the reactor)."""
        out = []
        while True:
            try:
                out.append(self.done.get_nowait())
            except queue.Empty:
                return out

    def lost(self) -> list[list]:
        """The batches a dead writer did not finish: the one it died on, then those still handed over."""
        batches = [self.dying] if self.dying is not None else []
        self.dying = None
        while True:
            try:
                batch = self.pending.get_nowait()
            except queue.Empty:
                break
            if batch is not _END:
                batches.append(batch)
        batches += self.unsent
        self.unsent = []
        return batches
