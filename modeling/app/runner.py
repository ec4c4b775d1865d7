"""Serve an ASGI app with uvicorn on a background thread (tests, smoke checks in scripts).

`cli.py serve` runs uvicorn in the foreground instead; this is for callers that need the app
running while they do something else, on a free port chosen by the OS.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

STARTUP_TIMEOUT_S = 30.0


class BackgroundServer:
    """uvicorn on a daemon thread, bound before it starts so the port is known and free."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"uvicorn did not start on {self.base_url} within {STARTUP_TIMEOUT_S:.0f} s"
                )
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)
        self._socket.close()


@contextmanager
def background_server(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[BackgroundServer]:
    """`with background_server(app) as server: httpx.get(server.base_url + "/healthz")`."""
    server = BackgroundServer(app, host, port).start()
    try:
        yield server
    finally:
        server.stop()
