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

_lock = threading.Lock()
_reactor = None


def _run_reactor(ready: threading.Event, box: dict) -> None:
    # The reactor and its asyncio loop belong to this thread alone: the caller's thread keeps
    # whatever event loop it had (none, usually), so asyncio code there is unaffected.
    try:
        from scrapy.utils.reactor import is_reactor_installed

        if not is_reactor_installed():
            from twisted.internet import asyncioreactor

            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            asyncioreactor.install(eventloop=loop)
        from twisted.internet import reactor

        if hasattr(reactor, "_asyncioEventloop"):
            asyncio.set_event_loop(reactor._asyncioEventloop)
        box["reactor"] = reactor
        reactor.callWhenRunning(ready.set)
    except BaseException as exc:  # handed to the caller, which re-raises it
        box["error"] = exc
        ready.set()
        return
    reactor.run(installSignalHandlers=False)


def _ensure_reactor():
    global _reactor
    with _lock:
        if _reactor is None:
            ready, box = threading.Event(), {}
            threading.Thread(target=_run_reactor, args=(ready, box), name="twisted-reactor", daemon=True).start()
            ready.wait()
            if "error" in box:
                raise box["error"]
            _reactor = box["reactor"]
        return _reactor


def call_in_reactor(func: Callable[..., Any], *args: Any) -> None:
    """Run func(*args) on the reactor thread, soon; starts the reactor on first use."""
    _ensure_reactor().callFromThread(func, *args)
