"""The years users are told, checked against numbers worked out by hand.

Each run directory here holds a real timm model (test_efficientnet) whose classifier weights are zero and
whose bias is set, so every image gets the same outputs: the logits log(w) for chosen integer weights w
(probabilities w / sum(w)), or one normalised year for a regressor. The expected year, the 80% interval and
the top bins below were worked out by hand from those weights (the arithmetic is in the comments); train,
evaluate, `cli.py predict` (json and csv) and the app's /api/predict must all report them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import timm
import torch
from click.testing import CliRunner
from fastapi.testclient import TestClient
from safetensors.torch import save_file
from scipy.stats import norm

from cli import main
from crawler.replica.photos import render_photo
from dataset.export import ExportConfig, run_export
from db.session import make_engine
from modeling.app.server import AppConfig, create_app
from modeling.training.config import TrainConfig
from modeling.training.train import train

torch.set_num_threads(1)
ARCH, IMG_SIZE = "test_efficientnet", 32
Z80 = 1.2815515655446004  # the 90th percentile of the standard normal (tables): half-width of 80% in sigmas


@dataclass(frozen=True)
class Answer:
    """What every tool must report for one run, worked out by hand."""

    bins: str  # the export's --bins
    task: str  # classify | regress
    head: tuple[float, ...]  # classifier: integer weights w (logits log w); regressor: the normalised year
    sigma: float | None  # residual_sigma in config.json (regressor); None = a tenth of the range
    year: int  # the year shown (rounded)
    exact_year: float  # the unrounded year, what evaluate's MAE is measured from
    low: int  # floor of the interval's low end
    high: int  # ceil of the interval's high end
    top: tuple[tuple[str, float], ...]  # the three most probable bins and their probabilities
    period: str = ""  # the bin holding `year` (the period every output names)
    unsure: bool = False  # high - low > 40 years (modeling.answer.UNSURE_WIDTH_YEARS)


ANSWERS = [
    # 20y bins, centres 1870, 1890, ..., 1990; w = 1,2,3,4,5,6,11 (sum 32):
    # year = (1870 + 2*1890 + 3*1910 + 4*1930 + 5*1950 + 6*1970 + 11*1990) / 32 = 62560 / 32 = 1955.
    # 10% quantile: cumulative 1/32 after bin 0, 3/32 after bin 1, so it lies in bin 2 (1900-1919) at
    # (3.2 - 3) / 3 of its span: 1900 + 20/15 = 1901.33. 90%: 28.8/32 lies in the last bin, which starts at
    # 21/32: 1980 + (28.8 - 21) / 11 * 20 = 1994.18 -> 1995.
    Answer("20y", "classify", (1, 2, 3, 4, 5, 6, 11), None, 1955, 1955.0, 1901, 1995,
           (("1980-1999", 11 / 32), ("1960-1979", 6 / 32), ("1940-1959", 5 / 32)),
           "1940-1959", True),  # 1955 lies in 1940-1959, not in the most probable 1980-1999; 94 years wide
    # 10y bins, w = 5,1,1,1,1,1,1,2,7,6,1,1,3,1 (sum 32): year = sum(w_i * (1865 + 10 i)) / 32 = 61830 / 32
    # = 1932.1875. 10%: 3.2 of 5 in bin 0 -> 1860 + 6.4 = 1866.4. 90%: 28.8 lies in bin 12 (cumulative 28 before
    # it, weight 3): 1980 + 0.8 / 3 * 10 = 1982.67 -> 1983.
    Answer("10y", "classify", (5, 1, 1, 1, 1, 1, 1, 2, 7, 6, 1, 1, 3, 1), None, 1932, 1932.1875, 1866, 1983,
           (("1940-1949", 7 / 32), ("1950-1959", 6 / 32), ("1860-1869", 5 / 32)), "1930-1939", True),
    # edges 1860,1900,1925,1960,2000 (centres 1880, 1912.5, 1942.5, 1980), w = 1,2,5,3 (sum 11):
    # year = (1880 + 2*1912.5 + 5*1942.5 + 3*1980) / 11 = 21357.5 / 11 = 1941.59 -> 1942. 10%: 1.1 lies in bin 1
    # (bin 0 holds 1, bin 1 holds 2): 1900 + 0.1 / 2 * 25 = 1901.25. 90%: 9.9 lies in the last bin (8 before it):
    # 1960 + 1.9 / 3 * 40 = 1985.33 -> 1986.
    Answer("1860,1900,1925,1960,2000", "classify", (1, 2, 5, 3), None, 1942, 21357.5 / 11, 1901, 1986,
           (("1925-1959", 5 / 11), ("1960-1999", 3 / 11), ("1900-1924", 2 / 11)), "1925-1959", True),
    # regressor on 1860-2000: 0.3 -> 1860 + 0.3 * 140 = 1902; sigma 15: 1902 -+ 15 * Z80 = 1882.78 .. 1921.22.
    Answer("20y", "regress", (0.3,), 15.0, 1902, 1902.0, 1882, 1922, (), "1900-1919", False),  # exactly 40: sure
    # 1.25 is past the range: clipped to 2000; sigma 10: low 2000 - 12.82 = 1987.18, high stays at 2000.
    Answer("10y", "regress", (1.25,), 10.0, 2000, 2000.0, 1987, 2000, (), "1990-1999", False),  # 2000: the end bin
    # 0.5536 -> 1860 + 77.504 = 1937.504 -> 1938; no residual_sigma: a tenth of the 140-year range, 14:
    # 1937.504 -+ 17.94 = 1919.56 .. 1955.45.
    Answer("1860,1900,1925,1960,2000", "regress", (0.5536,), None, 1938, 1937.504, 1919, 1956, (), "1925-1959",
           False),
]


def gaussian_top(answer: Answer, edges: list[int]) -> list[tuple[str, float]]:
    """The regressor's top bins from scipy's normal CDF (an independent library), tails in the end bins."""
    sigma = answer.sigma or (edges[-1] - edges[0]) / 10
    cdf = [0.0] + [norm.cdf(e, loc=answer.exact_year, scale=sigma) for e in edges[1:-1]] + [1.0]
    probs = [b - a for a, b in zip(cdf, cdf[1:], strict=False)]
    labels = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)]
    return sorted(zip(labels, probs, strict=True), key=lambda lp: -lp[1])[:3]


@pytest.fixture(scope="module")
def exports(tiny_archive: str, tmp_path_factory) -> dict[str, Path]:
    """The tiny archive exported with each bin spec of ANSWERS (32 px)."""
    root = tmp_path_factory.mktemp("decode_exports")
    out = {}
    engine = make_engine(tiny_archive)
    for spec in dict.fromkeys(a.bins for a in ANSWERS):
        out[spec] = root / spec.replace(",", "_")
        run_export(engine, ExportConfig(out=out[spec], bins=spec, image_size=IMG_SIZE, progress=False), tiny_archive)
    engine.dispose()
    return out


def fixed_run(answer: Answer, export: Path, run_dir: Path) -> Path:
    """A run directory whose model gives `answer.head` for every image."""
    bins = json.loads((export / "export.json").read_text())["bins"]
    outputs = len(bins["labels"]) if answer.task == "classify" else 1
    model = timm.create_model(ARCH, pretrained=False, num_classes=outputs)
    head = model.get_classifier()
    bias = [math.log(w) for w in answer.head] if answer.task == "classify" else list(answer.head)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(bias))
    run_dir.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(run_dir / "model.safetensors"))
    config = {"arch": ARCH, "task": answer.task, "num_classes": len(bins["labels"]), "bins": bins,
              "year_range": [bins["edges"][0], bins["edges"][-1]], "img_size": IMG_SIZE,
              "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "residual_sigma": answer.sigma}
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


def hand_prediction(answer: Answer, export: Path) -> dict:
    edges = json.loads((export / "export.json").read_text())["bins"]["edges"]
    top = answer.top if answer.task == "classify" else gaussian_top(answer, edges)
    return {"year": answer.year, "low": answer.low, "high": answer.high, "level": 0.8, "period": answer.period,
            "unsure": answer.unsure, "top": [{"bin": label, "probability": p} for label, p in top]}


SHOWN = ("year", "low", "high", "level", "period", "unsure")


def assert_same_prediction(got: dict, expected: dict) -> None:
    assert {k: got[k] for k in SHOWN} == {k: expected[k] for k in SHOWN}
    assert [t["bin"] for t in got["top"]] == [t["bin"] for t in expected["top"]]
    for mine, theirs in zip(got["top"], expected["top"], strict=True):
        assert abs(mine["probability"] - theirs["probability"]) <= 6e-5, (mine, theirs)


def manifest(export: Path, split: str) -> list[dict]:
    with (export / "manifest.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["split"] == split]


def test_the_hand_numbers_hold_together():
    """The comments' arithmetic, redone once: the classifiers' years are the weighted centres."""
    for answer in ANSWERS[:3]:
        edges = [int(e) for e in answer.bins.split(",")] if "," in answer.bins else list(
            range(1860, 2001, int(answer.bins[:-1])))
        centres = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
        assert math.isclose(sum(w * c for w, c in zip(answer.head, centres, strict=True)) / sum(answer.head),
                            answer.exact_year)


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: f"{a.task}-{a.bins}")
def test_predict_cli_and_app_report_the_hand_computed_year(answer, exports, tmp_path):
    export = exports[answer.bins]
    run = fixed_run(answer, export, tmp_path / "run")
    expected = hand_prediction(answer, export)
    photo = tmp_path / "photo.jpg"
    render_photo(1950, 0, (48, 40)).save(photo, "JPEG")

    result = CliRunner().invoke(main, ["predict", "--model", str(run), str(photo), "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert_same_prediction(row, expected)

    result = CliRunner().invoke(main, ["predict", "--model", str(run), str(photo), "--format", "csv", "--top", "2"])
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    top2 = "; ".join(f"{t['bin']} {t['probability']:.2f}" for t in expected["top"][:2])
    assert row == {"file": str(photo), "year": str(answer.year), "interval": f"{answer.low}-{answer.high}",
                   "period": answer.period, "unsure": "unsure" if answer.unsure else "",
                   "evidence": f"the picture: {answer.low}–{answer.high}",
                   "evidence_es": f"la imagen: {answer.low}–{answer.high}", "top": top2, "error": ""}

    with TestClient(create_app(AppConfig(run_dir=run))) as client:
        response = client.post("/api/predict", files={"file": ("photo.jpg", photo.read_bytes(), "image/jpeg")})
    assert response.status_code == 200, response.text
    assert response.json()["file"] == "photo.jpg"
    assert_same_prediction(response.json(), expected)


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: f"{a.task}-{a.bins}")
def test_evaluate_scores_the_hand_computed_year(answer, exports, tmp_path):
    export = exports[answer.bins]
    run = fixed_run(answer, export, tmp_path / "run")
    result = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--data", str(export), "--split", "valid",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = manifest(export, "valid")
    errors = [abs(float(r["year"]) - answer.exact_year) for r in rows]
    assert report["n"] == len(rows) > 0
    assert report["mae"] == pytest.approx(sum(errors) / len(errors), abs=1e-3)
    assert report["within_10"] == pytest.approx(sum(e <= 10 for e in errors) / len(errors))
    if answer.task == "classify":  # every image goes to the most probable bin
        predicted = answer.head.index(max(answer.head))
    else:  # the bin holding the (clipped) year; 2000 is past the last edge and lands in the last bin
        edges = report_edges(export)
        predicted = min(sum(e <= answer.exact_year for e in edges) - 1, len(edges) - 2)
    assert report["accuracy"] == pytest.approx(sum(int(r["bin_index"]) == predicted for r in rows) / len(rows))
    assert all(count == 0 for line in report["confusion_matrix"] for col, count in enumerate(line) if col != predicted)


def report_edges(export: Path) -> list[int]:
    return json.loads((export / "export.json").read_text())["bins"]["edges"]


@pytest.mark.parametrize("spec", ["20y", "10y", "1860,1900,1925,1960,2000"])
@pytest.mark.parametrize("task", ["classify", "regress"])
def test_train_reports_the_hand_computed_year(spec, task, exports, tmp_path):
    """With a zeroed head (what fine-tuning starts from) and lr 0 the head never moves: a classifier gives
    uniform bins, so the year is the mean of the bin centres; a regressor gives the mean training year."""
    export = exports[spec]
    body = tmp_path / "body.safetensors"
    save_file(timm.create_model(ARCH, pretrained=False).state_dict(), str(body))
    result = train(TrainConfig(data=export, out=tmp_path / "run", task=task, arch=ARCH, pretrained=False, weights=body,
                               img_size=IMG_SIZE, epochs=1, batch_size=16, lr=0.0, workers=0, precision="fp32",
                               channels_last=False), show=False)
    if task == "classify":
        # 10y and 20y bins over 1860-2000 both centre on 1930; the explicit edges' centres are
        # 1880, 1912.5, 1942.5 and 1980, whose mean is 1928.75.
        year = {"20y": 1930.0, "10y": 1930.0}.get(spec, 1928.75)
    else:
        train_years = [float(r["year"]) for r in manifest(export, "train")]
        year = sum(train_years) / len(train_years)
    errors = [abs(float(r["year"]) - year) for r in manifest(export, "valid")]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["mae"] == pytest.approx(sum(errors) / len(errors), abs=1e-3)
    assert result.history[0]["valid_mae"] == pytest.approx(sum(errors) / len(errors), abs=1e-3)


def test_evaluate_markdown_shows_the_hand_computed_numbers(exports, tmp_path):
    answer = ANSWERS[0]  # 20y classifier: every image in 1980-1999 at 1955
    export = exports[answer.bins]
    run = fixed_run(answer, export, tmp_path / "run")
    result = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--data", str(export), "--split", "valid",
                                       "--format", "markdown"])
    assert result.exit_code == 0, result.output
    rows = manifest(export, "valid")
    mae = sum(abs(float(r["year"]) - 1955) for r in rows) / len(rows)
    right = sum(r["bin"] == "1980-1999" for r in rows)
    lines = result.stdout.splitlines()
    assert lines[0] == f"## {run} ({ARCH}, classify) on valid"
    assert lines[2:5] == ["| metric | value |", "|---|---|", f"| n | {len(rows)} |"]
    assert f"| accuracy | {right / len(rows):.3f} |" in lines
    assert f"| mae | {mae:.1f} |" in lines  # two-digit errors print with one decimal
    assert "| bin | precision | recall | support |" in lines
    labels = json.loads((export / "export.json").read_text())["bins"]["labels"]
    assert "| actual \\ predicted | " + " | ".join(labels) + " |" in lines
    for label in labels:  # every image predicted 1980-1999: all counts in the last column
        support = sum(r["bin"] == label for r in rows)
        assert f"| {label} | " + " | ".join(["0"] * (len(labels) - 1) + [str(support)]) + " |" in lines
    assert lines[-1] == f"PNG: {run / 'confusion_valid.png'}"
