"""Tiny hostile servers for the safety tests: fixed answers per path on 127.0.0.1, and a hit log.

>>> with TinyServer({"/a": (200, "text/plain", b"x")}) as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image

OAI_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            "<responseDate>2026-01-02T03:04:05Z</responseDate>")
# An answer: (status, content type, body[, extra headers]), or a function of (path, query) giving one.
Answer = tuple | Callable[[str, dict], tuple]


def jpeg_bytes(size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (120, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def oai_identify(base_url: str) -> bytes:
    return (f'{OAI_HEAD}<request verb="Identify">{base_url}</request><Identify><repositoryName>Hostile</repositoryName>'
            f"<baseURL>{base_url}</baseURL><protocolVersion>2.0</protocolVersion>"
            "<earliestDatestamp>2000-01-01</earliestDatestamp><deletedRecord>no</deletedRecord>"
            "<granularity>YYYY-MM-DD</granularity></Identify></OAI-PMH>").encode()


def oai_formats() -> bytes:
    return (f"{OAI_HEAD}<ListMetadataFormats><metadataFormat><metadataPrefix>oai_dc</metadataPrefix>"
            "<schema>http://www.openarchives.org/OAI/2.0/oai_dc.xsd</schema>"
            "<metadataNamespace>http://www.openarchives.org/OAI/2.0/oai_dc/</metadataNamespace>"
            "</metadataFormat></ListMetadataFormats></OAI-PMH>").encode()


def oai_records(records: list[tuple[str, str]]) -> bytes:
    """A one-page ListRecords of (source_id, image URL) records with everything else a record needs."""
    body = []
    for source_id, image_url in records:
        body.append(
            f"<record><header><identifier>oai:replica.larioja:{source_id}</identifier>"
            "<datestamp>2026-01-01</datestamp></header><metadata>"
            '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>Plaza {source_id}</dc:title><dc:date>1940</dc:date><dc:coverage>Logroño</dc:coverage>"
            "<dc:creator>Archivo</dc:creator><dc:description>Vista</dc:description>"
            f"<dc:identifier>{image_url.replace('&', '&amp;')}</dc:identifier></oai_dc:dc></metadata></record>")
    return f"{OAI_HEAD}<ListRecords>{''.join(body)}</ListRecords></OAI-PMH>".encode()


class TinyServer:
    """Serves `routes` (path -> Answer, "/oai" also for OAI verbs) on a free loopback port, to GET and to POST (a form
    body read as the query); counts hits per path and logs every request."""

    def __init__(self, routes: dict[str, Answer] | None = None) -> None:
        self.routes: dict[str, Answer] = dict(routes or {})
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query) in arrival order
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer._serve(self, "GET", urlsplit(self.path).query)

            def do_POST(self) -> None:  # noqa: N802 - OAI-PMH allows a form body instead of a query
                length = int(self.headers.get("Content-Length") or 0)
                outer._serve(self, "POST", self.rfile.read(length).decode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _serve(self, handler: BaseHTTPRequestHandler, method: str, raw_query: str) -> None:
        path, query = urlsplit(handler.path).path, parse_qs(raw_query, keep_blank_values=True)
        with self._lock:
            self.hits[path] += 1
            self.requests.append((method, path, query))
        answer = self.routes.get(path, (404, "text/plain", b"not found"))
        if callable(answer):
            answer = answer(path, query)
        status, content_type, body, *extra = answer
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (extra[0] if extra else {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def oai(self, records: list[tuple[str, str]], path: str = "/oai") -> None:
        """Answer OAI-PMH at `path` with one ListRecords page of `records`."""
        def answer(_path: str, query: dict) -> tuple[int, str, bytes]:
            verb = query.get("verb", [""])[0]
            body = {"Identify": lambda: oai_identify(f"{self.base_url}{path}"), "ListMetadataFormats": oai_formats,
                    "ListRecords": lambda: oai_records(records)}.get(verb)
            if body is None:
                return 200, "text/xml", f'{OAI_HEAD}<error code="badVerb">no</error></OAI-PMH>'.encode()
            return 200, "text/xml; charset=utf-8", body()

        self.routes[path] = answer

    def __enter__(self) -> TinyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
