"""The web app with people detection on (`cli.py serve --people`): the API's `people` object and the page's
boxes and sentence in both languages, on a real photograph whose two faces a person located by hand."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cli import main
from dataset.people import PeopleUnavailable
from modeling.app.i18n import STRINGS
from modeling.app.server import AppConfig, create_app
from tests.conftest import REAL_PHOTOS
from tests.test_app_api import expected_json
from tests.test_people import EMPTY_FIELD, TWO_FACE_CENTRES, TWO_FACES

pytestmark = pytest.mark.skipif(not (REAL_PHOTOS / "labels.csv").is_file(), reason="real-photos not present")


@pytest.fixture(scope="module")
def people_client(app_run_dir: Path):
    pytest.importorskip("cv2")
    torch.set_num_threads(1)
    with TestClient(create_app(AppConfig(run_dir=app_run_dir, find_people=True))) as client:
        yield client


def _post(client: TestClient, route: str, file: str):
    data = (REAL_PHOTOS / "images" / file).read_bytes()
    response = client.post(route, files={"file": (Path(file).name, data, "image/jpeg")})
    assert response.status_code == 200, response.text
    return response, data


def test_api_answers_as_before_plus_the_people_with_their_boxes(people_client, app_run_dir):
    from modeling.inference.dater import PictureDater

    response, data = _post(people_client, "/api/predict", TWO_FACES)
    body = response.json()
    people = body.pop("people")
    assert body == expected_json(PictureDater.from_run_dir(app_run_dir), "543863.jpg", data)
    assert (people["count"], people["category"], people["width"], people["height"]) == (2, "group", 406, 600)
    faces = [b for b in people["boxes"] if b["kind"] == "face"]
    for cx, cy in TWO_FACE_CENTRES:  # in the pixels of the photograph as uploaded
        assert any(b["x0"] <= cx < b["x1"] and b["y0"] <= cy < b["y1"] for b in faces)
    empty, _ = _post(people_client, "/api/predict", EMPTY_FIELD)
    assert empty.json()["people"] == {"count": 0, "category": "none", "width": 640, "height": 452, "boxes": []}


@pytest.mark.parametrize(("lang", "said"), [("es", "2 personas encontradas"), ("en", "2 people found")])
def test_page_draws_the_boxes_and_says_how_many(people_client, lang, said):
    response, _ = _post(people_client, f"/ui/predict?lang={lang}", TWO_FACES)
    page = response.text
    assert f"<strong>{said}</strong>" in page
    assert STRINGS[lang]["people_help"] in page
    boxes = re.findall(r'class="person-box face" data-kind="face" title="([^"]+)"\s+style="left: ([\d.]+)%; '
                       r'top: ([\d.]+)%; width: ([\d.]+)%; height: ([\d.]+)%"', page)
    assert len(boxes) == 2 and {title for title, *_ in boxes} == {STRINGS[lang]["people_face"]}
    for cx, cy in TWO_FACE_CENTRES:  # each hand-located face lies inside a drawn box (percent of 406 x 600)
        assert any(float(left) <= 100 * cx / 406 < float(left) + float(width)
                   and float(top) <= 100 * cy / 600 < float(top) + float(height)
                   for _, left, top, width, height in boxes)
    nobody, _ = _post(people_client, f"/ui/predict?lang={lang}", EMPTY_FIELD)
    assert f"<strong>{STRINGS[lang]['people_none']}</strong>" in nobody.text
    assert "person-box" not in nobody.text


def test_without_the_option_the_page_and_api_say_nothing_of_people(app_run_dir):
    with TestClient(create_app(AppConfig(run_dir=app_run_dir))) as client:
        response, _ = _post(client, "/api/predict", TWO_FACES)
        assert "people" not in response.json()
        page, _ = _post(client, "/ui/predict", TWO_FACES)
        assert "result-people" not in page.text and "person-box" not in page.text


def test_serve_people_without_opencv_is_one_clear_line(app_run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if the optional extra were not installed
    with pytest.raises(PeopleUnavailable):
        create_app(AppConfig(run_dir=app_run_dir, find_people=True))
    result = CliRunner().invoke(main, ["serve", "--model", str(app_run_dir), "--people", "--port", "0"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == ("Error: Detecting people needs OpenCV. Install it with: "
                                              "pip install -e '.[people]'")


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_real_browser_draws_the_boxes_on_the_faces(app_run_dir: Path, tmp_path: Path):
    """Chromium lays the page out: each hand-located face centre falls inside a drawn face box on screen."""
    pytest.importorskip("cv2")
    from scripts.browser import CHROMIUM, chromium

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)")
    from modeling.app.runner import background_server

    torch.set_num_threads(1)
    app = create_app(AppConfig(run_dir=app_run_dir, find_people=True))
    with background_server(app) as server, chromium(tmp_path / "chromium-profile") as context:
        page = context.new_page()
        page.goto(server.base_url + "/?lang=en")
        page.set_input_files("#file-input", str(REAL_PHOTOS / "images" / TWO_FACES))
        page.wait_for_selector("#result-people")
        assert page.inner_text("#result-people") == "2 people found"
        photo = page.locator("#result-photo").bounding_box()
        boxes = [box.bounding_box() for box in page.locator(".person-box.face").all()]
        assert len(boxes) == 2
        for cx, cy in TWO_FACE_CENTRES:  # the photograph is 406 x 600; where its face centres are on screen
            x, y = photo["x"] + cx * photo["width"] / 406, photo["y"] + cy * photo["height"] / 600
            assert any(b["x"] <= x <= b["x"] + b["width"] and b["y"] <= y <= b["y"] + b["height"] for b in boxes)
        page.screenshot(path=str(tmp_path / "app-people-en.png"), full_page=True)
