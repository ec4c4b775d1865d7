"""What the upload page tells a person when it cannot date a photograph, in Spanish and in English.

Every message comes from the i18n table (modeling/app/i18n.py) in the page's language, in a person's
words: no library's name, no server flag, no exception text. The JSON API keeps the developer's message.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crawler.replica.photos import render_photo
from modeling.app.i18n import LANGUAGES, STRINGS
from modeling.app.server import AppConfig, create_app

CAP_BYTES = 100 * 1024
# Words a cataloguer should never meet on a page: libraries, flags, commands, exception texts.
TECHNICAL = re.compile(r"Pillow|PIL|--|cli\.py|BytesIO|multipart|curl|Errno|Traceback|identify|decode", re.I)


def _jpeg(size: tuple[int, int] = (160, 120)) -> bytes:
    buffer = io.BytesIO()
    render_photo(1950, 0, size).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(app_run_dir: Path):
    # 20,000 pixels: a real 160x120 JPEG (19,200) passes, a 200x150 one (30,000) is refused as too large.
    app = create_app(AppConfig(run_dir=app_run_dir, max_upload_bytes=CAP_BYTES, max_upload_pixels=20_000))
    with TestClient(app) as test_client:
        yield test_client


def _page_error(client: TestClient, lang: str, **request) -> tuple[int, str]:
    response = client.post(f"/ui/predict?lang={lang}", **request)
    found = re.search(r'id="result-error">\s*<h2>[^<]*</h2>\s*<p>([^<]*)</p>', response.text)
    assert found, response.text
    return response.status_code, html.unescape(found.group(1))


CASES = [
    # (what is sent, the i18n key the page must show, its parameters, the HTTP status)
    ({"files": {"file": ("notas.txt", b"esto no es una foto\n" * 20, "text/plain")}},
     "upload_unreadable", {"file": "notas.txt"}, 400),
    ({"files": {"file": ("rota.jpg", _jpeg()[:1500], "image/jpeg")}}, "upload_unreadable", {"file": "rota.jpg"}, 400),
    ({"files": {"file": ("grande.jpg", _jpeg((200, 150)), "image/jpeg")}},
     "upload_too_many_pixels", {"file": "grande.jpg", "megapixels": "0.02"}, 400),
    ({"files": {"file": ("pesada.jpg", b"\xff\xd8" + b"\0" * (CAP_BYTES + 10), "image/jpeg")}},
     "upload_too_large", {"size": "100 KB"}, 413),
    ({"files": {"file": ("vacia.jpg", b"", "image/jpeg")}}, "upload_empty", {"file": "vacia.jpg"}, 400),
    ({"files": {"foto": ("p.jpg", b"\xff\xd8", "image/jpeg")}}, "upload_missing", {}, 400),
]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("request_kwargs", "key", "params", "status"), CASES,
                         ids=[case[1] + "-" + str(i) for i, case in enumerate(CASES)])
def test_upload_errors_are_the_tables_words_in_the_pages_language(client, lang, request_kwargs, key, params,
                                                                  status):
    code, message = _page_error(client, lang, **request_kwargs)
    assert code == status
    assert message == STRINGS[lang][key].format(**params)
    assert not TECHNICAL.search(message), message


def test_the_two_languages_differ_and_spanish_has_no_english_advice(client):
    kwargs = CASES[0][0]
    _, spanish = _page_error(client, "es", **kwargs)
    _, english = _page_error(client, "en", **kwargs)
    assert spanish != english
    assert "Send" not in spanish and "Envíe" in spanish and "Send" in english


def test_a_jpeg_with_too_many_pixels_is_not_told_to_send_a_jpeg(client):
    for lang in LANGUAGES:
        _, message = _page_error(client, lang, files={"file": ("grande.jpg", _jpeg((200, 150)), "image/jpeg")})
        assert "JPEG" not in message and ("más pequeña" in message or "smaller copy" in message)


def test_the_api_keeps_the_developers_message(client):
    response = client.post("/api/predict", files={"file": ("grande.jpg", _jpeg((200, 150)), "image/jpeg")})
    assert response.status_code == 400
    assert "30,000 pixels is over the limit of 20,000" in response.json()["error"]


def test_every_upload_message_exists_in_both_languages_with_the_same_placeholders():
    keys = {key for key in STRINGS["es"] if key.startswith("upload_")}
    assert keys == {key for key in STRINGS["en"] if key.startswith("upload_")}
    assert {case[1] for case in CASES} | {"upload_network"} == keys
    for key in keys:
        placeholders = [set(re.findall(r"{(\w+)}", STRINGS[lang][key])) for lang in LANGUAGES]
        assert placeholders[0] == placeholders[1], key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_carries_the_network_failure_message_for_its_script(client, lang):
    page = client.get(f"/?lang={lang}").text
    assert f'data-network-error="{html.escape(STRINGS[lang]["upload_network"])}"' in page
    assert "form.dataset.networkError" in (Path(__file__).parents[1] / "modeling/app/static/app.js").read_text()
