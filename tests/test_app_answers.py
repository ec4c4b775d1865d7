"""The app's answers do not contradict themselves: unsure answers lead with the interval, the model card shows
baselines and what it was validated on, and the records page uses and names out-of-fold estimates."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file, save_file

from crawler.replica.photos import render_photo
from modeling.app.server import AppConfig, create_app

torch.set_num_threads(1)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    render_photo(1945, 1, (160, 120)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture
def run_copy(app_run_dir: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(app_run_dir, run)
    return run


def _edit_config(run: Path, **changes) -> None:
    config = json.loads((run / "config.json").read_text())
    config.update(changes)
    (run / "config.json").write_text(json.dumps(config))


def test_flat_probabilities_say_unsure_and_lead_with_the_interval(run_copy):
    weights = load_file(str(run_copy / "model.safetensors"))
    for key in ("classifier.weight", "classifier.bias"):
        weights[key] = torch.zeros_like(weights[key])  # every bin equally likely
    save_file(weights, str(run_copy / "model.safetensors"))
    with TestClient(create_app(AppConfig(run_dir=run_copy))) as client:
        answer = client.post("/api/predict", files={"file": ("a.jpg", _jpeg(), "image/jpeg")}).json()
        page = client.post("/?lang=en", files={"file": ("a.jpg", _jpeg(), "image/jpeg")}).text
    assert answer["unsure"] is True
    # 7 equal 20-year bins over 1860-2000: the expected year is the middle, 1930, in the 1920-1939 bin; the 80%
    # interval 1874-1986 is 112 years wide, far over the 40 that make an answer unsure.
    assert (answer["year"], answer["low"], answer["high"], answer["period"]) == (1930, 1874, 1986, "1920-1939")
    assert "Not enough to go on for a year: the 80% interval spans 112 years." in page and 'data-unsure="yes"' in page
    assert page.index('id="result-interval"') < page.index('id="result-year"')
    # No period in large type: the period holding the year is named in small type beside it.
    assert 'class="period"' not in page and '<span id="result-period">1920-1939</span>' in page
    # The most probable period of a flat answer (the first, by stable order) appears only among the bars.
    assert "1860-1879" not in page.split('id="result-periods"')[0]


def test_model_card_shows_baselines_and_what_it_was_validated_on(run_copy):
    _edit_config(run_copy, validated_on={"split": "valid", "images": 7, "export": "x", "database": "sqlite://",
                                         "sources": "replica (71)"})
    metrics = json.loads((run_copy / "metrics.json").read_text())
    with TestClient(create_app(AppConfig(run_dir=run_copy))) as client:
        page = client.get("/?lang=en").text
    median = metrics["baselines"]["median_year"]
    assert f"Constant median year ({round(median['year'])}): mean error {median['mae']:.1f} years" in page
    assert "Measured on 7 validation photographs from source replica (71)." in page
    assert "synthetic (drawn pictures)" in page
    verdict = re.search(r'id="model-beats" data-beats="(\w+)"', page).group(1)
    assert verdict == ("no" if metrics["baseline_flags"] else "yes")


def test_records_page_uses_out_of_fold_estimates_and_says_so(run_copy, app_archive_db):
    from db.models import Image, Record
    from db.session import make_engine, session_scope

    engine = make_engine(app_archive_db)
    with session_scope(engine) as session:
        first = session.query(Image.id, Record.year).join(Record).filter(Image.status == "ok").order_by(Image.id).first()
    engine.dispose()
    image_id, catalogued = first
    with (run_copy / "oof.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "file", "year", "fold", "estimate", "low", "high", "period", "probability"])
        writer.writerow([image_id, "train/x.jpg", catalogued, 0, 1999, 1990, 2005, "1980-1999", 0.9])
    _edit_config(run_copy, validated_on={"split": "valid", "images": 7, "export": "x", "database": app_archive_db,
                                         "sources": "tiny (71)"})
    app = create_app(AppConfig(run_dir=run_copy, db_url=app_archive_db, precompute_records=True,
                               dating_progress_bar=False))
    with TestClient(app) as client:
        assert app.state.dater.join(timeout=30)
        page = client.get("/records?sort=disagreement&lang=en").text
    kinds = re.findall(r'data-kind="(\w+)"', page)
    assert kinds.count("out_of_fold") == 1 and kinds.count("model") == 5
    assert page.index('data-kind="out_of_fold"') < page.index('data-kind="model"')  # |1999 - year| sorts first
    assert "<strong>1999</strong>" in page and ">estimated by a model that never saw this photograph<" in page
    assert "out-of-fold" not in page.lower() and "the picture: 1990–2005" in page
    # The oof row named the top bin, 1980-1999; the page names the period holding its year, as everywhere.
    assert 'data-year="1999" data-low="1990" data-high="2005" data-period="1980-1999"' in page
