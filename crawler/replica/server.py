"""ReplicaServer: the replica archive over real HTTP on loopback, with its faults and a hit log.

>>> from crawler.replica import build_archive
>>> with ReplicaServer(build_archive(30)) as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from crawler.replica import browse, iiif, pages
from crawler.replica.archive import ReplicaArchive, ReplicaRecord
from crawler.replica.chaos import Chaos
from crawler.replica.oai import SECONDS, OaiRepository
from db.errors import PipelineError

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
TRANSIENT_500_COUNT = 2  # a page_500_transient record page fails this many times, then answers
RETRY_AFTER_S = 1  # the Retry-After a page_429 record page sends with its one 429
PAGE_CACHE_SIZE = 4096  # rendered record pages kept in memory
CHUNK_SIZE = 64 * 1024  # bytes per chunk of a chunked answer
DROPPED = 0  # request_log status of a request whose connection chaos closed without an answer


def _not_found(path: str) -> bytes:
    return pages.message_page("Página no encontrada", path)


class NonLoopbackHost(PipelineError):
    """The replica only ever listens on the loopback interface."""


class PortUnavailable(PipelineError):
    """The requested port could not be bound."""


def check_loopback(host: str) -> None:
    """Raise NonLoopbackHost unless `host` is 'localhost' or a loopback IPv4 address (127.x.x.x)."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise NonLoopbackHost(
            f"Refusing to serve the replica on {host!r}: it listens only on loopback. "
            "Pass --host 127.0.0.1 (or another 127.x.x.x address)."
        )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, replica: ReplicaServer):
        self.replica = replica
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A client hanging up mid-response is normal for a crawler being killed; anything else
        # is a bug in the replica and gets the default traceback on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a crawler reuses connections
    server_version = "LaRiojaReplica/1.0"
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK stalls
    # every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.replica._respond(self, send_body=True)

    def do_HEAD(self) -> None:
        self.server.replica._respond(self, send_body=False)

    def log_message(self, format: str, *args) -> None:
        """Quiet: requests go to ReplicaServer.request_log instead of stderr."""


@dataclass(frozen=True)
class _Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    chunked: bool = False  # sent with Transfer-Encoding: chunked, so the client learns its size only by reading


_SERVER_ERROR = _Response(500, HTML, pages.message_page("Error interno", "Inténtelo de nuevo más tarde."))


