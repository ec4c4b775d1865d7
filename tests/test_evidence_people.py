"""The people source (modeling/evidence/people.py): detections cached, crops embedded, fitted out-of-fold, fused.

Real JPEGs from ../shared/real-photos for the source itself; detection boxes are never pinned (the detector's
settings may be tuned), only how the source follows them. Fusion with and without the source on synthetic
estimates; `train --evidence all+people` on the tiny export, whose 64-px pictures show nobody a detector can find.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dataset.imageio import load_image
from dataset.people import FACE, FIGURE, Person, detect_people
from modeling.answer import RecordFacts
from modeling.evidence.base import Estimates
from modeling.evidence.fit import evaluate_evidence
from modeling.evidence.people import (
    BOXES_FILE,
    COUNTS,
    MIN_TO_FIT,
    PeopleFeatures,
    PeopleModel,
    counts,
    crop_box,
    fit_people,
    people_boxes,
    people_features,
    people_oof,
)
from modeling.evidence.sentences import people_evidence
from modeling.models import create_model
from modeling.training.data import ExportRow
from tests.conftest import REAL_PHOTOS

pytest.importorskip("cv2")
torch.set_num_threads(1)

REAL = REAL_PHOTOS / "images"
# A close portrait, three faces, and two views with nobody in them (as the detectors stood when this was written).
PICTURES = ("fsaowi/LC-USF33-011361.jpg", "documerica/543043.jpg", "fsaowi/LC-USE6-D-000247.jpg",
            "documerica/543550.jpg")


@pytest.fixture(scope="module")
def real_files(tmp_path_factory) -> list[Path]:
    if not all((REAL / name).is_file() for name in PICTURES):
        pytest.skip(f"the real photographs are not under {REAL}")
    root = tmp_path_factory.mktemp("people_real")
    out = []
    for name in PICTURES:
        out.append(root / name.replace("/", "-"))
        shutil.copyfile(REAL / name, out[-1])
    return out


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return create_model("test_efficientnet", 3, pretrained=False)


def test_boxes_come_from_the_detector_and_are_cached_per_folder(real_files, tmp_path):
    boxes = people_boxes(real_files, tmp_path)
    assert boxes == [detect_people(load_image(path)) for path in real_files]
    assert any(boxes) and not all(boxes)  # these four pictures: some show people, some do not
    stored = json.loads((tmp_path / BOXES_FILE).read_text())
    # the cache answers: a stored entry, changed by hand, is what the next call returns (no second detection)
    (key,) = stored
    first = next(iter(stored[key]))
    stored[key][first] = [["face", 1, 2, 11, 12, 0.5]]
    (tmp_path / BOXES_FILE).write_text(json.dumps(stored))
    again = people_boxes(real_files, tmp_path)
    assert [Person(FACE, 1, 2, 11, 12, 0.5)] in again


def test_features_follow_the_boxes_on_real_jpegs(real_files, tiny_model, tmp_path):
    boxes = people_boxes(real_files, tmp_path)
    images = [load_image(path) for path in real_files]
    features = people_features(tiny_model, images, boxes, 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    width = tiny_model.num_features
    assert features.vectors.shape == (len(real_files), width + len(COUNTS))
    assert features.present.tolist() == [bool(b) for b in boxes]
    for i, found in enumerate(boxes):
        faces = [p for p in found if p.kind == FACE]
        assert features.vectors[i, width] == len(faces)
        assert features.vectors[i, width + 1] == sum(p.kind == FIGURE for p in found)
        if not found:
            assert not features.vectors[i].any()  # nobody: no vector at all, and the source is silent
        else:
            assert np.abs(features.vectors[i, :width]).sum() > 0
    from_files = people_features(tiny_model, real_files, boxes, 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    np.testing.assert_allclose(from_files.vectors, features.vectors, rtol=1e-5, atol=1e-6)  # files decode the same
    # the crop vector is the backbone's pooled output of the padded square crop, computed here independently
    i = int(np.flatnonzero(features.present)[0])
    one = [max(boxes[i], key=lambda p: (p.x1 - p.x0) * (p.y1 - p.y0))]
    alone = people_features(tiny_model, [images[i]], [one], 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    crop = images[i].crop(crop_box(one[0])).resize((32, 32), Image.Resampling.BILINEAR)
    pixels = (np.asarray(crop, dtype=np.float32) / 255.0 - 0.5) / 0.5
    with torch.inference_mode():
        expected = tiny_model.eval().forward_head(tiny_model.forward_features(
            torch.from_numpy(pixels.transpose(2, 0, 1)[None].copy())), pre_logits=True)[0].numpy()
    np.testing.assert_allclose(alone.vectors[0, :width], expected, rtol=1e-4, atol=1e-5)


def test_crop_box_and_counts_by_hand():
    face = Person(FACE, 10, 10, 30, 50, 1.0)  # 20 x 40: a 40-px square around its centre (20, 30)
    assert crop_box(face, pad=0.0) == (0, 10, 40, 50)
    assert crop_box(face, pad=0.2) == (-8, 2, 48, 58)  # 8 px (20% of 40) more on every side: 56 px
    found = [face, Person(FACE, 0, 0, 10, 10, 1.0), Person(FIGURE, 0, 0, 50, 100, 1.0)]
    np.testing.assert_allclose(counts(found, (100, 80)), [2, 1, 800 / 8000])


def _synthetic(n: int, seed: int = 0):
    """Records whose people vector carries the year (plus noise); a third of them show nobody."""
    rng = np.random.default_rng(seed)
    years = rng.integers(1860, 2000, n).astype(float)
    present = rng.random(n) > 0.33
    vectors = rng.normal(0, 1, (n, 6))
    vectors[:, 0] = (years - 1930) / 40 + rng.normal(0, 0.1, n)
    vectors[~present] = 0
    return PeopleFeatures(vectors, present), years


def test_people_model_learns_the_year_and_stays_silent_without_people():
    features, years = _synthetic(120)
    model = fit_people(features, years)
    said = model.estimate(features)
    assert said.present.tolist() == features.present.tolist()
    assert np.abs(said.year[said.present] - years[said.present]).mean() < 8
    oof = people_oof(features, years, np.arange(120) % 4)
    assert oof.present.tolist() == features.present.tolist()
    assert np.abs(oof.year[oof.present] - years[oof.present]).mean() < 10
    few = PeopleFeatures(features.vectors, features.present & (np.arange(120) < MIN_TO_FIT + 2))
    assert fit_people(few, years) is None or MIN_TO_FIT <= few.present.sum()
    assert not people_oof(few, years, np.arange(120) % 4).present.any()  # under MIN_TO_FIT per training side
    saved = Path(tempfile.mkdtemp()) / "people.npz"
    model.save(saved)
    np.testing.assert_allclose(PeopleModel.load(saved).estimate(features).year, said.year)


def _rows(years: np.ndarray) -> list[ExportRow]:
    return [ExportRow(image_id=i, file=f"{i}.jpg", split="train", bin_index=min(int((y - 1860) // 20), 6), year=int(y),
                      source_id=f"R{i}", group_id=i, title="", description="", holder="", place="")
            for i, y in enumerate(years)]


def test_fusion_with_and_without_the_people_source():
    features, years = _synthetic(150, seed=1)
    rows = _rows(years)
    folds = np.arange(150) % 5
    edges, labels = tuple(range(1860, 2001, 20)), tuple(f"{e}-{e + 19}" for e in range(1860, 2000, 20))
    rng = np.random.default_rng(2)
    picture = Estimates(years + rng.normal(0, 15, 150), np.ones(150), np.ones(150, dtype=bool))
    without = evaluate_evidence(rows, folds, picture, edges, labels)
    with_people = evaluate_evidence(rows, folds, picture, edges, labels, people=people_oof(features, years, folds))
    assert without.sources == ("picture",) and with_people.sources == ("picture", "people")
    assert [r["source"] for r in with_people.ablation][:3] == ["picture", "people", "fusion: picture+people"]
    by = {r["source"]: r for r in with_people.ablation}
    assert by["people"]["n"] == int(features.present.sum())
    fused_without = next(r for r in without.ablation if r["source"].startswith("fusion"))
    assert by["fusion: picture+people"]["mae"] < fused_without["mae"]  # an informative source helps here
    # a record nobody is in is dated from the picture alone, as the fusion without the source would
    silent = np.flatnonzero(~features.present)
    assert {with_people.fused.combination[i] for i in silent} == {"picture"}
    assert {with_people.fused.combination[i] for i in np.flatnonzero(features.present)} == {"picture+people"}


def test_the_evidence_sentence_names_the_people_in_both_languages():
    said = people_evidence(1930, 1950)
    assert (said.source, said.en, said.es) == ("people", "the people in it: 1930-1950", "las personas: 1930-1950")


def test_fused_dater_says_what_the_people_suggest(tiny_run, real_files, tmp_path):
    from modeling.evidence.dater import FusedDater
    from modeling.evidence.fit import FittedSources, write_fusion
    from modeling.inference.predict import Predictor

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    predictor = Predictor.from_run_dir(run)
    features, years = _synthetic(80, seed=3)
    width = predictor.model.num_features + len(COUNTS)
    people = PeopleModel(np.zeros(width), np.ones(width), np.zeros(width), 1950.0)  # says 1950 for anyone
    picture = Estimates(years + np.random.default_rng(4).normal(0, 20, 80), np.ones(80), np.ones(80, dtype=bool))
    rows, folds = _rows(years), np.arange(80) % 4
    cv = evaluate_evidence(rows, folds, picture, predictor.edges, predictor.labels,
                           people=people_oof(features, years, folds))
    write_fusion(run, cv, FittedSources(None, None, None, people), predictor.edges, predictor.labels)
    meta = json.loads((run / "fusion" / "fusion.json").read_text())
    assert meta["sources"] == ["picture", "people"] and meta["files"] == {"people": "people.npz"}
    dater = FusedDater.from_run_dir(run)
    np.testing.assert_allclose(dater.people.intercept, 1950.0)
    images = [load_image(path) for path in real_files]
    answers = dater.date([RecordFacts()] * len(images), images)
    for image, answer in zip(images, answers, strict=True):
        if detect_people(image):
            assert set(answer.sources) == {"picture", "people"}
            line = next(e for e in answer.evidence if e.source == "people")
            assert line.en.startswith("the people in it: ") and line.es.startswith("las personas: ")
        else:  # nobody found: the answer rests on the picture alone
            assert answer.sources == ("picture",)
    assert any("people" in a.sources for a in answers) and any(a.sources == ("picture",) for a in answers)


def test_train_with_people_where_nobody_is_found_falls_back(tiny_export, tmp_path):
    from click.testing import CliRunner

    import cli

    data = tmp_path / "export"
    shutil.copytree(tiny_export, data)
    run = tmp_path / "run"
    result = CliRunner().invoke(cli.main, ["train", "--arch", "test_efficientnet", "--no-pretrained", "--img-size",
                                           "32", "--workers", "0", "--head-only", "--data", str(data), "--out",
                                           str(run), "--cv", "3", "--task", "regress", "--loss", "ridge",
                                           "--evidence", "all+people"])
    assert result.exit_code == 0, result.output
    assert (data / ".features" / BOXES_FILE).is_file()  # detections kept beside the features
    with (data / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        files = sorted({row["file"] for row in csv.DictReader(handle)})
    found = sum(bool(b) for b in people_boxes([data / f for f in files], data / ".features"))  # from the cache
    assert found < MIN_TO_FIT  # 64-px pictures: (almost) nobody is found, too few to fit the people model
    meta = json.loads((run / "fusion" / "fusion.json").read_text())
    assert "people" not in meta["sources"] and "people" not in meta["files"]
    assert meta["sources"][0] == "picture"  # the run dates from the rest, as --evidence all would
