"""PictureDater and load_dater: every answer is consistent (year in its interval and in the period named, unsure
by width), says what it rests on in both languages, and `cli.py predict` shows all of it in table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from answer_checks import check_answer, check_answer_dict
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from cli import main
from crawler.replica.photos import render_photo
from modeling.answer import RecordFacts
from modeling.inference.dater import PictureDater, load_dater, out_of_fold_coverage

torch.set_num_threads(1)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, year in enumerate((1865, 1890, 1925, 1948, 1961, 1977, 1995)):
        render_photo(year, i, (96, 72)).save(folder / f"p{year}.jpg", format="JPEG", quality=85)
    return folder


@pytest.fixture
def flat_run(tiny_run: Path, tmp_path: Path) -> Path:
    """tiny_run with a zeroed classifier: every period equally likely, an answer that must say unsure."""
    run = tmp_path / "flat"
    shutil.copytree(tiny_run, run)
    weights = load_file(str(run / "model.safetensors"))
    for key in ("classifier.weight", "classifier.bias"):
        weights[key] = torch.zeros_like(weights[key])
    save_file(weights, str(run / "model.safetensors"))
    return run


def test_picture_dater_answers_are_consistent_and_say_what_they_rest_on(tiny_run, photos):
    from dataset.imageio import load_image

    dater = load_dater(tiny_run)
    assert isinstance(dater, PictureDater) and dater.img_size == 32
    pictures = [load_image(p, min_side=dater.img_size) for p in sorted(photos.iterdir())]
    answers = dater.date([RecordFacts(title="Plaza, 1932")] * len(pictures), pictures)
    edges, labels = dater.predictor.edges, dater.predictor.labels
    for said in answers:
        check_answer(said.year, said.low, said.high, said.period, edges, labels, said.unsure)
        assert said.sources == ("picture",) and said.level == 0.8
        assert [e.source for e in said.evidence] == ["picture"]
        assert said.evidence[0].en == f"the picture: {said.low}–{said.high}"
        assert said.evidence[0].es == f"la imagen: {said.low}–{said.high}"
        assert len(said.top) == len(labels)  # every period with its probability, most probable first
    json.dumps([a.to_dict() for a in answers])


def test_a_missing_picture_gets_the_whole_span_and_says_so(tiny_run, photos):
    from dataset.imageio import load_image

    dater = load_dater(tiny_run)
    picture = load_image(next(photos.iterdir()), min_side=dater.img_size)
    first, missing = dater.date([RecordFacts(), RecordFacts()], [picture, None])
    assert first.sources == ("picture",)
    assert (missing.low, missing.high, missing.year, missing.sources) == (1860, 2000, 1930, ())
    assert missing.unsure and missing.period == "1920-1939" and missing.evidence[0].source == "none"
    with pytest.raises(ValueError, match="one RecordFacts per picture"):
        dater.date([RecordFacts()], [picture, None])


def test_flat_probabilities_are_unsure_by_the_width_of_the_interval(flat_run, photos):
    from dataset.imageio import load_image

    dater = load_dater(flat_run)
    said = dater.date([RecordFacts()], [load_image(next(photos.iterdir()), min_side=32)])[0]
    # 7 equal 20-year bins over 1860-2000: the 80% interval is 1874-1986 (112 years), the year 1930.
    assert (said.year, said.low, said.high, said.period, said.unsure) == (1930, 1874, 1986, "1920-1939", True)


def test_load_dater_gives_a_picture_dater_without_a_fusion(tiny_run):
    # a run with RUN_DIR/fusion/fusion.json loads the FusedDater: tests/test_evidence_run.py
    assert isinstance(load_dater(tiny_run), PictureDater)


def test_out_of_fold_coverage_by_hand():
    # oof.csv writes the catalogued year as a float ("1938.0")
    rows = [{"year": "1930.0", "low": "1920", "high": "1940"}, {"year": "1941", "low": "1920", "high": "1940"},
            {"year": "1900", "low": "1900", "high": "1910"}, {"year": "", "low": "1", "high": "2"}]
    assert out_of_fold_coverage(rows) == {"n": 3, "coverage": pytest.approx(2 / 3), "mean_width": pytest.approx(50 / 3)}
    assert out_of_fold_coverage([]) == {"n": None, "coverage": None, "mean_width": None}


def test_cli_predict_shows_one_consistent_answer_in_every_format(flat_run, tiny_run, photos):
    config = json.loads((tiny_run / "config.json").read_text())
    edges, labels = config["bins"]["edges"], config["bins"]["labels"]
    runner = CliRunner()
    rows = json.loads(runner.invoke(main, ["predict", "--model", str(tiny_run), str(photos), "--format", "json",
                                           "--top", "2"]).stdout)
    assert len(rows) == 7
    for row in rows:
        check_answer_dict(row, edges, labels)
        assert len(row["top"]) == 2 and row["evidence"][0]["en"].startswith("the picture: ")
    out = runner.invoke(main, ["predict", "--model", str(flat_run), str(photos), "--format", "csv"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(table[0]) == ["file", "year", "interval", "period", "unsure", "evidence", "evidence_es", "top", "error"]
    for row in table:
        low, high = map(int, row["interval"].split("-"))
        check_answer(int(row["year"]), low, high, row["period"], edges, labels, row["unsure"] == "unsure")
        assert row["unsure"] == "unsure" and row["evidence"] == "the picture: 1874–1986"
        assert row["evidence_es"] == "la imagen: 1874–1986"
    text = runner.invoke(main, ["predict", "--model", str(flat_run), str(photos / "p1925.jpg")]).stdout
    header, _, line = text.splitlines()
    assert header.split() == ["file", "year", "interval", "period", "unsure", "evidence", "top", "error"]
    assert "1930  1874-1986  1920-1939  unsure  the picture: 1874–1986" in line
