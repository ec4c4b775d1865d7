"""The web app's JSON API, pages and bad-input handling (modeling/app), on real JPEG bytes.

Most tests use FastAPI's TestClient; the concurrency test runs a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import torch
from answer_checks import check_answer, check_answer_dict
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from cli import main
from crawler.replica.photos import render_photo
from dataset.imageio import load_image
from db.models import Image, Record
from db.session import make_engine, session_scope
from modeling.answer import RecordFacts
from modeling.app.runner import background_server
from modeling.app.server import AppConfig, create_app
from modeling.inference.dater import PictureDater

CAP_BYTES = 100 * 1024


def jpeg_bytes(year: int = 1950, seed: int = 0, size: tuple[int, int] = (160, 120)) -> bytes:
    buffer = io.BytesIO()
    render_photo(year, seed, size).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def png_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A real 1-bit PNG of width x height zeros (144 Mpx in ~20 KB): over the app's upload pixel limit."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (width // 8 + 1)  # filter byte + 1-bit pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def dater(app_run_dir: Path) -> PictureDater:
    torch.set_num_threads(1)
    return PictureDater.from_run_dir(app_run_dir)


def date_bytes(dater: PictureDater, data: bytes):
    return dater.date([RecordFacts()], [load_image(data, min_side=dater.img_size)])[0]


@pytest.fixture(scope="module")
def client(app_run_dir: Path):
    app = create_app(AppConfig(run_dir=app_run_dir, max_upload_bytes=CAP_BYTES))
    with TestClient(app) as test_client:
        yield test_client


def expected_json(dater: PictureDater, filename: str, data: bytes) -> dict:
    said = date_bytes(dater, data).to_dict()
    return {"file": filename, **said, "top": said["top"][:3]}


def test_predict_returns_what_cli_predict_json_prints(client, dater):
    data = jpeg_bytes(1925)
    response = client.post("/api/predict", files={"file": ("photo.jpg", data, "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == expected_json(dater, "photo.jpg", data)
    assert len(body["top"]) == 3
    check_answer_dict(body, dater.predictor.edges, dater.predictor.labels)
    assert body["evidence"] == [{"source": "picture", "es": f"la imagen: {body['low']}–{body['high']}",
                                 "en": f"the picture: {body['low']}–{body['high']}"}]


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("notes.txt", b"this is not a photograph\n" * 20, "not an image Pillow can identify. Send a JPEG"),
        ("corrupt.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "not an image Pillow can identify. Send"),
        ("truncated.jpg", jpeg_bytes()[:1500], "cannot decode: image file is truncated"),
    ],
)
def test_unreadable_upload_is_400_with_clear_message(client, name, payload, message):
    response = client.post("/api/predict", files={"file": (name, payload, "image/jpeg")})
    assert response.status_code == 400
    body = response.json()
    assert body["file"] == name and body["error"].startswith(f"{name}: ") and message in body["error"]
    assert "BytesIO" not in body["error"] and "<bytes>" not in body["error"]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_400(client):
    bomb = png_bomb()
    assert len(bomb) < CAP_BYTES
    response = client.post("/api/predict", files={"file": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 400
    assert "pixels is over the limit of 64,000,000; downscale the file first" in response.json()["error"]


def test_over_cap_by_content_length_is_413(client):
    big = b"\xff\xd8" + b"\x00" * (CAP_BYTES + 80 * 1024)
    response = client.post("/api/predict", files={"file": ("big.jpg", big, "image/jpeg")})
    assert response.status_code == 413
    assert "larger than the 100 KB limit" in response.json()["error"]


def test_over_cap_file_inside_the_overhead_margin_is_413(client):
    # The body fits the cap plus the multipart margin, but the file alone is over the cap.
    big = b"\xff\xd8" + b"\x00" * (CAP_BYTES + 10)
    response = client.post("/api/predict", files={"file": ("big.jpg", big, "image/jpeg")})
    assert response.status_code == 413


def test_lying_content_length_is_caught_by_counting(client):
    boundary = "lyingclient"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + b"\x00" * (CAP_BYTES * 3)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": "1000"}
    response = client.post("/api/predict", content=body, headers=headers)
    assert response.status_code == 413


CHUNKED_HEADERS = {"Content-Type": "multipart/form-data; boundary=chunked"}


def _chunked_multipart():
    """A multipart body of ~3x the cap, streamed (httpx sends it chunked, with no Content-Length)."""
    yield b'--chunked\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n\r\n'
    for _ in range(40):
        yield b"\x00" * 8192
    yield b"\r\n--chunked--\r\n"


def test_chunked_upload_without_length_over_cap_is_413(client):
    response = client.post("/api/predict", content=_chunked_multipart(), headers=CHUNKED_HEADERS)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"files": {"photo": ("p.jpg", b"\xff\xd8", "image/jpeg")}}, "No file in the request"),
        ({"json": {"file": "p.jpg"}}, "No file in the request"),
        ({"files": {"file": ("empty.jpg", b"", "image/jpeg")}}, "is empty"),
    ],
)
def test_missing_or_empty_file_is_400(client, kwargs, message):
    response = client.post("/api/predict", **kwargs)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_model_and_health(client, dater):
    described = client.get("/api/model").json()
    assert described == json.loads(json.dumps(dater.describe()))
    assert described["sources"] == ["picture"] and described["unsure_width"] == 40
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_html_form_post_renders_the_result_without_javascript(client, dater):
    data = jpeg_bytes(1965, seed=3)
    response = client.post("/?lang=en", files={"file": ("street.jpg", data, "image/jpeg")})
    assert response.status_code == 200
    expected = date_bytes(dater, data)
    assert f'<span id="result-year">{expected.year}</span>' in response.text
    assert f'id="result-period">{expected.period}<' in response.text
    shown = re.search(r'data-year="(\d+)" data-low="(\d+)"\s+data-high="(\d+)" data-period="([^"]+)"', response.text)
    check_answer(int(shown[1]), int(shown[2]), int(shown[3]), shown[4], dater.predictor.edges, dater.predictor.labels)
    assert f'<li data-source="picture">the picture: {expected.low}–{expected.high}</li>' in response.text
    assert 'src="data:image/jpeg;base64,' in response.text
    fragment = client.post("/ui/predict?lang=en", files={"file": ("x.txt", b"hello", "text/plain")})
    assert fragment.status_code == 400
    assert "The photograph could not be dated" in fragment.text and "<html" not in fragment.text


def test_language_switch(client, dater):
    spanish = client.get("/").text
    assert '<html lang="es">' in spanish and "Arrastre una fotografía aquí" in spanish
    english = client.get("/?lang=en").text
    assert '<html lang="en">' in english and "Drop a photograph here" in english
    assert 'href="http://testserver/?lang=es"' in english
    assert '<html lang="es">' in client.get("/?lang=fr").text
    metrics = dater.describe()["metrics"]
    assert f'id="model-accuracy" class="metric">{100 * metrics["accuracy"]:.1f}\u00a0%<' in spanish
    assert f'id="model-mae" class="metric">{metrics["mae"]:.1f} años<' in spanish
    assert "Exactitud (validación)" in spanish and "Accuracy (validation)" in english
    assert "no-referrer" not in spanish and "https://" not in spanish  # no CDN assets


@pytest.mark.backends("sqlite", "postgresql")
def test_records_page_answers_while_dating_is_incomplete(app_run_dir, app_archive_db, tmp_path):
    config = AppConfig(run_dir=app_run_dir, db_url=app_archive_db, records_per_page=8, dating_progress_bar=False)
    app = create_app(config)  # --lazy: the first visit to /records starts the worker
    dater = app.state.dater
    with TestClient(app) as client:
        with dater.uploads.upload():  # an upload in flight: the worker waits before its first forward pass
            page = client.get("/records?sort=disagreement&lang=en")
            assert page.status_code == 200
            assert "Dated 0 of 8 photographs; the list fills in as the model works." in page.text
            assert page.text.count('data-problem="pending"') == 8 and "Page 1 of 2" in page.text
            assert page.text.count('class="thumb"') == 8  # pending photographs are shown all the same
            spanish = client.get("/records?sort=year").text
            assert "Fechadas 0 de 8 fotografías; la lista se completa a medida que el modelo trabaja." in spanish
            assert "pendiente de fechar" in spanish
            assert not dater.join(timeout=0.3)
        assert dater.join(timeout=30) and dater.dated == 8
        done = client.get("/records?sort=disagreement&lang=en").text
        assert 'id="dating-progress"' not in done and 'data-problem="pending"' not in done

        # A photograph crawled while the app runs is dated after the next visit.
        engine = make_engine(app_archive_db)
        with session_scope(engine) as session:
            image = Image(url="http://127.0.0.1/new.jpg", path=str(tmp_path / "img0.jpg"), status="ok")
            session.add(Record(source="replica", source_id="LRM-000200", year=1990, images=[image]))
        engine.dispose()
        assert "Dated 8 of 9 photographs" in client.get("/records?lang=en").text
        assert dater.join(timeout=30) and dater.dated == 9


@pytest.mark.backends("sqlite", "postgresql")
def test_records_page_sorted_by_disagreement(app_run_dir, app_archive_db, dater):
    config = AppConfig(run_dir=app_run_dir, db_url=app_archive_db, records_per_page=8, precompute_records=True,
                       dating_progress_bar=False)
    app = create_app(config)
    with TestClient(app) as client:
        assert app.state.dater.join(timeout=30)
        page = client.get("/records?sort=disagreement&lang=en")
        assert page.status_code == 200 and 'id="dating-progress"' not in page.text
        rows = re.findall(
            r'data-disagreement="([^"]*)"\s+data-year="([^"]*)" data-image-id="([^"]*)"', page.text
        )
        assert len(rows) == 8 and "Page 1 of 2" in page.text
        gaps = [int(gap) for gap, _, _ in rows if gap]
        assert len(gaps) == 6 and gaps == sorted(gaps, reverse=True)
        for gap, year, image_id in rows[:6]:
            photo = client.get(f"/records/image/{image_id}")
            assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
            assert int(gap) == abs(int(year) - date_bytes(dater, photo.content).year)
        assert "not really a jpeg" not in page.text  # bytes are never echoed, only the decoder's reason
        assert "cannot open: Truncated File Read" in page.text and "file missing:" in page.text
        second = client.get("/records?sort=disagreement&page=2&lang=en").text
        assert "HTTP 404" in second and "no image" in second and "Page 2 of 2" in second
        by_year = client.get("/records?sort=year").text
        years = [int(y) for y in re.findall(r"<td>\s*<strong>(\d{4})</strong>", by_year)]
        assert years == sorted(years) and "Página 1 de 2" in by_year
        assert client.get("/records/image/9999").status_code == 404


def _estimate_rows(db_url: str) -> list[tuple]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("select id, image_id, model_key, status, year, created_at from estimates order by id")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


@pytest.mark.backends("sqlite", "postgresql")
def test_estimates_are_stored_once_and_a_restart_dates_nothing_again(app_run_dir, app_archive_db):
    config = AppConfig(run_dir=app_run_dir, db_url=app_archive_db, precompute_records=True, dating_progress_bar=False)
    first = create_app(config)
    with TestClient(first):
        assert first.state.dater.join(timeout=30)
    stored = _estimate_rows(app_archive_db)
    # Every stored image, good or bad; the failed download and the record without an image have none.
    assert len(stored) == first.state.dater.dated == 8
    assert sorted(status for *_, status, _, _ in stored) == ["file_missing"] + ["ok"] * 6 + ["unreadable"]
    assert {key for _, _, key, *_ in stored} == {first.state.model_key}

    second = create_app(config)
    with TestClient(second) as client:
        assert second.state.dater.join(timeout=30)
        assert 'id="dating-progress"' not in client.get("/records?lang=en").text
    assert second.state.dater.dated == 0 and _estimate_rows(app_archive_db) == stored


def test_records_page_without_database_says_how_to_get_one(app_run_dir, tmp_path):
    missing = f"sqlite:///{tmp_path / 'nothing.db'}"
    app = create_app(AppConfig(run_dir=app_run_dir, db_url=missing))
    with TestClient(app) as client:
        page = client.get("/records?lang=en")
    assert page.status_code == 200 and "This server has no archive to show yet" in page.text
    assert "--db" not in page.text
    assert not (tmp_path / "nothing.db").exists()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_fifty_concurrent_requests_on_uvicorn(app_run_dir, dater):
    photos = [(f"p{i}.jpg", jpeg_bytes(1860 + 13 * (i % 10), seed=i % 10)) for i in range(50)]
    expected = {name: expected_json(dater, name, data) for name, data in photos}
    app = create_app(AppConfig(run_dir=app_run_dir, max_upload_bytes=CAP_BYTES))
    with background_server(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:

        def post(item):
            name, data = item
            return name, http.post("/api/predict", files={"file": (name, data, "image/jpeg")})

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(post, photos))
        # Bad input on the same server does not take it down.
        assert http.post("/api/predict", files={"file": ("x.txt", b"nope", "text/plain")}).status_code == 400
        assert (
            http.post("/api/predict", files={"file": ("b.png", png_bomb(), "image/png")}).status_code == 400
        )
        too_big = http.post(
            "/api/predict", files={"file": ("big.jpg", b"\0" * (3 * CAP_BYTES), "image/jpeg")}
        )
        assert too_big.status_code == 413
        chunked = http.post("/api/predict", content=_chunked_multipart(), headers=CHUNKED_HEADERS)
        assert chunked.status_code == 413 and "content-length" not in chunked.request.headers
        assert http.get("/healthz").status_code == 200
    assert all(response.status_code == 200 for _, response in answers)
    assert {name: response.json() for name, response in answers} == expected


def test_cli_serve_help_and_bad_model(tmp_path):
    runner = CliRunner()
    help_result = runner.invoke(main, ["serve", "--help"])
    assert help_result.exit_code == 0 and "--max-upload-mb" in help_result.output
    missing = tmp_path / "no-such-run"
    result = runner.invoke(main, ["serve", "--model", str(missing)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: No run directory at {missing}. Train one with 'cli.py train --data DIR --out RUN_DIR', "
        f"or pass --model RUN_DIR of a finished run."
    )


@pytest.mark.parametrize("image_id", ["9223372036854775808", "-9223372036854775809", "0", "-1",
                                      "99999999999999999999999999"])
def test_record_image_ids_out_of_range_are_404(app_run_dir, app_archive_db, image_id):
    config = AppConfig(run_dir=app_run_dir, db_url=app_archive_db, precompute_records=False)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        answer = client.get(f"/records/image/{image_id}")
    assert (answer.status_code, answer.json()) == (404, {"error": f"No stored file for image {image_id}."})
