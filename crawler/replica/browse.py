"""The replica's browse-by-town listings and its GET search, as regional archives arrange their photographs.

/lugares lists the towns; /lugares/<town> the decades with photographs there (and a link back
up); /lugares/<town>/<decade>?pagina=N the records, paginated like /fotos (same markup), with
links back up to the town and to all towns, so a crawler must guard against loops.
/buscar?q=TEXT&pagina=N lists the records whose title, place or description contain TEXT.
Every record is under exactly one town ("sin-lugar" without a place) and one decade
("sin-fecha" when its date gives no year).
"""

from __future__ import annotations

import math
import unicodedata
from html import escape
from urllib.parse import urlencode

from crawler.replica.archive import ReplicaArchive, ReplicaRecord
from crawler.replica.pages import _document
from db.dates import parse_date

BROWSE_PER_PAGE = 10
NO_PLACE = "sin-lugar"
NO_DATE = "sin-fecha"


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def town_slug(record: ReplicaRecord) -> str:
    """"santo-domingo-de-la-calzada" for the record's town; NO_PLACE without one."""
    place = record.fields.get("Lugar")
    return "-".join(_fold(place.removesuffix(" (La Rioja)")).split()) if place else NO_PLACE


def decade_slug(record: ReplicaRecord) -> str:
    year = parse_date(record.date_raw).year
    return str(year - year % 10) if year is not None else NO_DATE


def _results(records: list[ReplicaRecord], page: int, next_href: str | None, up: str) -> str:
    items = "\n".join(
        f"<li class=\"resultado\"><a class=\"ficha\" href=\"{escape(r.listed_path)}\">{escape(r.title)}</a></li>"
        for r in records
    )
    nav = f"<a class=\"siguiente\" rel=\"next\" href=\"{escape(next_href)}\">Siguiente</a>" if next_href else ""
    return f"{up}\n<p class=\"total\">Página {page}</p>\n<ul class=\"resultados\">\n{items}\n</ul>\n" \
           f"<nav class=\"paginacion\">{nav}</nav>"


def towns_page(archive: ReplicaArchive) -> bytes:
    towns = sorted({town_slug(r) for r in archive.records})
    items = "\n".join(f"<li><a class=\"lugar\" href=\"/lugares/{t}\">{t}</a></li>" for t in towns)
    return _document("Lugares", f"<h1>Fotografías por lugar</h1>\n<ul class=\"lugares\">\n{items}\n</ul>")


def town_page(archive: ReplicaArchive, town: str) -> bytes | None:
    decades = sorted({decade_slug(r) for r in archive.records if town_slug(r) == town})
    if not decades:
        return None
    items = "\n".join(f"<li><a class=\"decada\" href=\"/lugares/{town}/{d}\">{d}</a></li>" for d in decades)
    up = "<nav class=\"migas\"><a class=\"lugar\" href=\"/lugares\">Todos los lugares</a></nav>"
    return _document(town, f"{up}\n<h1>{escape(town)}</h1>\n<ul class=\"decadas\">\n{items}\n</ul>")


def decade_page(archive: ReplicaArchive, town: str, decade: str, page: int) -> bytes | None:
    chosen = [r for r in archive.records if town_slug(r) == town and decade_slug(r) == decade]
    pages = math.ceil(len(chosen) / BROWSE_PER_PAGE)
    if not chosen or not 1 <= page <= pages:
        return None
    chunk = chosen[(page - 1) * BROWSE_PER_PAGE : page * BROWSE_PER_PAGE]
    following = f"/lugares/{town}/{decade}?pagina={page + 1}" if page < pages else None
    up = (f"<nav class=\"migas\"><a class=\"lugar\" href=\"/lugares\">Todos los lugares</a> › "
          f"<a class=\"lugar\" href=\"/lugares/{town}\">{escape(town)}</a></nav>")
    return _document(f"{town}, {decade}", _results(chunk, page, following, up))


def search_page(archive: ReplicaArchive, query: str, page: int) -> bytes | None:
    wanted = _fold(query).strip()
    chosen = [r for r in archive.records if wanted and wanted in _fold(" ".join(
        r.fields.get(k, "") for k in ("Título", "Lugar", "Descripción")))]
    pages = max(1, math.ceil(len(chosen) / BROWSE_PER_PAGE))
    if not 1 <= page <= pages:
        return None
    chunk = chosen[(page - 1) * BROWSE_PER_PAGE : page * BROWSE_PER_PAGE]
    following = "/buscar?" + urlencode({"q": query, "pagina": page + 1}) if page < pages else None
    return _document(f"Búsqueda: {query}", _results(chunk, page, following, f"<h1>Resultados para «{escape(query)}»</h1>"))
