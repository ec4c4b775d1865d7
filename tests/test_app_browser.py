"""A real headless Chromium (Debian's /usr/bin/chromium through Playwright) uses the web app on 127.0.0.1.

It picks a photograph, drops a second one, reads the period and year from the page, switches language,
opens the records page, and saves screenshots under tmp_path.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import torch
from answer_checks import check_answer

from crawler.replica.photos import render_photo
from dataset.imageio import load_image
from modeling.answer import RecordFacts
from modeling.app.i18n import STRINGS
from modeling.app.runner import background_server
from modeling.app.server import AppConfig, create_app
from modeling.inference.dater import PictureDater
from scripts.browser import CHROMIUM, chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)"
    ),
]


def photo_file(directory: Path, year: int, seed: int) -> Path:
    path = directory / f"photo-{year}.jpg"
    render_photo(year, seed, (480, 360)).save(path, format="JPEG", quality=88)
    return path


def test_upload_and_read_the_prediction(app_run_dir: Path, app_archive_db: str, tmp_path: Path):
    from playwright.sync_api import expect

    torch.set_num_threads(1)
    dater = PictureDater.from_run_dir(app_run_dir)
    edges, labels = dater.predictor.edges, dater.predictor.labels
    picked, dropped = photo_file(tmp_path, 1928, 1), photo_file(tmp_path, 1962, 2)
    expected = {
        path.name: dater.date([RecordFacts()], [load_image(path, min_side=dater.img_size)])[0]
        for path in (picked, dropped)
    }

    def shown_answer(page) -> None:
        """What the page shows is one consistent answer: the year in the interval and in the period named."""
        year, period = int(page.inner_text("#result-year")), page.inner_text("#result-period")
        low, high = map(int, page.inner_text("#result-interval strong").split("–"))
        check_answer(year, low, high, period, edges, labels, page.locator("#result-unsure").count() == 1)

    app = create_app(AppConfig(run_dir=app_run_dir, db_url=app_archive_db, precompute_records=True))
    profile = tmp_path / "chromium-profile"
    with background_server(app) as server, chromium(profile) as context:
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(server.base_url + "/")
        expect(page.locator("h1")).to_have_text("Fechar fotografías")

        # Pick a file: the page's script posts it and inserts the result.
        page.set_input_files("#file-input", str(picked))
        page.wait_for_selector("#result-year")
        want = expected[picked.name]
        assert page.inner_text("#result-year") == str(want.year)
        assert page.inner_text("#result-period") == want.period
        shown_answer(page)
        assert page.locator("#result-periods li").count() == 3
        assert page.locator("#result-photo").evaluate("img => img.naturalWidth") > 0
        # an unsure answer leads with the interval and names its level above it; a sure one beside it
        assert f"{want.low}–{want.high}" in page.inner_text("#result-interval")
        assert "80\u00a0%" in page.inner_text(".verdict")
        assert page.locator("#result-unsure").count() == (1 if want.unsure else 0)
        assert page.inner_text("#result-evidence") == f"la imagen: {want.low}–{want.high}"
        page.screenshot(path=str(tmp_path / "app-predict-es.png"), full_page=True)

        # Switch to English, then drop a second photograph on the drop zone.
        page.click("#lang-en")
        expect(page.locator("h1")).to_have_text("Date photographs")
        data = base64.b64encode(dropped.read_bytes()).decode("ascii")
        page.evaluate(
            """([name, data]) => {
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], name, {type: "image/jpeg"}));
                const form = document.getElementById("upload-form");
                form.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }""",
            [dropped.name, data],
        )
        want = expected[dropped.name]
        expect(page.locator("#result-photo")).to_have_attribute(
            "alt", re.compile(re.escape(dropped.name))
        )
        assert page.inner_text("#result-year") == str(want.year)
        assert page.inner_text("#result-period") == want.period
        shown_answer(page)
        assert page.inner_text("#result-evidence") == f"the picture: {want.low}–{want.high}"
        accuracy = dater.describe()["metrics"]["accuracy"]
        expect(page.locator("#model-accuracy")).to_have_text(f"{100 * accuracy:.1f}\u00a0%")
        page.screenshot(path=str(tmp_path / "app-predict-en.png"), full_page=True)

        # A file that is not a photograph gets a readable error, and the page keeps working.
        bad = tmp_path / "notes.txt"
        bad.write_text("not a photograph")
        page.set_input_files("#file-input", str(bad))
        expect(page.locator("#result-error")).to_contain_text(STRINGS["en"]["upload_unreadable"].format(file=bad.name))

        # The records page, worst disagreement first, once the archive is dated.
        assert app.state.dater.join(timeout=60)
        page.click("text=Archive records")
        page.wait_for_selector("#records-table")
        gaps = [
            int(g)
            for g in page.locator("tr[data-disagreement]").evaluate_all(
                "rows => rows.map(r => r.dataset.disagreement).filter(Boolean)"
            )
        ]
        assert len(gaps) == 6 and gaps == sorted(gaps, reverse=True)
        page.screenshot(path=str(tmp_path / "app-records-en.png"), full_page=True)
    foreign = [url for url in requested if not url.startswith((server.base_url, "data:", "blob:"))]
    assert foreign == [], f"the page fetched from elsewhere: {foreign}"
