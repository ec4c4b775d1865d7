"""Check a profile against one live record page in a minute: what it extracts, what it misses.

Before the HTML, it looks for the standard ways in (crawler/detect.py): an OAI-PMH endpoint
(the URL itself, or a platform's usual path on its site), then IIIF manifests; and prints the
crawl command each calls for. Fetches with the crawler's User-Agent and honours robots.txt,
like the crawl, and caps each page at the profile's max_page_mb as the crawl does. Pure stdlib
HTTP (a few pages do not need Scrapy's engine); the extraction is the crawler's own.

What it prints is pasted into shells and shown on terminals: every URL in a printed command is
shell-quoted (shlex.quote), and terminal escape sequences and other control characters that
page text carries are removed from the output (`printable`).
"""

from __future__ import annotations

import re
import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from protego import Protego

from crawler import settings as crawl_settings
from crawler.detect import IiifLink, OaiEndpoint, find_oai_nearby, iiif_document, iiif_links, oai_at
from crawler.extract import as_selector, extract_fields, extract_image_url, normalize_label
from crawler.platforms import Platform, recognise
from crawler.profile import DEFAULT_PROFILE, MAX_PAGE_MB, MB, load_profile
from crawler.suggest import Suggestion, render_toml, suggest
from db.dates import parse_date
from db.errors import PipelineError

TIMEOUT_S = 20
MAX_PAGE_BYTES = int(MAX_PAGE_MB * MB)  # a probe without a profile (--suggest) reads pages up to the crawl's default
# ESC sequences (CSI "ESC [ ... final", OSC "ESC ] ... BEL or ESC \", two-byte ones) and their
# 8-bit C1 forms, then any control character left: none of them is text a person should see.
_TERMINAL_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC (titles, links), DCS...
    r"|\x1b[ -/]*[0-~]"  # two-character escapes
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class ProbeFailed(PipelineError):
    """The page could not be fetched (or robots.txt forbids it)."""


@dataclass(frozen=True)
class ProbeResult:
    url: str  # the URL asked for
    final_url: str  # after redirects
    http_status: int
    profile: str  # profile name
    fields: dict[str, str] = field(default_factory=dict)  # field -> value extracted
    field_labels: dict[str, str] = field(default_factory=dict)  # field -> the label it came from
    missing: tuple[str, ...] = ()  # profile fields with no value on the page
    required_missing: tuple[str, ...] = ()  # of those (and image_url/year), the ones a record needs
    unmapped: tuple[str, ...] = ()  # labels on the page the profile does not map
    image_url: str | None = None  # the main image, absolute
    year: int | None = None  # parse_date(date) result, for a quick sanity check
    date_precision: str = "unknown"
    oai: OaiEndpoint | None = None  # an OAI-PMH endpoint: the URL itself, or one on its site
    oai_is_url: bool = False  # the URL itself is the endpoint (nothing else was probed)
    iiif: tuple[IiifLink, ...] = ()  # IIIF manifests / info.json the page links
    iiif_document: str | None = None  # "iiif_manifest" | "iiif_info" when the URL itself is one
    platform: Platform | None = None  # the archive platform the page shows (DIGIBIB, AtoM, DSpace, Omeka S)


def printable(text: str) -> str:
    """`text` without terminal escape sequences or control characters (newlines and tabs stay).

    >>> printable("T\x1b]0;owned\x07itle \x1b[31mred\x1b[0m\x07")
    'Title red'
    """
    return _CONTROL.sub("", _TERMINAL_ESCAPES.sub("", text))


def shell_quote(text: str) -> str:
    """An argument as a shell would read it back unchanged (after `printable`, as it is printed).

    >>> shell_quote("http://h/rec/1;touch${IFS}x"), shell_quote("http://h/oai")
    ("'http://h/rec/1;touch${IFS}x'", 'http://h/oai')
    """
    return shlex.quote(printable(text).replace("\n", "").replace("\t", ""))


