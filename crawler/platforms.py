"""Which archive platform a site's page comes from, and where that platform serves OAI-PMH.

Spanish archives and virtual libraries mostly run one of a few platforms, each with its own
OAI-PMH address, often below a sub-path the well-known root paths miss:

- DIGIBIB (DIGIBÍS; regional virtual libraries such as La Rioja's): pages are `.../<lang>/<area>/<page>.do`,
  OAI-PMH at `<prefix>/<lang>/oai/oai.do`;
- AtoM (Access to Memory): pages below `index.php/`, OAI-PMH at `<prefix>/index.php/;oai`
  (`<prefix>/;oai` without index.php);
- DSpace: `handle/N/M` and `bitstream/` links or its generator tag, OAI-PMH at `/oai/request`
  (DSpace 7 and later, an Angular `<ds-app>`: `/server/oai/request`);
- Omeka S: sites below `/s/<slug>/`, OAI-PMH (OaiPmhRepository module) at `/s/<slug>/oai` or `/oai`.

`recognise(url, html)` reads the page only (nothing is fetched); probe asks the candidates for
?verb=Identify and, when none answers, still prints where the platform usually has it.

>>> recognise("http://h/", '<a href="/bv/es/consulta/registro.do?id=1">1</a><a href="/bv/es/inicio/inicio.do">i</a>')
Platform(name='DIGIBIB', oai_urls=('http://h/bv/es/oai/oai.do',))
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from crawler.extract import as_selector

_DIGIBIB_PAGE = re.compile(r"^(?P<prefix>(?:/[^/]+)*?)/(?P<lang>[a-z]{2})/[\w-]+/[\w-]+\.do$")
_ATOM_MARKERS = ("accesstomemory.org", "/plugins/ardominionplugin", "/plugins/qtswordplugin", "/index.php/;",
                 "/index.php/informationobject")
_DSPACE_LINK = re.compile(r"/(handle|bitstream/handle)/\d+/\d+|/(xmlui|jspui)/")
_OMEKA_S_SITE = re.compile(r"^(?P<prefix>(?:/[^/]+)*?)/s/(?P<slug>[\w-]+)(/|$)")


@dataclass(frozen=True)
class Platform:
    name: str  # DIGIBIB | AtoM | DSpace | Omeka S
    oai_urls: tuple[str, ...]  # where it usually serves OAI-PMH for this site, most likely first


def _most_common(values: list[str]) -> str:
    return Counter(values).most_common(1)[0][0]


def recognise(url: str, html) -> Platform | None:
    """The platform `html` (the page at `url`, text or a Selector) was served by, None when none is clear."""
    page = as_selector(html)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    host = urlsplit(url).netloc
    generator = " ".join(page.xpath("//meta[translate(@name, 'GENRATO', 'genrato')='generator']/@content").getall())
    generator = generator.casefold()
    links = [urljoin(url, href.strip()) for href in page.xpath("//@href | //@src | //form/@action").getall()]
    paths = [urlsplit(link).path for link in links if urlsplit(link).netloc == host]
    lowered = " ".join(links).casefold() + " " + " ".join(page.xpath("//body/@class").getall()).casefold()

    digibib = [m for m in map(_DIGIBIB_PAGE.match, paths) if m]
    if len(digibib) >= 2 or ("digibib" in generator and digibib):
        prefix = _most_common([m["prefix"] for m in digibib])
        lang = _most_common([m["lang"] for m in digibib])
        return Platform("DIGIBIB", (f"{origin}{prefix}/{lang}/oai/oai.do",))
    if "access to memory" in generator or "atom" in generator.split() or any(m in lowered for m in _ATOM_MARKERS) \
            or "yui-skin-sam" in lowered:
        index = [p.split("/index.php/")[0] for p in paths if "/index.php/" in p]
        if index:
            return Platform("AtoM", (f"{origin}{_most_common(index)}/index.php/;oai",))
        return Platform("AtoM", (f"{origin}/;oai",))
    dspace_7 = bool(page.xpath("//ds-app")) or re.search(r"dspace ([7-9]|\d\d)", generator) is not None
    if dspace_7 or "dspace" in generator or sum(1 for p in paths if _DSPACE_LINK.search(p)) >= 2:
        urls = (f"{origin}/server/oai/request", f"{origin}/oai/request")
        return Platform("DSpace", urls if dspace_7 else urls[::-1])
    sites = [m for m in map(_OMEKA_S_SITE.match, paths) if m]
    if "omeka s" in generator or len(sites) >= 2:
        if not sites:
            return Platform("Omeka S", (f"{origin}/oai",))
        prefix = _most_common([m["prefix"] for m in sites])
        slug = _most_common([m["slug"] for m in sites])
        return Platform("Omeka S", (f"{origin}{prefix}/s/{slug}/oai", f"{origin}{prefix}/oai"))
    return None