class ReplicaServer:
    """Serve a ReplicaArchive on http://127.0.0.1:PORT from a background thread.

    `hits` counts requests per path (query string included); `request_log` lists
    (monotonic time of arrival, path, status). Fault counters (transient 500s, the one 429) run
    from start() and are not reset by reset_hits().

    Faults for crawler tests, all off by default: `chaos` answers requests (all but robots.txt)
    with 500s, dropped connections or delays at random (crawler/replica/chaos.py);
    `listing_padding` pads every listing page with that many bytes of HTML comment, and
    `chunked_listings` sends listing pages chunked, without a Content-Length;
    `redirect_host` sends the /ficha.php redirects to that loopback name (e.g. "localhost"
    while serving on 127.0.0.1), another host as far as a crawler can tell; `image_host`
    likewise answers every /media/ID.ext with a 302 to http://IMAGE_HOST:PORT/cdn/ID.ext, an
    image server elsewhere.
    """

    def __init__(self, archive: ReplicaArchive, host: str = "127.0.0.1", port: int = 0, per_page: int = 24,
                 chaos: Chaos | None = None, listing_padding: int = 0, chunked_listings: bool = False,
                 redirect_host: str | None = None, image_host: str | None = None,
                 oai_page_size: int = 100, oai_granularity: str = SECONDS, oai_formats: tuple[str, ...] = ("oai_dc",),
                 oai_faults: bool = True):
        check_loopback(host)
        for name in (redirect_host, image_host):
            if name is not None:
                check_loopback(name)
        self.chaos = chaos
        self.listing_padding = listing_padding
        self.chunked_listings = chunked_listings
        self.redirect_host = redirect_host
        self.image_host = image_host
        self._chaos_requests: Counter[str] = Counter()
        if per_page < 1:
            raise ValueError(f"per_page must be at least 1, got {per_page}")
        self.archive = archive
        self.host = host
        self.port = port
        self.per_page = per_page
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._log: list[tuple[float, str, int]] = []
        self._fault_requests: Counter[str] = Counter()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._record_page = lru_cache(maxsize=PAGE_CACHE_SIZE)(self._render_record)
        self._listing_page = lru_cache(maxsize=PAGE_CACHE_SIZE)(self._render_listing)
        self._oai_options = {"page_size": oai_page_size, "granularity": oai_granularity, "formats": oai_formats,
                             "faults": oai_faults}
        self.oai: OaiRepository | None = None  # the /oai repository, once the port is known (start())

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ReplicaServer:
        if self._httpd is not None:
            return self
        try:
            self._httpd = _HTTPServer((self.host, self.port), _Handler, self)
        except OSError as exc:
            raise PortUnavailable(
                f"Cannot listen on {self.host}:{self.port} ({exc.strerror}). "
                "Pass another --port, or --port 0 for a free one."
            ) from None
        self.port = self._httpd.server_address[1]
        if self.oai is None:
            self.oai = OaiRepository(self.archive, self.base_url, **self._oai_options)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="replica-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with httpd.sockets_lock:
            open_sockets = list(httpd.open_sockets)
        for sock in open_sockets:  # wake keep-alive threads blocked on an idle connection
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # already closed by its handler
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- observation -------------------------------------------------------------------------
    @property
    def hits(self) -> Counter[str]:
        """A snapshot of requests per path (query string included)."""
        with self._lock:
            return Counter(self._hits)

    @property
    def request_log(self) -> list[tuple[float, str, int]]:
        """A snapshot of (time.monotonic() at arrival, path, status), in arrival order."""
        with self._lock:
            return list(self._log)

    def reset_hits(self) -> None:
        with self._lock:
            self._hits.clear()
            self._log.clear()

    # -- routing -----------------------------------------------------------------------------
    def _respond(self, handler: _Handler, send_body: bool) -> None:
        arrived = time.monotonic()
        path = handler.path
        with self._lock:
            self._hits[path] += 1
        fault = self._chaos_fault(path)
        if fault == "drop":
            with self._lock:
                self._log.append((arrived, path, DROPPED))
            handler.close_connection = True  # the socket closes with no status line sent
            return
        response = _SERVER_ERROR if fault == "error" else self._route(path)
        with self._lock:
            self._log.append((arrived, path, response.status))
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        if response.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            handler.send_header(name, value)
        handler.end_headers()
        if send_body and response.chunked:
            for start in range(0, len(response.body), CHUNK_SIZE):
                chunk = response.body[start:start + CHUNK_SIZE]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        elif send_body:
            handler.wfile.write(response.body)

    def _chaos_fault(self, path: str) -> str | None:
        """This request's chaos draw ("error", "drop" or None), after sleeping out a "slow" one."""
        if self.chaos is None or path == "/robots.txt":
            return None
        with self._lock:
            attempt = self._chaos_requests[path]
            self._chaos_requests[path] += 1
        fault = self.chaos.draw(path, attempt)
        if fault == "slow":
            time.sleep(self.chaos.slow_s)
            return None
        return fault

    def _route(self, raw_path: str) -> _Response:
        parts = urlsplit(raw_path)
        path = parts.path
        if path == "/":
            return _Response(200, HTML, pages.home_page(self.archive))
        if path == "/robots.txt":
            return _Response(200, TEXT, pages.ROBOTS_TXT.encode())
        if path == "/fotos":
            return self._listing(parts.query)
        if path.startswith("/foto/") or path.startswith("/privado/foto/"):
            return self._record(self.archive.find(path.rsplit("/", 1)[-1]), raw_path)
        if path == "/ficha.php":
            record = self.archive.find(parse_qs(parts.query).get("id", [""])[0])
            if record is not None:
                location = f"http://{self.redirect_host or self.host}:{self.port}{record.page_path}"
                return _Response(301, HTML, pages.message_page("Movida permanentemente", location), (("Location", location),))
        if path.startswith("/media/") and self.image_host is not None:
            location = f"http://{self.image_host}:{self.port}/cdn/{path.removeprefix('/media/')}"
            return _Response(302, HTML, pages.message_page("Movida", location), (("Location", location),))
        if path.startswith("/media/"):
            return self._image(path)
        if path.startswith("/cdn/") and self.image_host is not None:
            return self._image("/media/" + path.removeprefix("/cdn/"))
        if path == "/lugares" or path.startswith("/lugares/") or path == "/buscar":
            return self._browse(path, parse_qs(parts.query), raw_path)
        if path == "/oai":
            return _Response(*self.oai.answer(parts.query))
        if path.startswith("/iiif/"):
            answered = iiif.answer(self.archive, path, self.base_url)
            if answered is not None:
                return _Response(*answered)
        return _Response(404, HTML, _not_found(raw_path))

    def _render_record(self, source_id: str) -> bytes:
        return pages.record_page(self.archive.record(source_id))

    def _render_listing(self, page: int) -> bytes | None:
        return pages.listing_page(self.archive, page, self.per_page)

    def _listing(self, query: str) -> _Response:
        values = parse_qs(query).get("pagina", ["1"])
        body = self._listing_page(int(values[0])) if values[0].isdigit() else None
        if body is None:
            return _Response(404, HTML, _not_found(f"/fotos?{query}"))
        if self.listing_padding:
            body = body + b"<!--" + b" " * self.listing_padding + b"-->"
        return _Response(200, HTML, body, chunked=self.chunked_listings)

    def _browse(self, path: str, query: dict[str, list[str]], raw_path: str) -> _Response:
        number = query.get("pagina", ["1"])[0]
        page = int(number) if number.isdigit() else 0
        steps = path.strip("/").split("/")
        if path == "/buscar":
            body = browse.search_page(self.archive, query.get("q", [""])[0], page)
        elif len(steps) == 1:
            body = browse.towns_page(self.archive)
        elif len(steps) == 2:
            body = browse.town_page(self.archive, steps[1])
        else:
            body = browse.decade_page(self.archive, steps[1], steps[2], page) if len(steps) == 3 else None
        return _Response(200, HTML, body) if body is not None else _Response(404, HTML, _not_found(raw_path))

    def _record(self, record: ReplicaRecord | None, raw_path: str) -> _Response:
        if record is None:
            return _Response(404, HTML, _not_found(raw_path))
        if "page_500_transient" in record.faults or "page_429" in record.faults:
            with self._lock:
                self._fault_requests[record.source_id] += 1
                seen = self._fault_requests[record.source_id]
            if "page_500_transient" in record.faults and seen <= TRANSIENT_500_COUNT:
                return _SERVER_ERROR
            if "page_429" in record.faults and seen == 1:
                body = pages.message_page("Demasiadas peticiones", f"Espere {RETRY_AFTER_S} s.")
                return _Response(429, HTML, body, (("Retry-After", str(RETRY_AFTER_S)),))
        return _Response(200, HTML, self._record_page(record.source_id))

    def _image(self, path: str) -> _Response:
        name = path.rsplit("/", 1)[-1]
        record = self.archive.find(name.rsplit(".", 1)[0])
        if record is None or record.image_path != path or "image_404" in record.faults:
            return _Response(404, HTML, _not_found(path))
        if "image_html" in record.faults:
            return _Response(200, HTML, pages.image_html_page(record))
        return _Response(200, IMAGE_TYPES[record.image_format], self.archive.image_bytes(record.source_id))
