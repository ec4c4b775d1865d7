"""`FusedDater`: date photographs from every source a run was trained with (RUN_DIR/fusion/fusion.json).

It answers through modeling.answer.make_answer like every dater: one year inside a calibrated
interval, the period holding that year, the sources used and the evidence in both languages. A
record missing a source (an upload with no catalogue data, a record without a title, a missing
picture) is dated from the sources it has, and its answer lists only those.

>>> dater = FusedDater.from_run_dir("runs/head")  # doctest: +SKIP
>>> dater.date([RecordFacts(title="Feria, 1932")], [None])[0].year  # doctest: +SKIP
1932
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from modeling.answer import Answer, RecordFacts, make_answer
from modeling.evidence.base import Estimates
from modeling.evidence.explicit import explicit_estimates, stated_date
from modeling.evidence.fit import FUSION_DIR, FUSION_JSON
from modeling.evidence.fusion import Fusion
from modeling.evidence.groups import GroupPrior
from modeling.evidence.people import PeopleModel
from modeling.evidence.picture import picture_years
from modeling.evidence.sentences import (
    explicit_evidence,
    holder_evidence,
    people_evidence,
    picture_evidence,
    text_evidence,
)
from modeling.evidence.text import TextModel, record_text
from modeling.runs import read_run_config


class FusedDater:
    """A run's fusion and its fitted sources. Load once with from_run_dir; `date` answers a batch."""

    def __init__(self, run_dir: Path, meta: dict, predictor, text: TextModel | None, holder: GroupPrior | None,
                 place: GroupPrior | None, img_size: int, people: PeopleModel | None = None):
        self.run_dir, self.meta, self.predictor = run_dir, meta, predictor
        self.text, self.holder, self.place, self.people = text, holder, place, people
        self.fusion = Fusion.from_json(meta["fusion"])
        self.alone = {s: Fusion.from_json(f) for s, f in meta["alone"].items()}
        self.edges, self.labels = tuple(meta["edges"]), tuple(meta["labels"])
        self.img_size = img_size  # the size to decode pictures at (the run's input size)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, device: str = "cpu") -> FusedDater:
        run_dir = Path(run_dir)
        folder = run_dir / FUSION_DIR
        meta = json.loads((folder / FUSION_JSON).read_text(encoding="utf-8"))
        files = meta.get("files", {})
        predictor = None
        if "picture" in meta["sources"]:
            from modeling.inference.predict import Predictor

            predictor = Predictor.from_run_dir(run_dir, device)
        text = TextModel.load(folder / files["text"]) if "text" in files else None
        holder = GroupPrior.load(folder / files["holder"]) if "holder" in files else None
        place = GroupPrior.load(folder / files["place"]) if "place" in files else None
        people = PeopleModel.load(folder / files["people"]) if "people" in files and predictor is not None else None
        img_size = predictor.img_size if predictor is not None else int(read_run_config(run_dir)["img_size"])
        return cls(run_dir, meta, predictor, text, holder, place, img_size, people)

    def estimates(self, facts: Sequence[RecordFacts], images: Sequence[Image.Image | None]) -> dict[str, Estimates]:
        """What each source says of every record (absent where it has nothing)."""
        n = len(facts)
        years: list[float | None] = [None] * n
        with_picture = [i for i, image in enumerate(images) if image is not None]
        if self.predictor is not None and with_picture:
            said = self.predictor.predict_batch([images[i] for i in with_picture], top_k=1)
            for i, answer in zip(with_picture, said, strict=True):
                years[i] = float(answer["year"])
        out = {"picture": picture_years(years),
               "explicit_date": explicit_estimates([f.title for f in facts], [f.description for f in facts])}
        if self.text is not None:
            out["text"] = self.text.estimate([record_text(f.title, f.description) for f in facts])
        if self.holder is not None:
            out["holder"] = self.holder.estimate([f.holder for f in facts])
        if self.place is not None:
            out["place"] = self.place.estimate([f.place for f in facts])
        if self.people is not None:
            out["people"] = self._people(images)
        return out

    def _people(self, images: Sequence[Image.Image | None]) -> Estimates:
        """The people source on uploaded pictures: detected here, their crops through the run's own backbone."""
        from dataset.people import detect_people
        from modeling.evidence.people import people_features

        boxes = [detect_people(image) if image is not None else [] for image in images]
        model = self.predictor.model
        with self.predictor._lock:
            features = people_features(model, images, boxes, self.img_size, self.predictor.mean, self.predictor.std)
        return self.people.estimate(features)

    def date(self, facts: Sequence[RecordFacts], images: Sequence[Image.Image | None]) -> list[Answer]:
        """One Answer per (facts, picture); `facts` may be empty (no catalogue data for any picture)."""
        if not facts:
            facts = [RecordFacts()] * len(images)
        if len(facts) != len(images):
            raise ValueError(f"{len(facts)} facts for {len(images)} images: expected one of each per photograph")
        estimates = self.estimates(facts, images)
        fused = self.fusion.apply(estimates)
        precisions = self.fusion.precisions(estimates)
        answers = []
        for i, record in enumerate(facts):
            used = [] if fused.combination[i] == "none" else fused.combination[i].split("+")
            order = sorted(used, key=lambda s: -precisions[s][i])  # what weighs most first
            # An answer resting on one source gives that source's line its own interval, so the two never differ.
            alone = (fused.low[i], fused.high[i]) if len(order) == 1 else None
            evidence = [self._evidence(source, i, record, estimates, alone) for source in order]
            answers.append(make_answer(fused.year[i], fused.low[i], fused.high[i], self.fusion.level,
                                       edges=self.edges, labels=self.labels, sources=tuple(order),
                                       evidence=tuple(e for e in evidence if e is not None),
                                       top_from_interval=True))
        return answers

    def _evidence(self, source: str, i: int, record: RecordFacts, estimates: dict[str, Estimates],
                  interval: tuple[float, float] | None = None):
        if source in ("picture", "text", "people"):
            if interval is None:
                alone = self.alone[source].apply({source: estimates[source].take(np.array([i]))})
                interval = (alone.low[0], alone.high[0])
            low, high = int(np.floor(interval[0])), int(np.ceil(interval[1]))
            said = {"picture": picture_evidence, "text": text_evidence, "people": people_evidence}[source]
            return said(low, high)
        if source == "explicit_date":
            stated = stated_date(record.title, record.description)
            return explicit_evidence(stated.field, stated.found.phrase) if stated else None
        prior = self.holder if source == "holder" else self.place
        stats = prior.stats(record.holder if source == "holder" else record.place)
        return holder_evidence(source, stats.name, stats.n, stats.first, stats.last) if stats else None

    def describe(self) -> dict:
        """The picture model's description (when it has one) plus what the fusion rests on and its CV ablation."""
        base = self.predictor.describe() if self.predictor is not None else {"img_size": self.img_size}
        return {**base, "sources": list(self.meta["sources"]), "n": self.meta["n"],
                "coverage": self.meta["coverage"], "mean_width": self.meta["mean_width"],
                "unsure_width": self.meta["unsure_width"], "level": self.fusion.level,
                "ablation": list(self.meta["ablation"])}
