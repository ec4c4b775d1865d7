"""The dater a run answers with: `load_dater(run_dir)`, and `PictureDater`, the picture model alone.

A run trained with evidence (catalogue text, explicit dates, holder, place) has RUN_DIR/fusion/fusion.json
and answers through `modeling.evidence.dater.FusedDater`; any other run answers from the picture alone.
Either way every output (predict, the API, the app, /records, the undated suggestions) gets `Answer`s.

>>> dater = load_dater("runs/lite0-head-20y")                          # doctest: +SKIP
>>> dater.date([RecordFacts()], [load_image("photo.jpg")])[0].period   # doctest: +SKIP
'1940-1959'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from PIL import Image

from modeling.answer import (
    INTERVAL_LEVEL,
    UNSURE_WIDTH_YEARS,
    Answer,
    Dater,
    Evidence,
    RecordFacts,
    make_answer,
)
from modeling.features.run import read_oof
from modeling.inference.predict import Predictor
from modeling.runs import read_metrics, read_run_config

FUSION_FILE = Path("fusion") / "fusion.json"  # its presence marks a run trained with evidence


def load_dater(run_dir: str | Path, device: str = "cpu") -> Dater:
    """The run's dater: the fusion of every evidence source when the run has one, else the picture alone."""
    if (Path(run_dir) / FUSION_FILE).is_file():
        from modeling.evidence.dater import FusedDater

        return FusedDater.from_run_dir(run_dir, device=device)
    return PictureDater.from_run_dir(run_dir, device=device)


def picture_evidence(answer: Answer) -> Evidence:
    """The picture's interval in plain words ("the picture: 1940-1979")."""
    return Evidence("picture", f"la imagen: {answer.low}–{answer.high}", f"the picture: {answer.low}–{answer.high}")


NO_EVIDENCE = Evidence("none", "no hay imagen ni datos de catálogo: solo el periodo completo que el modelo conoce",
                       "no picture and no catalogue data: only the whole span the model knows")


def out_of_fold_coverage(oof: Sequence[dict]) -> dict:
    """What the run's out-of-fold answers measure about its intervals: photographs, coverage and mean width.

    >>> out_of_fold_coverage([{"year": "1930.0", "low": "1920", "high": "1940"},
    ...                       {"year": "1990", "low": "1920", "high": "1960"}])
    {'n': 2, 'coverage': 0.5, 'mean_width': 30.0}
    """
    rows = [(float(r["year"]), float(r["low"]), float(r["high"])) for r in oof if r.get("year") not in (None, "")]
    if not rows:
        return {"n": None, "coverage": None, "mean_width": None}
    inside = sum(low <= year <= high for year, low, high in rows)
    return {"n": len(rows), "coverage": inside / len(rows),
            "mean_width": sum(high - low for _, low, high in rows) / len(rows)}


def run_description(run_dir: str | Path) -> dict:
    """What the model card shows about any run: arch, task, bins, size, metrics and what it was validated on."""
    config = read_run_config(Path(run_dir))
    return {"arch": config["arch"], "task": config["task"], "labels": list(config["bins"]["labels"]),
            "edges": list(config["bins"]["edges"]), "img_size": int(config["img_size"]),
            "year_range": config["year_range"], "export": config.get("export"),
            "metrics": read_metrics(Path(run_dir)), "validated_on": config.get("validated_on")}


class PictureDater:
    """The run's picture model as a Dater: catalogue facts are ignored; a missing picture gets the whole span."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.img_size = predictor.img_size  # the size pictures are decoded at

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, device: str = "cpu") -> PictureDater:
        return cls(Predictor.from_run_dir(run_dir, device=device))

    @property
    def run_dir(self) -> Path:
        return self.predictor.run_dir

    def date(self, facts: Sequence[RecordFacts], images: Sequence[Image.Image | None]) -> list[Answer]:
        """One Answer per picture, with the picture as its evidence; `facts` only has to match in length."""
        if len(facts) != len(images):
            raise ValueError(f"date() needs one RecordFacts per picture, got {len(facts)} and {len(images)}")
        present = [i for i, image in enumerate(images) if image is not None]
        dated = self.predictor.answers([images[i] for i in present])
        answers = [self._no_picture()] * len(images)
        for i, said in zip(present, dated, strict=True):
            answers[i] = replace(said, evidence=(picture_evidence(said),))
        return answers

    def _no_picture(self) -> Answer:
        low, high = self.predictor.config["year_range"]
        return make_answer((low + high) / 2, low, high, INTERVAL_LEVEL, edges=self.predictor.edges,
                           labels=self.predictor.labels, sources=(), evidence=(NO_EVIDENCE,))

    def describe(self) -> dict:
        """The run's description plus the dater's: sources, the intervals' measured coverage (from --cv's
        out-of-fold answers, when the run has them) and the unsure threshold."""
        measured = out_of_fold_coverage(read_oof(self.run_dir))
        return {**run_description(self.run_dir), "sources": ["picture"], **measured, "level": INTERVAL_LEVEL,
                "unsure_width": UNSURE_WIDTH_YEARS, "ablation": []}
