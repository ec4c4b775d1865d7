"""An oversized upload is cut off while it streams: the app stops reading long before the body ends.

A 40 MB multipart body is streamed (chunked, no Content-Length) to a real uvicorn on 127.0.0.1. A thin ASGI
wrapper counts the body bytes the app pulled through receive(); the client generator counts what it sent.
Without the byte counter in modeling/app/uploads.py the app reads all 40 MB before answering 413 (planted once).

The client still sends all 40 MB: after the 413 uvicorn reads and discards the rest of the body to keep the
connection alive. Answering with "Connection: close" stops that (0.33 MB sent), but a server that closes with
unread input resets the connection, and clients still sending lost the 413 itself (seen in
test_fifty_concurrent_requests_on_uvicorn), so that change was not kept.
"""

from __future__ import annotations

import httpx
import pytest

from modeling.app.runner import background_server
from modeling.app.server import AppConfig, create_app

CAP_BYTES = 100 * 1024
CHUNK = 64 * 1024
BODY_BYTES = 40 * 1024 * 1024
# What the app may read before it stops: the cap, the multipart margin and one more chunk.
STOPPED_BY = 4 * 1024 * 1024


class CountingApp:
    """ASGI wrapper that counts the request body bytes the wrapped app receives."""

    def __init__(self, app) -> None:
        self.app, self.received = app, 0

    async def __call__(self, scope, receive, send):
        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class CountingBody:
    """A chunked multipart body of BODY_BYTES zeros whose iterator counts the bytes handed to the client."""

    def __init__(self) -> None:
        self.yielded = 0

    def __iter__(self):
        head = b'--cut\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n\xff\xd8'
        self.yielded += len(head)
        yield head
        chunk = b"\0" * CHUNK
        for _ in range(BODY_BYTES // CHUNK):
            self.yielded += len(chunk)
            yield chunk
        self.yielded += 9
        yield b"\r\n--cut--"


@pytest.mark.slow
def test_an_oversized_stream_is_cut_off_early(app_run_dir):
    app = CountingApp(create_app(AppConfig(run_dir=app_run_dir, max_upload_bytes=CAP_BYTES)))
    body = CountingBody()
    with background_server(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        response = http.post("/api/predict", content=iter(body),
                             headers={"Content-Type": "multipart/form-data; boundary=cut"})
        assert response.status_code == 413
        assert "larger than the 100 KB limit" in response.json()["error"]
        assert "content-length" not in response.request.headers  # nothing declared: only counting can stop it
        assert http.get("/healthz").status_code == 200
    assert CAP_BYTES < app.received < STOPPED_BY, f"the app read {app.received:,} of {BODY_BYTES:,} bytes"
    assert body.yielded == BODY_BYTES + 85  # uvicorn drains the rest (see the module docstring)
