"""`cli.py probe` on the home page of a Spanish archive platform finds its OAI-PMH endpoint, even below
a sub-path, and says where it usually is when it does not answer (issue 17 item 10)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from crawler.platforms import recognise
from crawler.probe import format_probe, probe
from tests.hostile import TinyServer

HTML = "text/html; charset=utf-8"
SAVED = Path(__file__).parent / "data" / "html"

DIGIBIB_HOME = """<html lang="es"><head><title>Biblioteca Virtual de La Rioja</title></head><body>
<form action="/bvrioja/es/consulta/resultados_busqueda.do" method="get"><input name="texto"></form>
<ul><li><a href="/bvrioja/es/inicio/inicio.do">Inicio</a></li>
<li><a href="/bvrioja/es/catalogo_imagenes/grupo.do?path=1001">Fotografías</a></li>
<li><a href="/bvrioja/es/consulta/registro.do?id=1234">Destacado</a></li></ul>
<footer>Biblioteca Virtual · DIGIBIB</footer></body></html>"""

ATOM_HOME = """<html lang="es"><head><link rel="stylesheet" href="/atom/plugins/arDominionPlugin/css/min.css">
</head><body class="yui-skin-sam staticpage index"><div id="wrapper">
<a href="/atom/index.php/informationobject/browse">Descripciones archivísticas</a>
<a href="/atom/index.php/repository/browse">Instituciones</a>
<footer><a href="https://www.accesstomemory.org">Con la tecnología de AtoM</a></footer></div></body></html>"""

DSPACE_7_HOME = """<html lang="es"><head><meta name="Generator" content="DSpace 7.6.1"><base href="/"></head>
<body><ds-app></ds-app><script src="main.js"></script></body></html>"""

OMEKA_S_HOME = """<html lang="es"><head><link href="/application/asset/css/iconfonts.css" rel="stylesheet"></head>
<body><header><a href="/s/memoria" class="site-title">La memoria</a></header>
<nav><a href="/s/memoria/page/inicio">Inicio</a><a href="/s/memoria/item">Fotografías</a>
<a href="/s/memoria/item-set/3">Colecciones</a></nav></body></html>"""


@pytest.mark.parametrize(("name", "home", "oai_path"), [
    ("DIGIBIB", DIGIBIB_HOME, "/bvrioja/es/oai/oai.do"),
    ("AtoM", ATOM_HOME, "/atom/index.php/;oai"),
    ("Omeka S", OMEKA_S_HOME, "/s/memoria/oai"),
    ("DSpace", DSPACE_7_HOME, "/server/oai/request"),
])
def test_probe_finds_the_platforms_endpoint_from_its_home_page(name, home, oai_path):
    with TinyServer({"/": (200, HTML, home.encode())}) as site:
        site.oai([], path=oai_path)
        result = probe(f"{site.base_url}/", "replica")
        hits = dict(site.hits)
    assert result.platform.name == name and result.oai.url == f"{site.base_url}{oai_path}"
    lines = format_probe(result).splitlines()
    assert lines[0].startswith(f"OAI-PMH: The site ({name}) has an OAI-PMH endpoint: {site.base_url}{oai_path} (")
    assert shlex.split(lines[2]) == ["cli.py", "crawl", "--oai", f"{site.base_url}{oai_path}", "--profile", "replica"]
    assert hits.get("/oai", 0) == 0  # the platform's own address is asked before the well-known ones


def test_a_platform_without_an_answering_endpoint_is_still_named_with_its_usual_address():
    with TinyServer({"/": (200, HTML, DSPACE_7_HOME.encode())}) as site:
        lines = format_probe(probe(f"{site.base_url}/", "replica")).splitlines()
    assert lines[:3] == [
        "OAI-PMH: none answered ?verb=Identify, though the site looks like DSpace, which usually serves it at "
        f"{site.base_url}/server/oai/request",
        "  The archive may have it switched off (ask them), or elsewhere; check with:",
        f"  cli.py probe {site.base_url}/server/oai/request",
    ]


def test_saved_platform_pages_are_recognised_and_plain_pages_are_not():
    atom = recognise("https://archivo.example/index.php/procesion", (SAVED / "atom_description.html").read_text())
    assert atom.name == "AtoM" and atom.oai_urls == ("https://archivo.example/index.php/;oai",)
    omeka = recognise("https://memoria.example.org/s/fotos/item/77", (SAVED / "omeka_s_item.html").read_text())
    assert omeka.oai_urls == ("https://memoria.example.org/s/fotos/oai", "https://memoria.example.org/oai")
    dspace = recognise("https://repo.example/", '<meta name="generator" content="DSpace 6.3">')
    assert dspace.oai_urls == ("https://repo.example/oai/request", "https://repo.example/server/oai/request")
    for plain in ("record_dl", "record_li", "record_table", "listing_first"):
        assert recognise("https://archive.example/foto/1", (SAVED / f"{plain}.html").read_text()) is None
