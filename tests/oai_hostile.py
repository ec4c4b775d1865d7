"""Tiny OAI-PMH servers on 127.0.0.1 that misbehave, for the harvest integrity tests.

`HostileOai(lists)` answers Identify and ListMetadataFormats as a well-behaved repository and
hands every ListRecords / ListSets request, GET or POST (form body), to `lists(verb, args)`,
which returns the inner XML of the answer (build it with `records_page`/`sets_page`), or a whole
(status, content type, body) to send as is. Its records carry no picture (nothing else is served).
It is a `hostile.TinyServer`: `verbs(verb)` lists (method, args) of each request for a verb.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from tests.hostile import TinyServer

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


class HostileOai(TinyServer):
    """An OAI-PMH repository at /oai whose lists come from `lists(verb, args)`."""

    def __init__(self, lists: Lists) -> None:
        super().__init__({"/oai": self._oai})
        self.lists = lists

    def _oai(self, _path: str, query: dict) -> tuple[int, str, bytes]:
        verb = query.get("verb", [""])[0]
        if verb in ("Identify", "ListMetadataFormats"):
            return 200, "text/xml", envelope(IDENTIFY if verb == "Identify" else FORMATS)
        answer = self.lists(verb, _args(query))
        return answer if isinstance(answer, tuple) else (200, "text/xml", envelope(answer))

    def verbs(self, verb: str) -> list[tuple[str, dict[str, str]]]:
        """(method, args) of the requests for `verb`."""
        with self._lock:
            return [(method, _args(query)) for method, _, query in self.requests if query.get("verb", [""])[0] == verb]


def _args(query: dict) -> dict[str, str]:
    """A parsed query's arguments but the verb, one value each."""
    return {key: values[0] for key, values in query.items() if key != "verb"}
