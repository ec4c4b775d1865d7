"""The profile's limits on a crawl against the replica: offsite redirects, page and image sizes,
images over the pixel limit and selectors that cannot work, each a row or one clear line."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from cli import main
from crawler.imagefile import ImageRejected, inspect_image
from crawler.profile import PROFILES_DIR, ProfileInvalid, load_profile
from crawler.replica import ReplicaServer
from crawler.run import StartUnreachable
from db.models import Image as ImageRow
from db.models import Page, Record
from db.session import make_engine, session_scope
from tests.test_crawl import crawl

REPLICA_TOML = (PROFILES_DIR / "replica.toml").read_text(encoding="utf-8")
MB = 1024 * 1024


def profile_file(tmp_path: Path, top: str = "", tables: str = "", toml: str = REPLICA_TOML) -> str:
    """A copy of the replica profile with `top` lines before its first table and `tables` appended."""
    head, _, rest = toml.partition("[selectors]")
    path = tmp_path / "profile.toml"
    path.write_text(f"{head}{top}\n[selectors]{rest}\n{tables}\n", encoding="utf-8")
    return str(path)


def rows(db_url: str) -> dict:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        found = {
            "records": {r.source_id: r for r in session.scalars(select(Record))},
            "pages": {p.url: p for p in session.scalars(select(Page))},
            "images": {i.record.source_id: i for i in session.scalars(select(ImageRow))},
        }
    engine.dispose()
    return found


def crawl_with_profile(server, tmp_path: Path, profile: str, **options):
    from crawler.run import CrawlConfig, run_crawl

    config = CrawlConfig(profile=profile, start_url=server.base_url, db_url=f"sqlite:///{tmp_path / 'a.db'}",
                         images_dir=str(tmp_path / "images"), concurrency=8, delay=0.0, autothrottle=False,
                         progress=False, **options)
    return run_crawl(config)


# --- redirects -------------------------------------------------------------------------------


def test_a_redirect_to_another_host_is_a_failed_row_not_a_record(tmp_path, replica_archive):
    redirected = [r for r in replica_archive.records[:30] if "redirect" in r.faults]
    assert redirected  # LRM-000028: /ficha.php?id=... answers 301 to http://localhost:PORT/foto/...
    with ReplicaServer(replica_archive, redirect_host="localhost") as server:
        summary = crawl(server, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images", limit=30)
        hits = server.hits
    found = rows(f"sqlite:///{tmp_path / 'a.db'}")
    for truth in redirected:
        assert truth.source_id not in found["records"]
        page = found["pages"][server.base_url + truth.listed_path]
        assert (page.kind, page.status) == ("record", "failed")
        assert page.error == (
            f"page_offsite_redirect: {server.base_url}{truth.listed_path} redirects to "
            f"http://localhost:{server.port}{truth.page_path}, off the archive's hosts (127.0.0.1); not followed. "
            "If that host is the archive's, add it to image_hosts in the profile"
        )
        assert hits[truth.page_path] == 0  # the other host was never asked
    assert summary.failed["page_offsite_redirect"] == len(redirected)
    disallowed = [r for r in replica_archive.records[:30] if "robots_disallowed" in r.faults]
    assert summary.new == 30 - len(redirected) - len(disallowed) and summary.internal_errors == 0


def test_a_host_listed_in_the_profile_may_be_redirected_to(tmp_path, replica_archive):
    profile = profile_file(tmp_path, top='image_hosts = ["localhost"]')
    assert load_profile(profile).image_hosts == ("localhost",)
    (truth,) = [r for r in replica_archive.records[:30] if "redirect" in r.faults]
    with ReplicaServer(replica_archive, redirect_host="localhost") as server:
        summary = crawl_with_profile(server, tmp_path, profile, limit=30)
        assert server.hits[truth.page_path] == 1
    record = rows(f"sqlite:///{tmp_path / 'a.db'}")["records"][truth.source_id]
    assert record.status == "ok" and "page_offsite_redirect" not in summary.failed


# --- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_listing_page_over_the_default_cap_fails_with_its_reason(tmp_path, replica_archive, chunked):
    # With a Content-Length the download is refused at the headers; chunked, once 8 MB have arrived.
    assert load_profile("replica").max_page_bytes == 8 * MB
    with ReplicaServer(replica_archive, listing_padding=9 * MB, chunked_listings=chunked) as server:
        with pytest.raises(StartUnreachable) as caught:
            crawl(server, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images")
        url = server.base_url + "/fotos"
    detail = (f"listing_too_large: {url} is larger than 8 MB, the profile's max_page_mb; aborted "
              "(raise [limits] max_page_mb in the profile if the archive really serves such files)")
    assert str(caught.value) == f"Could not read the start page {url}: {detail}."
    page = rows(f"sqlite:///{tmp_path / 'a.db'}")["pages"][url]
    assert (page.kind, page.status, page.error) == ("listing", "failed", detail)


def test_page_and_image_caps_come_from_the_profile(tmp_path, replica_archive):
    first = replica_archive.records[:10]
    sizes = {r.source_id: len(replica_archive.image_bytes(r.source_id)) for r in first if "image_404" not in r.faults}
    cap_bytes = sorted(sizes.values())[len(sizes) // 2]  # about half the images are larger
    profile = profile_file(tmp_path, tables=f"[limits]\nmax_page_mb = 1\nmax_image_mb = {cap_bytes / MB!r}\n")
    loaded = load_profile(profile)
    assert (loaded.max_page_bytes, loaded.max_image_bytes) == (MB, int(cap_bytes / MB * MB))
    # Listing pages of ~0.5 MB pass the 1 MB page cap; the 8 MB default would have passed 1.5 MB too.
    with ReplicaServer(replica_archive, listing_padding=MB // 2) as server:
        summary = crawl_with_profile(server, tmp_path, profile, limit=10)
    images = rows(f"sqlite:///{tmp_path / 'a.db'}")["images"]
    too_large = {sid for sid, size in sizes.items() if size > loaded.max_image_bytes}
    assert 0 < len(too_large) < len(sizes)
    for source_id in sizes:
        image = images[source_id]
        if source_id in too_large:
            assert image.status == "failed" and image.error.startswith("image_too_large: ") and "max_image_mb" in image.error
        else:
            assert image.status == "ok" and image.bytes == sizes[source_id]
    assert summary.failed["image_too_large"] == len(too_large) and summary.listing_pages == 1

    with ReplicaServer(replica_archive, listing_padding=MB + 1) as server:
        with pytest.raises(StartUnreachable, match="larger than 1 MB, the profile's max_page_mb"):
            crawl_with_profile(server, tmp_path, profile, limit=10)


@pytest.mark.parametrize("limits", ["max_page_mb = 0", 'max_image_mb = "big"', "max_page_mb = true"])
def test_bad_limits_are_refused(tmp_path, limits):
    with pytest.raises(ProfileInvalid, match=r"\[limits\] max_\w+_mb = .*: expected a positive number of megabytes"):
        load_profile(profile_file(tmp_path, tables=f"[limits]\n{limits}\n"))


# --- pixels ----------------------------------------------------------------------------------


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "PNG")
    return buffer.getvalue()


def test_too_many_pixels_is_a_rejection_before_decoding_not_a_printed_warning():
    # db.pixels switches Pillow's global bomb check off: the limit passed in is the only one.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert inspect_image(png_bytes(30, 30), max_pixels=1000).width == 30  # 900 pixels: under the limit
        with pytest.raises(ImageRejected) as rejected:
            inspect_image(png_bytes(40, 40), max_pixels=1000)
    assert rejected.value.reason == "image_too_many_pixels"
    assert "1,600 pixels is over the limit of 1,000" in rejected.value.detail
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_a_crawl_records_images_over_the_pixel_limit_and_prints_no_warning(tmp_path, replica):
    # Every replica image has 68,160 to 90,000 pixels: all are over this limit.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = crawl(replica, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "images", limit=5, max_pixels=45_000)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    images = rows(f"sqlite:///{tmp_path / 'a.db'}")["images"]
    assert len(images) == 5 and all(i.status == "failed" and "over the limit of 45,000" in i.error for i in images.values())
    assert summary.failed["image_too_many_pixels"] == 5


# --- selectors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "selector", "problem"),
    [
        ("record_links", "ul..resultados a::attr(href)", "not a valid CSS selector (Expected ident, got <DELIM '.' at 3>)"),
        ("image", "img:foto", "not a valid CSS selector (The pseudo-class :foto is unknown)"),
        ("next_page", "xpath://a[@rel='next'", "not a valid XPath selector (XPath error: Invalid predicate in //a[@rel='next')"),
    ],
)
def test_an_invalid_selector_is_named_when_the_profile_loads(tmp_path, key, selector, problem):
    lines = [f'{key} = "{selector}"' if line.startswith(f"{key} =") else line for line in REPLICA_TOML.splitlines()]
    path = profile_file(tmp_path, toml="\n".join(lines))
    with pytest.raises(ProfileInvalid) as caught:
        load_profile(path)
    assert str(caught.value) == (
        f"Profile {path} has selectors.{key} = {selector!r}: {problem}. "
        'Fix it under [selectors] (CSS, or XPath after an "xpath:" prefix).'
    )


def test_crawl_with_an_invalid_selector_says_which_one(tmp_path, replica):
    path = profile_file(tmp_path, toml=REPLICA_TOML.replace("ul.resultados li.resultado", "ul..resultados"))
    result = CliRunner().invoke(main, ["crawl", "--profile", path, "--start-url", replica.base_url,
                                       "--db", f"sqlite:///{tmp_path / 'a.db'}", "--images-dir", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: Profile {path} has selectors.record_links = 'ul..resultados a.ficha::attr(href)': not a valid CSS "
        "selector (Expected ident, got <DELIM '.' at 3>). "
        'Fix it under [selectors] (CSS, or XPath after an "xpath:" prefix).\n'
    )
    assert replica.hits["/fotos"] == 0


def test_image_hosts_must_be_host_names(tmp_path):
    with pytest.raises(ProfileInvalid, match=r"image_hosts = \['http://cdn.example/'\]: expected a list of host names"):
        load_profile(profile_file(tmp_path, top='image_hosts = ["http://cdn.example/"]'))


def test_allowed_hosts_and_subdomains():
    from crawler.middlewares.profile_limits import allowed_hosts, on_hosts

    live = load_profile("larioja")  # start_urls = ["https://www.lariojaenlamemoria.es/fotos"]
    hosts = allowed_hosts(live, ["http://127.0.0.1:8765/fotos"])
    assert hosts == ("127.0.0.1", "lariojaenlamemoria.es")
    assert on_hosts("https://lariojaenlamemoria.es/foto/1", hosts)  # www. dropped
    assert on_hosts("https://img.lariojaenlamemoria.es:8443/a.jpg", hosts)
    assert not on_hosts("https://lariojaenlamemoria.es.evil.example/", hosts)
    assert not on_hosts("http://localhost:8765/foto/1", hosts)


@pytest.mark.parametrize("listed", [False, True], ids=["not-listed", "listed-in-image_hosts"])
def test_images_redirected_to_another_host_need_it_in_image_hosts(tmp_path, replica_archive, listed):
    profile = profile_file(tmp_path, top='image_hosts = ["localhost"]' if listed else "")
    good = replica_archive.records[:6]  # none with an image or robots fault
    with ReplicaServer(replica_archive, image_host="localhost") as server:
        summary = crawl_with_profile(server, tmp_path, profile, limit=6)
        hits = server.hits
    images = rows(f"sqlite:///{tmp_path / 'a.db'}")["images"]
    for truth in good:
        image = images[truth.source_id]
        cdn_path = "/cdn/" + truth.image_path.removeprefix("/media/")
        if listed:
            assert image.status == "ok" and image.bytes == len(replica_archive.image_bytes(truth.source_id))
            assert hits[cdn_path] == 1
        else:
            assert image.status == "failed" and image.error == (
                f"image_offsite_redirect: {server.base_url}{truth.image_path} redirects to "
                f"http://localhost:{server.port}{cdn_path}, off the archive's hosts (127.0.0.1); not followed. "
                f"If that host is the archive's, add it to image_hosts in the profile ({server.base_url}{truth.image_path})"
            )
            assert hits[cdn_path] == 0
    assert summary.failed.get("image_offsite_redirect", 0) == (0 if listed else len(good))


def test_a_start_page_redirected_off_site_says_so_without_blaming_the_address(tmp_path, replica_archive):
    from crawler.run import CrawlConfig, run_crawl

    with ReplicaServer(replica_archive, redirect_host="localhost") as server:
        start = f"{server.base_url}/ficha.php?id=LRM-000001"
        config = CrawlConfig(profile="replica", start_url=start, db_url=f"sqlite:///{tmp_path / 'a.db'}",
                             images_dir=str(tmp_path / "images"), delay=0.0, autothrottle=False, progress=False)
        with pytest.raises(StartUnreachable) as caught:
            run_crawl(config)
    assert str(caught.value) == (
        f"Could not read the start page {start}: listing_offsite_redirect: {start} redirects to "
        f"http://localhost:{server.port}/foto/LRM-000001, off the archive's hosts (127.0.0.1); not followed. "
        "If that host is the archive's, add it to image_hosts in the profile."
    )
