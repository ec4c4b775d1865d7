"""HTML of the replica archive: home, paginated listing, record pages in three markups.

The crawler's replica profile depends on exactly this layout (see /work/contracts.md):
listing `ul.resultados > li.resultado > a.ficha`, next page `a.siguiente[rel=next]`, record
fields inside `div.ficha-detalle` as dl/dt/dd, table.metadatos th/td, or
ul.metadatos li > strong, and the picture at `figure.foto img#foto-principal`.
"""

from __future__ import annotations

import math
from html import escape

from crawler.replica.archive import ReplicaArchive, ReplicaRecord

SITE_TITLE = "La Rioja en la memoria"
ROBOTS_TXT = "User-agent: *\nDisallow: /privado/\n"
# How a label is written on a page, cycling per record and label: archives are inconsistent
# about case, trailing colons and whitespace, and the crawler must not care.
DT_LABEL_FORMS = ("{}", "{}:", "{upper}", "\n    {} \n")
LI_LABEL_FORMS = ("{}:", "{upper}:", "{} :")


def _document(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=\"es\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(title)} · {SITE_TITLE}</title>\n"
        "</head>\n<body>\n"
        f"<header class=\"cabecera\"><a class=\"logo\" href=\"/\">{SITE_TITLE}</a>\n"
        "<nav class=\"menu\"><a href=\"/\">Inicio</a> <a href=\"/fotos\">Fotografías</a></nav></header>\n"
        f"<main>\n{body}\n</main>\n"
        "<footer>Réplica local para pruebas. Las imágenes son sintéticas.</footer>\n</body>\n</html>\n"
    ).encode()


def home_page(archive: ReplicaArchive) -> bytes:
    body = (
        f"<h1>{SITE_TITLE}</h1>\n<p>Fondo fotográfico de La Rioja: {len(archive.records)} fotografías.</p>\n"
        "<p><a class=\"entrar\" href=\"/fotos\">Ver todas las fotografías</a></p>"
    )
    return _document("Inicio", body)


def page_count(archive: ReplicaArchive, per_page: int) -> int:
    return max(1, math.ceil(len(archive.records) / per_page))


def listing_page(archive: ReplicaArchive, page: int, per_page: int) -> bytes | None:
    """Listing page `page` (1-based); None when the archive has no such page."""
    pages = page_count(archive, per_page)
    if not 1 <= page <= pages:
        return None
    chunk = archive.records[(page - 1) * per_page : page * per_page]
    items = "\n".join(
        f"<li class=\"resultado\"><a class=\"ficha\" href=\"{escape(r.listed_path)}\">{escape(r.title)}</a></li>"
        for r in chunk
    )
    nav = []
    if page > 1:
        prev = "/fotos" if page == 2 else f"/fotos?pagina={page - 1}"
        nav.append(f"<a class=\"anterior\" rel=\"prev\" href=\"{prev}\">Anterior</a>")
    if page < pages:
        nav.append(f"<a class=\"siguiente\" rel=\"next\" href=\"/fotos?pagina={page + 1}\">Siguiente</a>")
    body = (
        f"<h1>Fotografías</h1>\n<p class=\"total\">Página {page} de {pages} · "
        f"{len(archive.records)} resultados</p>\n<ul class=\"resultados\">\n{items}\n</ul>\n"
        f"<nav class=\"paginacion\">{' '.join(nav)}</nav>"
    )
    return _document(f"Fotografías, página {page}", body)


def _label(label: str, forms: tuple[str, ...], turn: int) -> str:
    return escape(forms[turn % len(forms)].format(label, upper=label.upper()))


def fields_markup(record: ReplicaRecord) -> str:
    """The record's fields in its markup (dl, table or li), labels written inconsistently."""
    number = int(record.source_id.rsplit("-", 1)[-1])
    rows = list(record.fields.items())
    if record.markup == "dl":
        inner = "".join(
            f"<dt>{_label(k, DT_LABEL_FORMS, number + i)}</dt><dd>{escape(v)}</dd>\n" for i, (k, v) in enumerate(rows)
        )
        return f"<dl>\n{inner}</dl>"
    if record.markup == "table":
        inner = "".join(
            f"<tr><th>{_label(k, DT_LABEL_FORMS, number + i)}</th><td>{escape(v)}</td></tr>\n"
            for i, (k, v) in enumerate(rows)
        )
        return f"<table class=\"metadatos\">\n{inner}</table>"
    if record.markup == "li":
        inner = "".join(
            f"<li><strong>{_label(k, LI_LABEL_FORMS, number + i)}</strong> {escape(v)}</li>\n"
            for i, (k, v) in enumerate(rows)
        )
        return f"<ul class=\"metadatos\">\n{inner}</ul>"
    raise ValueError(f"unknown markup {record.markup!r}; expected dl, table or li")


def record_page(record: ReplicaRecord) -> bytes:
    title = escape(record.title)
    body = (
        "<nav class=\"migas\"><a href=\"/\">Inicio</a> › <a href=\"/fotos\">Fotografías</a></nav>\n"
        f"<div class=\"ficha-detalle\">\n<h1>{title}</h1>\n{fields_markup(record)}\n"
        f"<figure class=\"foto\"><img id=\"foto-principal\" src=\"{escape(record.image_path)}\" alt=\"{title}\"></figure>\n"
        "</div>"
    )
    return _document(record.title, body)


def image_html_page(record: ReplicaRecord) -> bytes:
    """What an image_html fault serves at the image URL: a login page instead of the picture."""
    body = (
        "<h1>Acceso restringido</h1>\n<p>Inicie sesión para descargar la imagen "
        f"{escape(record.source_id)} en alta resolución.</p>"
    )
    return _document("Acceso restringido", body)


def message_page(title: str, text: str) -> bytes:
    """A short page for errors, redirects and refusals."""
    return _document(title, f"<h1>{escape(title)}</h1>\n<p>{escape(text)}</p>")
