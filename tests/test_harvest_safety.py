"""Hostile archives on loopback: links to internal addresses are refused as rows, malformed IIIF
documents are rows with a reason, and no error text carries what a server sent (issue 17, items 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from crawler.hostguard import FetchGuard
from crawler.run import CrawlConfig, run_crawl
from db.models import Image, Page, Record
from db.session import make_engine, session_scope
from tests.hostile import TinyServer, jpeg_bytes
from tests.test_crawl_limits import profile_file

SECRET = b"internal-secret-token-4242"


def harvest(server: TinyServer, tmp_path: Path, profile: str = "replica"):
    config = CrawlConfig(profile=profile, oai=f"{server.base_url}/oai", db_url=f"sqlite:///{tmp_path / 'a.db'}",
                         images_dir=str(tmp_path / "images"), concurrency=4, delay=0.0, autothrottle=False,
                         progress=False)
    return run_crawl(config)


def images(db_url: str) -> dict[str, Image]:
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        found = {i.record.source_id: i for i in session.scalars(select(Image))}
        session.expunge_all()
    engine.dispose()
    return found


def test_pictures_are_fetched_only_from_the_archive_never_from_internal_addresses(tmp_path):
    with TinyServer({"/secret.jpg": (200, "image/jpeg", jpeg_bytes()), "/iiif/s/info.json": (200, "application/json",
                    b'{"id": "x", "width": 10, "height": 10}')}) as inside, TinyServer() as archive:
        manifest = {"items": [{"items": [{"items": [{"body": {
            "id": f"{inside.base_url}/direct.jpg", "service": [{"id": f"{inside.base_url}/iiif/s"}]}}]}]}]}
        archive.routes.update({
            "/ok.jpg": (200, "image/jpeg", jpeg_bytes()),
            "/text.jpg": (200, "text/plain", SECRET),
            "/moved.jpg": (302, "text/plain", b"", {"Location": f"{inside.base_url}/secret.jpg"}),
            "/iiif/m1/manifest": (200, "application/json", json.dumps(manifest).encode()),
        })
        archive.oai([
            ("A-ok", f"{archive.base_url}/ok.jpg"),
            ("B-port", f"{inside.base_url}/secret.jpg"),  # 127.0.0.1, another port
            ("C-localhost", f"http://localhost:{inside.port}/secret.jpg"),
            ("D-loop2", f"http://127.0.0.2:{inside.port}/secret.jpg"),
            ("E-linklocal", "http://169.254.169.254/latest/secret.jpg"),
            ("F-service", f"{archive.base_url}/iiif/m1/manifest"),  # its image service is on the other port
            ("G-text", f"{archive.base_url}/text.jpg"),
            ("H-redirect", f"{archive.base_url}/moved.jpg"),  # same host, so only the address check stops it
        ])
        summary = harvest(archive, tmp_path)
        inside_hits = sum(inside.hits.values())
    found = images(f"sqlite:///{tmp_path / 'a.db'}")
    assert inside_hits == 0  # nothing was ever asked of the internal service
    assert found["A-ok"].status == "ok"
    assert found["B-port"].error.startswith(f"image_refused_address: {inside.base_url}/secret.jpg points at an "
                                            "internal address (127.0.0.1) other than the archive's")
    assert found["C-localhost"].error.startswith("image_offsite_host: http://localhost:")
    assert found["D-loop2"].error.startswith("image_offsite_host: http://127.0.0.2:")
    assert found["E-linklocal"].error.startswith("image_offsite_host: http://169.254.169.254/")
    assert found["F-service"].error.startswith(f"image_iiif_refused_address: {inside.base_url}/iiif/s/info.json")
    assert found["G-text"].error == "image_not_an_image: served text/plain (26 bytes), not an image"
    assert found["H-redirect"].error.startswith(
        f"image_refused_address: {archive.base_url}/moved.jpg redirects there; {inside.base_url}/secret.jpg points at")
    for image in found.values():
        assert SECRET.decode() not in (image.error or "")
    assert summary.failed["image_refused_address"] == 2 and summary.failed["image_offsite_host"] == 3


def test_a_profile_may_allow_an_internal_image_host(tmp_path):
    with TinyServer({"/p.jpg": (200, "image/jpeg", jpeg_bytes())}) as inside, TinyServer() as archive:
        archive.oai([("A", f"http://localhost:{inside.port}/p.jpg")])
        named = profile_file(tmp_path, top='image_hosts = ["localhost"]\n', toml=_replica_toml())
        harvest(archive, tmp_path / "named", named)
        allowed = profile_file(tmp_path, top='image_hosts = ["localhost"]\nallow_private_addresses = true\n',
                               toml=_replica_toml())
        harvest(archive, tmp_path / "allowed", allowed)
    assert images(f"sqlite:///{tmp_path / 'named' / 'a.db'}")["A"].error.startswith(
        "image_refused_address: http://localhost:")  # named, but still internal
    assert images(f"sqlite:///{tmp_path / 'allowed' / 'a.db'}")["A"].status == "ok"


def _replica_toml() -> str:
    from crawler.profile import PROFILES_DIR

    return (PROFILES_DIR / "replica.toml").read_text(encoding="utf-8")


def test_the_html_crawl_refuses_record_links_to_internal_addresses(tmp_path):
    with TinyServer({"/rec": (200, "text/html", b"<p>secret</p>")}) as inside, TinyServer() as archive:
        listing = (f'<ul class="resultados"><li class="resultado"><a class="ficha" href="{inside.base_url}/rec">x</a>'
                   f'</li><li class="resultado"><a class="ficha" href="file:///etc/passwd">y</a></li></ul>')
        archive.routes["/fotos"] = (200, "text/html; charset=utf-8", listing.encode())
        config = CrawlConfig(profile="replica", start_url=archive.base_url, db_url=f"sqlite:///{tmp_path / 'a.db'}",
                             images_dir=str(tmp_path / "images"), delay=0.0, autothrottle=False, progress=False)
        summary = run_crawl(config)
        inside_hits = sum(inside.hits.values())
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with session_scope(engine) as session:
        pages = {p.url: p.error for p in session.scalars(select(Page)) if p.kind == "record"}
        assert session.scalars(select(Record)).first() is None
    engine.dispose()
    assert inside_hits == 0
    assert pages[f"{inside.base_url}/rec"].startswith("page_refused_address: ")
    assert pages["file:///etc/passwd"].startswith("page_refused_scheme: file:///etc/passwd is not an http(s) URL")
    assert summary.failed == {"page_refused_address": 1, "page_refused_scheme": 1}


def test_malformed_iiif_documents_are_rows_with_a_reason(tmp_path):
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    nested_manifest = b'{"items": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with TinyServer() as archive:
        archive.routes.update({
            "/iiif/a/info.json": (200, "application/json", b"[]"),
            "/iiif/b/manifest": (200, "application/json", deep),
            "/iiif/c/manifest": (200, "application/json", nested_manifest),
            "/iiif/d/manifest": (200, "application/json", b'{"items": "x"}'),
            "/iiif/e/info.json": (200, "application/json", b"\xff\xfe{"),
            "/iiif/f/info.json": (200, "application/json", b'{"id": "x", "width": 10, "height": 10}'),
        })
        archive.oai([(name, f"{archive.base_url}{path}") for name, path in (
            ("A", "/iiif/a/info.json"), ("B", "/iiif/b/manifest"), ("C", "/iiif/c/manifest"),
            ("D", "/iiif/d/manifest"), ("E", "/iiif/e/info.json"), ("F", "/iiif/f/info.json"))])
        summary = harvest(archive, tmp_path)
    found = images(f"sqlite:///{tmp_path / 'a.db'}")
    base = archive.base_url
    assert found["A"].error == f"image_iiif_unreadable: a JSON list, not a IIIF object, at {base}/iiif/a/info.json"
    assert found["B"].error == f"image_iiif_unreadable: JSON nested too deep to read at {base}/iiif/b/manifest"
    assert found["C"].error.startswith("image_iiif_unreadable: ")
    assert found["D"].error.startswith("image_iiif_unreadable: no canvas with an image in the manifest")
    assert found["E"].error.startswith("image_iiif_unreadable: not JSON (invalid")
    assert found["F"].error == "image_download_error: ValueError: Missing scheme in request url: x/full/full/0/default.jpg (x/full/full/0/default.jpg)"
    assert summary.failed == {"image_iiif_unreadable": 5, "image_download_error": 1} and summary.internal_errors == 0


def test_the_guard_reads_addresses_not_names():
    guard = FetchGuard.for_endpoints(["https://archive.example/oai"], image_hosts=("cdn.example",))
    assert guard.refusal("https://archive.example:8443/a.jpg") is None  # a public host, any port
    assert guard.refusal("https://img.archive.example/a.jpg") is None  # a subdomain
    assert guard.refusal("http://[::1]/a.jpg")[0] == "offsite_host"
    assert guard.refusal("s3://bucket/a.jpg")[0] == "refused_scheme"
    assert guard.refusal("http://archive.example:notaport/a.jpg")[0] == "refused_address"
    replica = FetchGuard.for_endpoints(["http://127.0.0.1:8000/oai"], image_hosts=("localhost",))
    assert replica.refusal("http://localhost:8000/a.jpg") is None  # the endpoint's own socket, by another name
    assert replica.refusal("http://localhost:8001/a.jpg")[0] == "refused_address"
    by_name = FetchGuard.for_endpoints(["http://localhost:8000/oai"])
    assert by_name.refusal("http://127.0.0.1:8000/a.jpg") is None  # the same socket, by its address
    assert by_name.refusal("http://127.0.0.1:8001/a.jpg")[0] == "offsite_host"
    assert by_name.refusal("http://127.0.0.2:8000/a.jpg")[0] == "offsite_host"
    private = FetchGuard.for_endpoints(["http://10.0.0.5/oai"], image_hosts=("10.0.0.6",))
    assert private.refusal("http://10.0.0.5/x.jpg") is None
    assert private.refusal("http://10.0.0.6/x.jpg")[0] == "refused_address"
    assert private.refusal("http://[::ffff:10.0.0.6]/x.jpg")[0] == "offsite_host"
