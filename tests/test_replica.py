"""The replica archive: deterministic generation, ground truth, HTML contract and faults over real HTTP."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from click.testing import CliRunner
from parsel import Selector
from PIL import Image

from cli import main
from crawler.replica import FAULTS, NonLoopbackHost, ReplicaServer, build_archive, render_photo
from crawler.replica.archive import LABELS, TRANSPOSE, VARIANTS
from crawler.replica.server import PortUnavailable
from dataset.orientations import ORIENTATIONS, PIL_TRANSPOSE, inverse
from db.dates import parse_date

ROOT = Path(__file__).resolve().parents[1]
CANONICAL = {label.lower(): label for label in LABELS} | {"año": "Año"}


def fetch(server: ReplicaServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects: (status, headers, body)."""
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def served_fields(html: bytes) -> dict[str, str]:
    """Fields of a record page by label, whatever the markup (labels normalised as a crawler would)."""
    detail = Selector(text=html.decode("utf-8")).css("div.ficha-detalle")
    pairs = [(dt.xpath("string()").get(), dt.xpath("following-sibling::dd[1]").xpath("string()").get())
             for dt in detail.css("dl > dt")]
    pairs += [(tr.css("th").xpath("string()").get(), tr.css("td").xpath("string()").get())
              for tr in detail.css("table.metadatos tr")]
    for li in detail.css("ul.metadatos > li"):
        label = li.css("strong").xpath("string()").get()
        pairs.append((label, li.xpath("string()").get().replace(label, "", 1)))
    return {CANONICAL[label.strip().rstrip(":").strip().lower()]: value.strip() for label, value in pairs}


