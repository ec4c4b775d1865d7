"""The model card leads with cross-validation and what each number rests on, says "beats both baselines" only
when the gain exceeds its spread over the folds, and shows the measured coverage, the unsure rule and the
ablation table when the dater describes them."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient

from modeling.app.i18n import strings
from modeling.app.server import APP_DIR, AppConfig, create_app
from modeling.app.views import beats_by_more_than_spread, cv_verdict, model_view, source_name

torch.set_num_threads(1)


def fold(mae: float, median: float, balanced: float, majority: float) -> dict:
    return {"fold": 0, "n": 40, "mae": mae, "accuracy": 0.8, "balanced_accuracy": balanced, "within_10": 0.7,
            "median_year_mae": median, "majority_bin_accuracy": 0.5, "majority_bin_balanced_accuracy": majority}


def summary(folds: list[dict]) -> dict:
    from modeling.features.cv import summarise_folds

    return summarise_folds(folds)


@pytest.fixture
def cv_run(app_run_dir: Path, tmp_path: Path) -> Path:
    """app_run_dir with 5-fold CV metrics (a clear win) and an oof.csv whose intervals hold 8 of 10 years."""
    run = tmp_path / "run"
    shutil.copytree(app_run_dir, run)
    folds = [fold(5.0 + i * 0.5, 16.0 + i * 0.2, 0.75, 0.33) for i in range(5)]
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["cv"] = {"k": 5, "n": 200, "summary": summary(folds), "folds": folds}
    (run / "metrics.json").write_text(json.dumps(metrics))
    with (run / "oof.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "file", "year", "fold", "estimate", "low", "high", "period", "probability"])
        for i in range(10):
            year = 1930 + i if i < 8 else 1990
            writer.writerow([i + 1, f"train/{i}.jpg", year, i % 5, 1935, 1920, 1950, "1920-1939", 0.5])
    return run


def test_card_leads_with_cross_validation_and_says_what_it_rests_on(cv_run):
    with TestClient(create_app(AppConfig(run_dir=cv_run))) as client:
        english, spanish = (html.unescape(client.get(f"/?lang={lang}").text) for lang in ("en", "es"))
    assert english.index('id="model-cv-card"') < english.index('id="model-accuracy"')
    assert "Each of the 200 dated photographs was estimated by a model that never saw it (5 folds)" in english
    assert re.search(r'id="model-cv-mae" class="metric">6\.0 ± 0\.8 years<', english)
    assert "Constant median year: mean error 16.4 ± 0.3 years" in english
    assert re.search(r'id="model-beats" data-beats="yes">The model beats both baselines by more than its spread', english)
    assert ("The 80% intervals held the true year for 80% of 10 photographs (cross-validation); "
            "mean width 30 years.") in english
    assert 'An answer is "unsure" when its 80% interval spans more than 40 years' in english
    assert "abarca más de 40 años" in spanish and "Cada una de las 200 fotografías fechadas" in spanish
    assert "Los intervalos al 80\u00a0% contuvieron el año real en el 80\u00a0% de 10 fotografías" in spanish
    assert re.search(r"\d %", spanish) is None and "On 7 validation photographs" not in english


def test_a_gain_smaller_than_its_spread_is_not_called_a_win(cv_run):
    folds = [fold(mae, 16.0, 0.75, 0.33) for mae in (14.0, 17.0, 12.0, 15.0, 13.0)]  # gains 2, -1, 4, 1, 3: mean 1.8, std 1.9
    metrics = json.loads((cv_run / "metrics.json").read_text())
    metrics["cv"] = {"k": 5, "n": 200, "summary": summary(folds), "folds": folds}
    (cv_run / "metrics.json").write_text(json.dumps(metrics))
    with TestClient(create_app(AppConfig(run_dir=cv_run))) as client:
        page = client.get("/?lang=en").text
    assert 'data-beats="unclear"' in page and "it is not clearly better" in page
    assert "beats both baselines" not in page


def test_verdicts_by_hand():
    assert beats_by_more_than_spread([6.0, -6.0, 2.0, -3.0, 1.0]) == "no"  # mean 0
    assert beats_by_more_than_spread([2.0, 0.0, 1.0]) == "unclear"  # mean 1, sample std 1: not more than it
    assert beats_by_more_than_spread([2.0, 1.5, 1.0]) == "yes"  # mean 1.5, std 0.5
    clear = [fold(5.0, 16.0 + d, 0.75 + d / 100, 0.33) for d in (0.0, 0.5, 1.0)]
    assert cv_verdict(clear) == "yes"
    assert cv_verdict([fold(5.0, 16.0, 0.30, 0.33)] * 3) == "no"  # balanced accuracy below the majority bin's
    assert cv_verdict([]) is None and cv_verdict([{"mae": 1.0}]) is None


def test_ablation_table_from_the_daters_description():
    description = {"arch": "x", "task": "classify", "labels": ["1900-1919"], "metrics": {}, "sources": ["picture", "text"],
                   "n": 184, "coverage": 0.79, "mean_width": 31.4, "unsure_width": 40, "level": 0.8,
                   "ablation": [{"source": "picture", "n": 184, "mae": 17.6, "accuracy": 0.4, "balanced_accuracy": 0.35,
                                 "coverage": 0.8, "mean_width": 60.2},
                                {"source": "fusion", "n": 184, "mae": 10.8, "accuracy": 0.6, "balanced_accuracy": 0.55,
                                 "coverage": 0.79, "mean_width": 31.4}]}
    templates = Jinja2Templates(directory=str(APP_DIR / "templates"))
    templates.env.filters["source_name"] = source_name
    card = templates.get_template("_model.html").render(model=model_view(description, "fused"), t=strings("en"))
    rows = re.findall(r'<tr data-source="(\w+)"><td>([^<]+)</td><td class="num">(\d+)</td>\s*<td class="num">([\d.]+)</td>',
                      card)
    assert rows == [("picture", "the picture", "184", "17.6"), ("fusion", "all together", "184", "10.8")]
    assert 'id="model-sources">the picture, title and description<' in card
    assert "held the true year for 79% of 184 photographs" in card and "mean width 31 years" in card
