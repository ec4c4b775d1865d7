"""An oversized upload is cut off while it streams: the server stops reading long before the body ends.

The client streams a 40 MB multipart body to a real uvicorn on 127.0.0.1 (chunked, no Content-Length) and
counts what its generator yielded. Without the byte counter in modeling/app/uploads.py the server reads all
40 MB and only then answers 413 (planted once: the count reached the full body). The 413 also closes the
connection: kept alive, uvicorn went on reading and discarding the whole body after answering.
"""

from __future__ import annotations

import httpx
import pytest

from modeling.app.runner import background_server
from modeling.app.server import AppConfig, create_app

CAP_BYTES = 100 * 1024
CHUNK = 64 * 1024
BODY_BYTES = 40 * 1024 * 1024
# What may pass before the server stops: the cap, the multipart margin and the loopback socket buffers
# (measured: 0.33 MB of the 40 MB; before the 413 closed the connection, all 40 MB).
STOPPED_BY = 4 * 1024 * 1024


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
    app = create_app(AppConfig(run_dir=app_run_dir, max_upload_bytes=CAP_BYTES))
    body = CountingBody()
    with background_server(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        response = http.post("/api/predict", content=iter(body),
                             headers={"Content-Type": "multipart/form-data; boundary=cut"})
        assert response.status_code == 413
        assert "larger than the 100 KB limit" in response.json()["error"]
        assert "content-length" not in response.request.headers  # nothing declared: only counting can stop it
        assert http.get("/healthz").status_code == 200
    assert CAP_BYTES < body.yielded < STOPPED_BY, f"the client sent {body.yielded:,} of {BODY_BYTES:,} bytes"
