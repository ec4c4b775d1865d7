"""Check a profile against one live record page in a minute: what it extracts, what it misses.

Fetches with the crawler's User-Agent and honours robots.txt, like the crawl. Pure stdlib
HTTP (one page does not need Scrapy's engine); the extraction is the crawler's own.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urljoin

from protego import Protego

from crawler import settings as crawl_settings
from crawler.extract import as_selector, extract_fields, extract_image_url, normalize_label
from crawler.profile import DEFAULT_PROFILE, load_profile
from db.dates import parse_date
from db.errors import PipelineError

TIMEOUT_S = 20


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


def _fetch(url: str) -> tuple[int, str, bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": crawl_settings.USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            return response.status, response.geturl(), response.read(), charset
    except urllib.error.HTTPError as exc:
        raise ProbeFailed(f"{url} answered HTTP {exc.code} {exc.reason}: expected 200. Is it a record page?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProbeFailed(f"Could not fetch {url}: {reason}. Check the address (is the archive up?).") from None


def _robots_allows(url: str) -> bool:
    robots_url = urljoin(url, "/robots.txt")
    request = urllib.request.Request(robots_url, headers={"User-Agent": crawl_settings.USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError):
        return True  # no robots.txt: everything is allowed, as in Scrapy
    return Protego.parse(body).can_fetch(url, crawl_settings.USER_AGENT)


def probe(url: str, profile_name: str = DEFAULT_PROFILE) -> ProbeResult:
    """Fetch one record page and extract it with the profile."""
    profile = load_profile(profile_name)
    if not _robots_allows(url):
        raise ProbeFailed(f"robots.txt of {url} disallows it for our User-Agent: the crawler would not fetch it either.")
    status, final_url, body, charset = _fetch(url)
    page = as_selector(body.decode(charset, errors="replace"))
    extraction = extract_fields(page, profile.labels, profile.fields_container)
    image_url = extract_image_url(page, profile.image, final_url)
    mapped = {normalize_label(label): name for label, name in profile.labels.items()}
    field_labels: dict[str, str] = {}
    for label, value in extraction.labels.items():
        name = mapped.get(normalize_label(label))
        if name and name not in field_labels and value == extraction.fields.get(name):
            field_labels[name] = label
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
    )


def format_probe(result: ProbeResult) -> str:
    """What `cli.py probe` prints."""
    lines = [f"Probed {result.final_url} (HTTP {result.http_status}) with profile {result.profile!r}"]
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
    return "\n".join(lines)
