"""serve_replica: `cli.py replica`'s loop, the replica archive served until SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawler.replica.archive import build_archive
from crawler.replica.chaos import Chaos
from crawler.replica.server import ReplicaServer, check_loopback


@dataclass(frozen=True)
class ReplicaConfig:
    records: int = 200  # records in the generated archive
    seed: int = 0  # generator seed: the same seed serves the same archive
    host: str = "127.0.0.1"  # loopback address to listen on (anything else is refused)
    port: int = 0  # TCP port; 0 picks a free one
    per_page: int = 24  # records per listing page
    url_file: Path | None = None  # where to write the base URL once serving (removed on exit)
    chaos: Chaos | None = None  # random 500s, dropped connections and slow answers; None: none


def serve_replica(config: ReplicaConfig, announce: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Build the archive, serve it until SIGINT/SIGTERM (or `stop` is set), then shut down cleanly."""
    check_loopback(config.host)
    stop = stop or threading.Event()
    archive = build_archive(config.records, config.seed)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with ReplicaServer(archive, config.host, config.port, config.per_page, chaos=config.chaos) as server:
            if config.url_file is not None:
                partial = config.url_file.with_name(config.url_file.name + ".part")
                partial.write_text(server.base_url + "\n")
                os.replace(partial, config.url_file)
            announce(server.base_url)
            try:
                while not stop.wait(0.5):
                    pass
            finally:
                if config.url_file is not None:
                    config.url_file.unlink(missing_ok=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
