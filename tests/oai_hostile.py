"""Tiny OAI-PMH servers on 127.0.0.1 that misbehave, for the harvest integrity tests.

`HostileOai(lists)` answers Identify and ListMetadataFormats as a well-behaved repository and
hands every ListRecords / ListSets request, GET or POST (form body), to `lists(verb, args)`,
which returns the inner XML of the answer (build it with `records_page`/`sets_page`), or a whole
(status, content type, body) to send as is. Its records carry no picture (nothing else is served).
`requests` logs (method, verb, args) in arrival order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

PREFIX = "oai:replica.larioja:"  # the replica profile's identifier_prefix: records key as LRM-00000n


def source_id(n: int) -> str:
    return f"LRM-{n:06d}"


def datestamp(n: int) -> str:
    return f"2024-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"


def record_xml(n: int) -> str:
    return (f"<record><header><identifier>{PREFIX}{source_id(n)}</identifier><datestamp>{datestamp(n)}</datestamp>"
            '</header><metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Foto {n}</dc:title><dc:date>{1900 + n % 100}'
            f"</dc:date><dc:creator>Archivo</dc:creator></oai_dc:dc></metadata></record>")


def _token(token: str | None, complete_list_size: int | None) -> str:
    if token is None:
        return ""
    size = f' completeListSize="{complete_list_size}"' if complete_list_size is not None else ""
    return f"<resumptionToken{size}>{escape(token)}</resumptionToken>"


def records_page(numbers: range, token: str | None, complete_list_size: int | None = None) -> str:
    """A ListRecords answer listing records `numbers`, handing out `token` (None: the last page)."""
    return f"<ListRecords>{''.join(record_xml(n) for n in numbers)}{_token(token, complete_list_size)}</ListRecords>"


def sets_page(specs: list[str], token: str | None) -> str:
    sets = "".join(f"<set><setSpec>{s}</setSpec><setName>{s}</setName></set>" for s in specs)
    return f"<ListSets>{sets}{_token(token, None)}</ListSets>"


def envelope(inner: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<responseDate>2030-01-01T00:00:00Z</responseDate><request>x</request>{inner}</OAI-PMH>").encode()


IDENTIFY = ("<Identify><repositoryName>hostile</repositoryName><baseURL>x</baseURL><protocolVersion>2.0"
            "</protocolVersion><earliestDatestamp>2024-01-01T00:00:00Z</earliestDatestamp><deletedRecord>no"
            "</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>")
FORMATS = "<ListMetadataFormats><metadataFormat><metadataPrefix>oai_dc</metadataPrefix></metadataFormat></ListMetadataFormats>"

Lists = Callable[[str, dict[str, str]], "str | tuple[int, str, bytes]"]


class HostileOai:
    def __init__(self, lists: Lists) -> None:
        self.lists = lists
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._answer(self, "GET", urlsplit(self.path).query)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer._answer(self, "POST", self.rfile.read(length).decode())

            def log_message(self, format: str, *args) -> None:
                """Quiet."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, query: str) -> None:
        args = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        verb = args.pop("verb", "")
        with self._lock:
            self.requests.append((method, verb, args))
        if urlsplit(handler.path).path != "/oai":
            status, content_type, body = 404, "text/plain", b"not here"
        elif verb in ("Identify", "ListMetadataFormats"):
            status, content_type, body = 200, "text/xml", envelope(IDENTIFY if verb == "Identify" else FORMATS)
        else:
            answer = self.lists(verb, args)
            status, content_type, body = answer if isinstance(answer, tuple) else (200, "text/xml", envelope(answer))
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def verbs(self, verb: str) -> list[tuple[str, dict[str, str]]]:
        """(method, args) of the requests for `verb`."""
        with self._lock:
            return [(method, args) for method, v, args in self.requests if v == verb]

    def __enter__(self) -> HostileOai:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