def _read_capped(response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    too_large = ProbeFailed(
        f"{url} is larger than {max_bytes / MB:.3g} MB, the profile's max_page_mb: the crawl would refuse it too. "
        "Is it a record page? (raise [limits] max_page_mb in the profile if it really is one)")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise too_large
    return body


def _fetch(url: str, max_bytes: int = MAX_PAGE_BYTES) -> tuple[int, str, bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": crawl_settings.USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            return response.status, response.geturl(), _read_capped(response, url, max_bytes), charset
    except urllib.error.HTTPError as exc:
        raise ProbeFailed(f"{url} answered HTTP {exc.code} {exc.reason}: expected 200. Is it a record page?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProbeFailed(f"Could not fetch {url}: {reason}. Check the address (is the archive up?).") from None


def robots_for(url: str):
    """A can_fetch(url) for the site's robots.txt (everything allowed without one, as in Scrapy)."""
    robots_url = urljoin(url, "/robots.txt")
    request = urllib.request.Request(robots_url, headers={"User-Agent": crawl_settings.USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = _read_capped(response, robots_url, MAX_PAGE_BYTES).decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError, ProbeFailed):
        return lambda _url: True
    rules = Protego.parse(body)
    return lambda target: rules.can_fetch(target, crawl_settings.USER_AGENT)


def _refuse_robots(url: str) -> ProbeFailed:
    return ProbeFailed(f"robots.txt of {url} disallows it for our User-Agent: the crawler would not fetch it either.")


def suggest_profile(url: str, out: Path) -> Suggestion:
    """Draft a profile from the listing or record page at `url` (and a few record pages) into `out`."""
    if out.exists():
        raise ProbeFailed(f"{out} exists: a draft never overwrites a file. Pass another --out or remove it.")
    allowed = robots_for(url)

    def fetch(target: str) -> tuple[str, str]:
        if not allowed(target):
            raise _refuse_robots(target)
        _status, final_url, body, charset = _fetch(target)
        return final_url, body.decode(charset, errors="replace")

    suggestion = suggest(url, fetch)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_toml(suggestion), encoding="utf-8")
    return suggestion


def format_suggestion(suggestion: Suggestion, out: Path) -> str:
    """What `cli.py probe --suggest` prints."""
    missing = "(not found: write it by hand)"
    labels = ", ".join(f"{label} -> {name}" for label, name in suggestion.labels.items()) or "none"
    lines = [
        f"Wrote draft profile {out} (source {suggestion.source!r}) from {len(suggestion.record_urls)} record page(s).",
        f"  record links: {suggestion.record_links or missing}",
        f"  next page:    {suggestion.next_page or missing}",
        f"  image:        {suggestion.image or missing}",
        f"  labels:       {labels}",
    ]
    if suggestion.unmapped:
        lines.append(f"  not mapped:   {', '.join(suggestion.unmapped)}")
    lines.append(f"Review it, then check a record page:  cli.py probe {shell_quote(suggestion.record_urls[0])} "
                 f"--profile {shell_quote(str(out))}")
    return printable("\n".join(lines))


def quiet_fetcher(allowed, max_bytes: int = MAX_PAGE_BYTES):
    """fetch(url) -> body, or None when robots.txt forbids it or it fails: for detection, where a miss is an answer."""

    def fetch(url: str) -> bytes | None:
        if not allowed(url):
            return None
        try:
            return _fetch(url, max_bytes)[2]
        except ProbeFailed:
            return None

    return fetch


def probe(url: str, profile_name: str = DEFAULT_PROFILE) -> ProbeResult:
    """Look for OAI-PMH and IIIF at `url`; unless it is an endpoint or a IIIF document, extract it with the profile."""
    profile = load_profile(profile_name)
    allowed = robots_for(url)
    if not allowed(url):
        raise _refuse_robots(url)
    fetch = quiet_fetcher(allowed, profile.max_page_bytes)
    endpoint = oai_at(url, fetch)
    if endpoint is not None:
        return ProbeResult(url=url, final_url=endpoint.url, http_status=200, profile=profile.name, oai=endpoint,
                           oai_is_url=True)
    status, final_url, body, charset = _fetch(url, profile.max_page_bytes)
    document = iiif_document(body)
    if document is not None:
        return ProbeResult(url=url, final_url=final_url, http_status=status, profile=profile.name,
                           iiif_document=document, oai=find_oai_nearby(final_url, fetch))
    page = as_selector(body.decode(charset, errors="replace"))
    extraction = extract_fields(page, profile.labels, profile.fields_container)
    image_url = extract_image_url(page, profile.image, final_url)
    mapped = {normalize_label(label): name for label, name in profile.labels.items()}
    field_labels: dict[str, str] = {}
    for label, value in extraction.labels.items():
        name = mapped.get(normalize_label(label))
        if name and name not in field_labels and value == extraction.fields.get(name):
            field_labels[name] = label
    platform = recognise(final_url, page)
    estimate = parse_date(extraction.fields.get("date_raw", ""))
    present = {**extraction.fields, **({"image_url": image_url} if image_url else {})}
    required_missing = [name for name in profile.required if name != "year" and name not in present]
    if "year" in profile.required and estimate.year is None:
        required_missing.append("year")
    return ProbeResult(
        url=url,
        final_url=final_url,
        http_status=status,
        profile=profile.name,
        fields=dict(extraction.fields),
        field_labels=field_labels,
        missing=extraction.missing,
        required_missing=tuple(required_missing),
        unmapped=extraction.unmapped,
        image_url=image_url,
        year=estimate.year,
        date_precision=estimate.precision,
        oai=find_oai_nearby(final_url, fetch, platform.oai_urls if platform else ()),
        iiif=tuple(iiif_links(page, final_url)),
        platform=platform,
    )


def _format_ways_in(result: ProbeResult) -> list[str]:
    lines = []
    if result.oai is not None:
        oai = result.oai
        sets = f"{oai.sets} sets" if oai.sets is not None else "no sets"
        where = "This URL is" if result.oai_is_url else "The site has"
        if result.platform is not None and not result.oai_is_url:
            where = f"The site ({result.platform.name}) has"
        lines += [
            f"OAI-PMH: {where} an OAI-PMH endpoint: {oai.url} ({oai.repository_name or 'unnamed'}; "
            f"formats {', '.join(oai.formats) or 'unknown'}; {sets}; granularity {oai.granularity})",
            "  Harvest it (Dublin Core, no selectors; later runs are incremental):",
            f"  cli.py crawl --oai {shell_quote(oai.url)} --profile {shell_quote(result.profile)}",
        ]
        if "oai_dc" not in oai.formats:
            lines.append("  (it does not list oai_dc: the harvest would be refused)")
    elif result.platform is not None:
        usual = result.platform.oai_urls[0]
        lines += [f"OAI-PMH: none answered ?verb=Identify, though the site looks like {result.platform.name}, "
                  f"which usually serves it at {usual}",
                  "  The archive may have it switched off (ask them), or elsewhere; check with:",
                  f"  cli.py probe {shell_quote(usual)}"]
    else:
        lines.append("OAI-PMH: none found (the URL and the usual platform paths do not answer ?verb=Identify)")
    if result.iiif_document is not None:
        kind = "a IIIF Presentation manifest" if result.iiif_document == "iiif_manifest" else "a IIIF Image API info.json"
        lines += [f"IIIF: this URL is {kind}: records whose image link points at such documents get the picture",
                  "  through it; choose the size with --image-size max (or e.g. 2048)."]
    elif result.iiif:
        first = result.iiif[0]
        lines += [f"IIIF: the page links {len(result.iiif)} IIIF document(s), first {first.url}",
                  "  To fetch the archive-quality picture through it, set in the profile:",
                  f"  [selectors] image = {first.selector!r}",
                  f"  then: cli.py crawl --profile {shell_quote(result.profile)} --image-size max"]
    elif not result.oai_is_url:
        lines.append("IIIF: no manifest linked from this page")
    return lines


def format_probe(result: ProbeResult) -> str:
    """What `cli.py probe` prints: the ways in found (OAI-PMH, IIIF), then what the profile extracts."""
    ways_in = _format_ways_in(result)
    if result.oai_is_url or result.iiif_document is not None:
        return printable("\n".join(ways_in))
    lines = [*ways_in, f"Probed {result.final_url} (HTTP {result.http_status}) with profile {result.profile!r}"]
    width = max([len(name) for name in result.fields] + [len("image_url")])
    for name, value in result.fields.items():
        label = result.field_labels.get(name)
        shown = value if len(value) <= 100 else value[:97] + "..."
        lines.append(f"  {name:<{width}}  {shown}" + (f"   <- {label}" if label else ""))
    lines.append(f"  {'image_url':<{width}}  {result.image_url or '(not found: check [selectors] image)'}")
    if "date_raw" in result.fields:
        lines.append(f"  date parsed as year {result.year} (precision {result.date_precision})")
    lines.append(f"missing: {', '.join(result.missing) if result.missing else 'none'}")
    if result.required_missing:
        lines.append(f"required but missing (the record would be incomplete): {', '.join(result.required_missing)}")
    if result.unmapped:
        lines.append(f"labels on the page the profile does not map: {', '.join(result.unmapped)}")
    return printable("\n".join(lines))
