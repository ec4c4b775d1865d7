"""Site profiles: everything site-specific about a crawl, in a TOML file a user can edit.

A profile names the source (records are keyed by (source, source_id)), where the listing
starts, how to find record links, the next listing page and the main image, and which
labels on a record page feed which field; optionally, which other hosts a redirect may lead
to (`image_hosts`, and whether those may be internal addresses: `allow_private_addresses`,
see crawler/hostguard.py) and how large a page or an image may be ([limits]); an optional [oai] table
says how an OAI-PMH harvest of the same source reads Dublin Core. Selectors are checked when
the profile loads. `load_profile("replica")` reads crawler/profiles/replica.toml; any other
value is taken as a path to a TOML file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import tomllib
from cssselect import SelectorError
from parsel import Selector

from crawler.dublincore import HOLDER_ELEMENTS
from db.errors import PipelineError

PROFILES_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = "larioja"

# Field names a label may map to: the Record columns the crawler fills from page text.
RECORD_FIELDS = ("source_id", "title", "holder", "place", "description", "date_raw")
# Checked on every record: "image_url" means the page must show an image.
KNOWN_REQUIRED = (*RECORD_FIELDS, "image_url", "year")
# Download caps, in MB, when the profile's [limits] table does not set them: a listing or record
# page is small text, so a huge answer is a fault (one of 50 MB cost ~450 MB of memory to parse).
MAX_PAGE_MB = 8.0
MAX_IMAGE_MB = 64.0
MB = 1024 * 1024


class ProfileNotFound(PipelineError):
    """No profile by that name or path."""


class ProfileInvalid(PipelineError):
    """The profile file exists but says something the crawler cannot use."""


class BadStartURL(PipelineError):
    """The start URL is not an absolute http(s) URL."""


@dataclass(frozen=True)
class SiteProfile:
    name: str  # profile name (file stem), shown in logs and stored on the crawl run
    source: str  # Record.source for everything this profile harvests
    start_urls: tuple[str, ...]  # first listing page(s); relative paths need --start-url's origin
    record_links: str  # selector for the record-page links on a listing page (CSS, or "xpath:...")
    next_page: str  # selector for the next listing page's link
    image: str  # selector for the main image's URL on a record page
    fields_container: str | None  # selector scoping the label/value pairs; None = whole page
    labels: dict[str, str]  # label as printed on the page -> record field
    required: tuple[str, ...]  # fields a record needs to be "ok" (else "incomplete")
    path: str  # the TOML file it came from
    image_hosts: tuple[str, ...] = ()  # other hosts (and their subdomains) a redirect may lead to, e.g. an image CDN
    max_page_bytes: int = int(MAX_PAGE_MB * MB)  # listing/record pages larger than this fail as *_too_large
    max_image_bytes: int = int(MAX_IMAGE_MB * MB)  # image files larger than this fail as image_too_large
    listing_links: str | None = None  # selector for links from a listing to deeper listings (towns, themes); None: flat
    max_listing_depth: int = 5  # how many listing_links levels below a start URL are followed
    # OAI-PMH harvests: the DC elements that name the holder, tried in order (rights|publisher|creator|contributor)
    oai_holder: tuple[str, ...] = ("rights",)
    oai_identifier_prefix: str = ""  # OAI-PMH harvests: stripped from OAI identifiers to give source_id
    allow_private_addresses: bool = False  # image_hosts may be on loopback/private addresses (an intranet archive)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def _resolve_path(name_or_path: str) -> Path:
    named = PROFILES_DIR / f"{name_or_path}.toml"
    if "/" not in name_or_path and not name_or_path.endswith(".toml") and named.is_file():
        return named
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    raise ProfileNotFound(
        f"No site profile {name_or_path!r}: expected one of {', '.join(available_profiles())} "
        f"(files in {PROFILES_DIR}) or the path of a TOML file. Pass --profile NAME or --profile FILE."
    )


def _need(table: dict, key: str, path: Path, kind: type) -> object:
    value = table.get(key)
    if not isinstance(value, kind) or (isinstance(value, str | list | dict) and not value):
        raise ProfileInvalid(
            f"Profile {path} has {key} = {value!r}: expected a non-empty {kind.__name__}. "
            f"Fix the file (see {PROFILES_DIR / 'replica.toml'} for a complete example)."
        )
    return value


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> SiteProfile:
    """Read and check a profile.

    >>> load_profile("replica").source
    'replica'
    """
    path = _resolve_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileInvalid(f"Profile {path} is not valid TOML: {exc}. Fix the file.") from exc
    selectors = _need(data, "selectors", path, dict)
    labels = _need(data, "labels", path, dict)
    for label, name in labels.items():
        if name not in RECORD_FIELDS:
            raise ProfileInvalid(
                f"Profile {path} maps label {label!r} to {name!r}: expected one of {', '.join(RECORD_FIELDS)}."
            )
    if "source_id" not in labels.values():
        raise ProfileInvalid(
            f"Profile {path} maps no label to source_id: records are keyed by it. "
            "Add e.g. \"Identificador\" = \"source_id\" under [labels]."
        )
    required = tuple(data.get("required", (*RECORD_FIELDS, "year", "image_url")))
    unknown = [name for name in required if name not in KNOWN_REQUIRED]
    if unknown:
        raise ProfileInvalid(
            f"Profile {path} requires unknown fields {unknown}: expected names from {', '.join(KNOWN_REQUIRED)}."
        )
    start_urls = tuple(_need(data, "start_urls", path, list))
    check_selectors(selectors, path)
    depth = data.get("max_listing_depth", 5)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ProfileInvalid(f"Profile {path} has max_listing_depth = {depth!r}: expected a whole number >= 0.")
    oai = data.get("oai", {})
    holder = oai.get("holder", "rights")
    holders = [holder] if isinstance(holder, str) else holder
    if not isinstance(holders, list) or not holders or any(h not in HOLDER_ELEMENTS for h in holders):
        raise ProfileInvalid(
            f"Profile {path} has [oai] holder = {holder!r}: expected one of {', '.join(HOLDER_ELEMENTS)}, or a list "
            "of them tried in order (the Dublin Core elements that name the photograph's holder)."
        )
    return SiteProfile(
        name=path.stem,
        source=str(_need(data, "source", path, str)),
        start_urls=start_urls,
        record_links=str(_need(selectors, "record_links", path, str)),
        next_page=str(_need(selectors, "next_page", path, str)),
        image=str(_need(selectors, "image", path, str)),
        fields_container=selectors.get("fields_container") or None,
        labels={str(k): str(v) for k, v in labels.items()},
        required=required,
        path=str(path.resolve()),
        listing_links=selectors.get("listing_links") or None,
        max_listing_depth=depth,
        oai_holder=tuple(holders),
        oai_identifier_prefix=str(oai.get("identifier_prefix", "")),
        **_download_limits(data, path),
    )


def check_selectors(selectors: dict, path: Path | str) -> None:
    """Raise ProfileInvalid naming the first [selectors] entry that is not a valid CSS (or "xpath:") selector."""
    probe = Selector(text="<html></html>")
    for key, expression in selectors.items():
        if not isinstance(expression, str) or not expression:
            continue  # absent or empty optional selectors are checked where they are read
        is_xpath = expression.startswith("xpath:")
        try:
            if is_xpath:
                probe.xpath(expression[len("xpath:"):])
            else:
                probe.css(expression)
        except (SelectorError, ValueError) as exc:
            kind = "XPath" if is_xpath else "CSS"
            raise ProfileInvalid(
                f"Profile {path} has selectors.{key} = {expression!r}: not a valid {kind} selector ({exc}). "
                'Fix it under [selectors] (CSS, or XPath after an "xpath:" prefix).'
            ) from None


def _download_limits(data: dict, path: Path) -> dict[str, object]:
    """image_hosts, allow_private_addresses and the [limits] table's max_page_mb / max_image_mb, checked, as SiteProfile fields."""
    hosts = data.get("image_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h and "/" not in h for h in hosts):
        raise ProfileInvalid(
            f"Profile {path} has image_hosts = {hosts!r}: expected a list of host names, e.g. [\"img.example.org\"]."
        )
    limits = data.get("limits", {})
    sizes = {}
    for key, default in (("max_page_mb", MAX_PAGE_MB), ("max_image_mb", MAX_IMAGE_MB)):
        value = limits.get(key, default) if isinstance(limits, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ProfileInvalid(
                f"Profile {path} has [limits] {key} = {value!r}: expected a positive number of megabytes "
                f"(default {default:g})."
            )
        sizes[key] = int(value * MB)
    allow_private = data.get("allow_private_addresses", False)
    if not isinstance(allow_private, bool):
        raise ProfileInvalid(
            f"Profile {path} has allow_private_addresses = {allow_private!r}: expected true or false."
        )
    return {
        "allow_private_addresses": allow_private,
        "image_hosts": tuple(h.lower() for h in hosts),
        "max_page_bytes": sizes["max_page_mb"],
        "max_image_bytes": sizes["max_image_mb"],
    }


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadStartURL(
            f"Start URL {url!r} is not an absolute http(s) URL: expected e.g. http://127.0.0.1:8000/fotos. "
            "Fix --start-url (or --oai) or the profile's start_urls."
        )
    return url


def start_urls_for(profile: SiteProfile, start_url: str | None = None) -> tuple[str, ...]:
    """The listing pages a crawl begins at.

    --start-url replaces the profile's start URLs; a bare origin ("http://host:port" or
    "http://host:port/") is joined with the profile's relative start paths instead, so
    `--start-url http://127.0.0.1:8000 --profile replica` starts at /fotos.
    """
    relative = [u for u in profile.start_urls if not urlsplit(u).scheme]
    if start_url is None:
        if relative:
            raise BadStartURL(
                f"Profile {profile.name!r} gives relative start URLs {relative}: "
                "pass --start-url with the archive's address, e.g. --start-url http://127.0.0.1:8000."
            )
        return tuple(check_http_url(u) for u in profile.start_urls)
    check_http_url(start_url)
    if urlsplit(start_url).path in ("", "/") and relative:
        return tuple(urljoin(start_url, u) for u in profile.start_urls)
    return (start_url,)
