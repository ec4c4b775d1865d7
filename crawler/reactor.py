"""One Twisted reactor per process, running in a background thread.

A reactor cannot be restarted once stopped, so CrawlerProcess allows one crawl per process.
Running the (asyncio) reactor in a daemon thread and scheduling CrawlerRunner crawls on it
lets run_crawl() be called any number of times in one process (tests, notebooks), while the
calling thread stays free to show progress and to catch Ctrl-C.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _ensure_reactor():
    global _thread
    with _lock:
        from scrapy.utils.reactor import install_reactor, is_reactor_installed

        if not is_reactor_installed():
            install_reactor(ASYNCIO_REACTOR)
        from twisted.internet import reactor

        if _thread is None:
            loop = reactor._asyncioEventloop
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                reactor.callWhenRunning(started.set)
                reactor.run(installSignalHandlers=False)

            _thread = threading.Thread(target=run, name="twisted-reactor", daemon=True)
            _thread.start()
            started.wait()
        return reactor


def call_in_reactor(func: Callable[..., Any], *args: Any) -> None:
    """Run func(*args) on the reactor thread, soon; starts the reactor on first use."""
    _ensure_reactor().callFromThread(func, *args)