def colourfulness(image: Image.Image) -> float:
    """Hasler & Süsstrunk's colourfulness: ~0 for grey, higher for toned and colour prints."""
    rgb = np.asarray(image, dtype=np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


# -- generation ---------------------------------------------------------------------------------


def test_archive_is_deterministic_for_a_seed(replica_archive):
    again = build_archive(60, seed=0)
    assert again.records == replica_archive.records
    for record in replica_archive.records[:6]:
        assert again.image_bytes(record.source_id) == replica_archive.image_bytes(record.source_id)
    other = build_archive(60, seed=1)
    assert [r.fields for r in other.records] != [r.fields for r in replica_archive.records]


def test_render_photo_is_deterministic_and_sized():
    first = render_photo(1925, seed=7)
    assert first.mode == "RGB" and first.size == (320, 240)
    assert first.tobytes() == render_photo(1925, seed=7).tobytes()
    assert first.tobytes() != render_photo(1925, seed=8).tobytes()
    assert render_photo(1970, seed=1, size=(96, 128)).size == (96, 128)


def test_year_distribution_is_skewed_like_the_study():
    years = np.array([r.true_year for r in build_archive(500, seed=3).records])
    assert years.min() >= 1860 and years.max() <= 1989
    assert 0.01 <= np.mean(years < 1900) <= 0.10  # a handful of 19th-century photographs
    assert np.mean((years >= 1950) & (years < 1970)) >= 0.35  # most in the 1950s-60s
    decades, counts = np.unique(years // 10 * 10, return_counts=True)
    assert decades[np.argmax(counts)] in (1950, 1960)


def test_small_archive_keeps_the_shape(replica_archive):
    years = [r.true_year for r in replica_archive.records]
    assert any(y < 1900 for y in years)
    assert sum(1950 <= y < 1970 for y in years) >= len(years) // 3


def test_dates_read_back_to_the_catalogued_year():
    archive = build_archive(400, seed=2)
    precisions = set()
    for record in archive.records:
        estimate = parse_date(record.date_raw)
        precisions.add(estimate.precision)
        if {"no_date", "unparseable_date"} & set(record.faults):
            assert estimate.precision == "unknown", record
            assert record.catalogued_year is None
            continue
        assert estimate.year_min <= record.catalogued_year <= estimate.year_max, record
        if record.duplicate_of is None:
            assert record.catalogued_year == record.true_year
    assert {"year", "circa", "range", "decade", "day", "month", "uncertain", "century_part"} <= precisions


@pytest.mark.parametrize("records", [20, 60])
def test_every_fault_is_present_even_in_a_small_archive(records):
    faults = {f for r in build_archive(records, seed=5).records for f in r.faults}
    assert faults == set(FAULTS)


def test_markups_rotate_and_labels_vary(replica_archive):
    assert {r.markup for r in replica_archive.records} == {"dl", "table", "li"}
    assert {r.markup for r in replica_archive.records[:3]} == {"dl", "table", "li"}
    assert {"Fecha", "Año"} <= {r.date_label for r in replica_archive.records}


@pytest.mark.parametrize("records", [60, 320])
def test_duplicates_are_resized_reencoded_copies_turned_or_mounted(records):
    archive = build_archive(records, seed=0)
    dups = [r for r in archive.records if r.duplicate_of]
    assert len(dups) == round(0.05 * len(archive.records))
    assert any(r.catalogued_year != r.true_year for r in dups)  # some catalogued with another year
    assert [r.variant for r in dups] == list(VARIANTS[: len(dups)])
    assert all(r.variant == "" and r.print_box is None for r in archive.records if not r.duplicate_of)
    for dup in dups:
        original, replica_archive = archive.record(dup.duplicate_of), archive
        original = replica_archive.record(dup.duplicate_of)
        assert original.faults == () and original.duplicate_of is None
        assert dup.true_year == original.true_year
        dup_bytes, original_bytes = replica_archive.image_bytes(dup.source_id), replica_archive.image_bytes(original.source_id)
        assert hashlib.sha256(dup_bytes).digest() != hashlib.sha256(original_bytes).digest()
        a, b = Image.open(io.BytesIO(dup_bytes)), Image.open(io.BytesIO(original_bytes))
        assert a.format == "JPEG" and a.size == dup.image_size and a.size != b.size
        # undo the variant with the ground truth (Pillow's own transpose), then the pictures agree
        if dup.print_box is not None:
            a = a.crop(dup.print_box)
        if dup.variant in ORIENTATIONS:
            a = a.transpose(PIL_TRANSPOSE[inverse(dup.variant)])
        small = [np.asarray(im.convert("L").resize((32, 24), Image.Resampling.BOX), np.float32) for im in (a, b)]
        assert np.abs(small[0] - small[1]).mean() < 6.0, dup.variant


def test_replica_orientation_names_are_the_dataset_stage_names():
    assert TRANSPOSE == PIL_TRANSPOSE
    assert set(VARIANTS) - set(TRANSPOSE) == {"copy", "card", "bed"}


def test_png_share_and_formats(replica_archive):
    pngs = [r for r in replica_archive.records if r.image_format == "PNG"]
    assert len(pngs) == round(0.10 * len(replica_archive.records))
    assert all(r.image_path.endswith(".png") for r in pngs)


def test_era_cues_differ_on_average_but_overlap():
    old = np.array([colourfulness(render_photo(1860 + k, k, (96, 72))) for k in range(40)])
    seventies = np.array([colourfulness(render_photo(1970 + k % 20, k, (96, 72))) for k in range(40)])
    fifties = np.array([colourfulness(render_photo(1950 + k % 20, k, (96, 72))) for k in range(40)])
    assert seventies.mean() > old.mean() + 5
    assert seventies.min() < old.max()  # not trivially separable
    assert np.mean(fifties < 5) > np.mean(seventies < 5)  # the 1950s-60s are mostly monochrome


# -- HTTP -----------------------------------------------------------------------------------------


def test_listing_pages_link_every_record_in_order(replica, replica_archive):
    status, headers, home = fetch(replica, "/")
    assert status == 200 and b'href="/fotos"' in home
    hrefs, path, pages = [], "/fotos", 0
    while path:
        status, headers, body = fetch(replica, path)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        page = Selector(text=body.decode())
        links = page.css("ul.resultados > li.resultado > a.ficha")
        assert len(links) <= 24
        hrefs += links.xpath("@href").getall()
        path = page.css('a.siguiente[rel="next"]::attr(href)').get()
        pages += 1
    assert pages == 3
    assert hrefs == [r.listed_path for r in replica_archive.records]
    assert fetch(replica, "/fotos?pagina=1")[2] == fetch(replica, "/fotos")[2]
    assert fetch(replica, "/fotos?pagina=4")[0] == 404


def test_record_pages_serve_exactly_the_fields(replica, replica_archive):
    for record in replica_archive.records:
        status, headers, body = fetch(replica, record.page_path)
        if status != 200:  # transient faults; asserted in test_page_faults
            continue
        assert int(headers["Content-Length"]) == len(body)
        assert served_fields(body) == record.fields
        img = Selector(text=body.decode()).css("div.ficha-detalle figure.foto img#foto-principal")
        assert img.attrib["src"] == record.image_path and img.attrib["alt"] == record.title
    escaped = [r for r in replica_archive.records if "&" in r.title or "<" in r.fields.get("Descripción", "")]
    assert escaped, "the archive should exercise HTML escaping"


def test_images_are_served_as_the_archive_says(replica, replica_archive):
    for record in replica_archive.records:
        status, headers, body = fetch(replica, record.image_path)
        expected = replica_archive.image_bytes(record.source_id)
        if "image_404" in record.faults:
            assert status == 404 and expected is None
        elif "image_html" in record.faults:
            assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
            assert body.startswith(b"<!DOCTYPE html>") and expected is None
        else:
            assert status == 200 and body == expected
            assert headers["Content-Type"] == {"JPEG": "image/jpeg", "PNG": "image/png"}[record.image_format]
            assert int(headers["Content-Length"]) == len(body)
            assert body[:4] == (b"\x89PNG" if record.image_format == "PNG" else b"\xff\xd8\xff\xe0")


def test_truncated_jpeg_cannot_be_decoded(replica_archive):
    record = next(r for r in replica_archive.records if "image_truncated" in r.faults)
    data = replica_archive.image_bytes(record.source_id)
    assert record.image_format == "JPEG" and not data.endswith(b"\xff\xd9")
    with pytest.raises(OSError):
        Image.open(io.BytesIO(data)).load()


def test_page_faults(replica, replica_archive):
    def with_fault(name):
        return next(r for r in replica_archive.records if name in r.faults)

    flaky = with_fault("page_500_transient")
    assert [fetch(replica, flaky.page_path)[0] for _ in range(3)] == [500, 500, 200]
    limited = with_fault("page_429")
    status, headers, _ = fetch(replica, limited.page_path)
    assert status == 429 and headers["Retry-After"] == "1"
    assert fetch(replica, limited.page_path)[0] == 200
    moved = with_fault("redirect")
    status, headers, _ = fetch(replica, moved.listed_path)
    assert moved.listed_path == f"/ficha.php?id={moved.source_id}"
    assert status == 301 and headers["Location"] == replica.base_url + moved.page_path
    private = with_fault("robots_disallowed")
    assert private.listed_path == f"/privado/foto/{private.source_id}"
    assert fetch(replica, private.listed_path)[0] == 200
    status, headers, body = fetch(replica, "/robots.txt")
    assert body == b"User-agent: *\nDisallow: /privado/\n" and headers["Content-Type"].startswith("text/plain")
    missing = with_fault("missing_fields")
    assert set(served_fields(fetch(replica, missing.page_path)[2])) < {"Identificador", "Título", "Titular",
                                                                       missing.date_label, "Lugar", "Descripción"}


def test_hits_and_request_log(replica, replica_archive):
    record = replica_archive.records[0]
    fetch(replica, "/fotos?pagina=2")
    fetch(replica, "/fotos?pagina=2")
    fetch(replica, "/nada")
    assert replica.hits["/fotos?pagina=2"] == 2
    assert [(path, status) for _, path, status in replica.request_log] == [
        ("/fotos?pagina=2", 200), ("/fotos?pagina=2", 200), ("/nada", 404)]
    replica.reset_hits()
    fetch(replica, record.page_path)
    assert replica.hits == {record.page_path: 1} and len(replica.request_log) == 1


def test_server_refuses_non_loopback_hosts(replica_archive):
    for host in ("0.0.0.0", "10.1.2.3", "example.org", "::1"):
        with pytest.raises(NonLoopbackHost):
            ReplicaServer(replica_archive, host=host)


def test_busy_port_is_a_clear_error(replica, replica_archive):
    with pytest.raises(PortUnavailable, match=rf"Cannot listen on 127.0.0.1:{replica.port} .*--port 0"):
        ReplicaServer(replica_archive, port=replica.port).start()


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_replica_refuses_a_public_host():
    result = CliRunner().invoke(main, ["replica", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: Refusing to serve the replica on '0.0.0.0': it listens only on loopback. "
        "Pass --host 127.0.0.1 (or another 127.x.x.x address)."
    )


def test_cli_replica_serves_until_sigterm(tmp_path):
    url_file = tmp_path / "replica.url"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "replica", "--records", "30", "--seed", "4", "--url-file", str(url_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not url_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        base_url = url_file.read_text().strip()
        parts = urlsplit(base_url)
        assert parts.hostname == "127.0.0.1"
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", "/robots.txt")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.strip() == f"Replica archive (30 records, seed 4) at {base_url}"
    assert not url_file.exists()
