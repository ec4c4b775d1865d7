"""Fit every evidence source on an export's folds, fuse them out-of-fold, score the ablation, write RUN_DIR/fusion/.

The folds are modeling.features.cv.fold_indices (the picture head's own): every source is fitted per
fold on the other folds, so each record's out-of-fold estimate comes from models that never saw it;
the fusion is then cross-fitted on those estimates (its calibration and quantiles for a fold come
from the other folds), which gives the honest CV numbers of the ablation table. The models written to
RUN_DIR/fusion/ are fitted on every record, the fusion on every out-of-fold estimate.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from db import csvsafe
from modeling.answer import INTERVAL_LEVEL, UNSURE_WIDTH_YEARS
from modeling.evidence.ablation import ABLATION, baseline_rows, score, write_ablation
from modeling.evidence.base import SOURCES, Estimates
from modeling.evidence.explicit import explicit_estimates
from modeling.evidence.fusion import MIN_PER_COMBINATION, Fused, Fusion, cross_fit, fit_fusion
from modeling.evidence.groups import GroupPrior
from modeling.evidence.people import PeopleFeatures, PeopleModel, fit_people, people_oof
from modeling.evidence.text import TextModel, record_text
from modeling.training.data import ExportRow

FUSION_DIR = "fusion"
FUSION_JSON = "fusion.json"
FILES = {"text": "text.npz", "holder": "holder.json", "place": "place.json", "people": "people.npz"}
FUSED_OOF = "oof.csv"  # RUN_DIR/fusion/oof.csv: the fusion's out-of-fold answers (RUN_DIR/oof.csv: the picture's)
FUSED_OOF_COLUMNS = ("image_id", "file", "year", "estimate", "low", "high", "sources")


@dataclass(frozen=True)
class EvidenceConfig:
    sources: tuple[str, ...] = SOURCES  # the sources to use (those the export has no data for drop out)
    level: float = INTERVAL_LEVEL  # the intervals' intended coverage
    min_per_combination: int = MIN_PER_COMBINATION  # records a source combination needs for its own quantile


@dataclass(frozen=True)
class FittedSources:
    text: TextModel | None  # None when no record has text
    holder: GroupPrior | None  # None when no record has a holder
    place: GroupPrior | None  # None when no record has a place
    people: PeopleModel | None = None  # None unless asked for (--evidence all+people) and enough records show people


@dataclass(frozen=True)
class EvidenceCV:
    sources: tuple[str, ...]  # the sources fused (requested and with data)
    estimates: dict[str, Estimates]  # each source's out-of-fold estimates
    fused: Fused  # the cross-fitted fusion of every source
    alone: dict[str, Fused]  # each source alone (with the prior where it is silent), cross-fitted
    ablation: tuple[dict, ...]  # ABLATION_COLUMNS rows: each source alone, the fusion, both baselines
    fusion: Fusion  # fitted on every out-of-fold estimate: what FusedDater uses
    fusion_alone: dict[str, Fusion]  # each source alone, fitted likewise: the intervals its evidence line states
    seconds: float  # time to fit and score it all


def _texts(rows: list[ExportRow]) -> list[str]:
    return [record_text(row.title, row.description) for row in rows]


def fit_sources(rows: list[ExportRow], sources: tuple[str, ...] = SOURCES) -> FittedSources:
    """The text model and the holder and place priors fitted on `rows` (None for a source without data)."""
    years = np.array([row.year for row in rows], dtype=float)
    text = None
    if "text" in sources:
        texts = _texts(rows)
        at = [i for i, t in enumerate(texts) if t.strip()]
        if len(at) >= 2:
            text = TextModel.fit([texts[i] for i in at], years[at])
    holder = GroupPrior.fit([row.holder for row in rows], years) if "holder" in sources and any(
        row.holder for row in rows) else None
    place = GroupPrior.fit([row.place for row in rows], years) if "place" in sources and any(
        row.place for row in rows) else None
    return FittedSources(text, holder, place)


def source_estimates(fitted: FittedSources, rows: list[ExportRow]) -> dict[str, Estimates]:
    """What the fitted text/holder/place models and the explicit dates say of `rows` (picture aside)."""
    n = len(rows)
    return {"text": fitted.text.estimate(_texts(rows)) if fitted.text else Estimates.absent(n),
            "explicit_date": explicit_estimates([r.title for r in rows], [r.description for r in rows]),
            "holder": fitted.holder.estimate([r.holder for r in rows]) if fitted.holder else Estimates.absent(n),
            "place": fitted.place.estimate([r.place for r in rows]) if fitted.place else Estimates.absent(n)}


def oof_estimates(rows: list[ExportRow], folds: np.ndarray, picture: Estimates | None,
                  sources: tuple[str, ...] = SOURCES, people: Estimates | None = None) -> dict[str, Estimates]:
    """Every source's out-of-fold estimates (picture and people: computed by the caller on the same folds)."""
    n = len(rows)
    out = {s: Estimates.absent(n) for s in ("text", "explicit_date", "holder", "place")}
    for fold in np.unique(folds):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        fitted = fit_sources([rows[i] for i in train], sources)
        for source, est in source_estimates(fitted, [rows[i] for i in test]).items():
            out[source].put(test, est)
    if picture is not None:
        out["picture"] = picture
    if people is not None:
        out["people"] = people
    return {s: e for s, e in out.items() if s in sources and e.present.any()}


def evaluate_evidence(rows: list[ExportRow], folds: np.ndarray, picture: Estimates | None, edges, labels,
                      config: EvidenceConfig = EvidenceConfig(), people: Estimates | None = None) -> EvidenceCV:
    """Out-of-fold estimates, the cross-fitted fusion, each source alone and the baselines, on `folds`.

    `people` (modeling.evidence.people.people_oof on the same folds) adds the people source; None leaves it out.
    """
    start = time.perf_counter()
    years = np.array([row.year for row in rows], dtype=float)
    estimates = oof_estimates(rows, folds, picture, config.sources, people)
    sources = tuple(s for s in SOURCES if s in estimates)
    year_range = (int(edges[0]), int(edges[-1]))

    def fuse(chosen: tuple[str, ...]) -> tuple[Fused, Fusion]:
        crossed = cross_fit(years, estimates, chosen, folds, config.level, year_range, config.min_per_combination)
        return crossed, fit_fusion(years, estimates, chosen, config.level, year_range, config.min_per_combination)

    fused, fusion = fuse(sources)
    alone, fusion_alone, table = {}, {}, []
    for source in sources:
        alone[source], fusion_alone[source] = fuse((source,))
        table.append(score(source, int(estimates[source].present.sum()), years, alone[source].year,
                           alone[source].low, alone[source].high, edges, labels))
    table.append(score("fusion: " + "+".join(sources), len(rows), years, fused.year, fused.low, fused.high, edges,
                       labels))
    table += baseline_rows(years, folds, edges, labels, config.level)
    return EvidenceCV(sources, estimates, fused, alone, tuple(table), fusion, fusion_alone,
                      time.perf_counter() - start)


def write_fused_oof(path: Path, cv: EvidenceCV, rows: list[ExportRow]) -> None:
    """The cross-fitted fusion's out-of-fold answer for every exported image, with the sources each rests on:
    what /records shows as the estimates of a model that never saw the photograph (modeling/app/dating.py)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.dict_writer(handle, fieldnames=FUSED_OOF_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for i, row in enumerate(rows):
            used = cv.fused.combination[i]
            writer.writerow({"image_id": row.image_id, "file": row.file, "year": row.year,
                             "estimate": round(float(cv.fused.year[i]), 2),
                             "low": int(np.floor(cv.fused.low[i])), "high": int(np.ceil(cv.fused.high[i])),
                             "sources": "" if used == "none" else used.replace("+", ",")})


def read_fused_oof(run_dir: str | Path) -> list[dict]:
    """RUN_DIR/fusion/oof.csv's rows (empty for a run without a fusion, or one trained before it was written)."""
    path = Path(run_dir) / FUSION_DIR / FUSED_OOF
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_fusion(run_dir: Path, cv: EvidenceCV, fitted: FittedSources, edges, labels,
                 rows: list[ExportRow] | None = None) -> Path:
    """RUN_DIR/fusion/ (fusion.json, the fitted source models and, given the CV's `rows`, oof.csv) and
    RUN_DIR/ablation.csv; returns the folder.

    The folder is built aside and swapped in, so a reader never sees half of it.
    """
    run_dir = Path(run_dir)
    final = run_dir / FUSION_DIR
    building = run_dir / f".{FUSION_DIR}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    files = {}
    if fitted.text is not None and "text" in cv.sources:
        fitted.text.save(building / FILES["text"])
        files["text"] = FILES["text"]
    if fitted.people is not None and "people" in cv.sources:
        fitted.people.save(building / FILES["people"])
        files["people"] = FILES["people"]
    for name, prior in (("holder", fitted.holder), ("place", fitted.place)):
        if prior is not None and name in cv.sources:
            prior.save(building / FILES[name])
            files[name] = FILES[name]
    fusion_row = next(row for row in cv.ablation if row["source"].startswith("fusion"))
    meta = {"format_version": 1, "sources": list(cv.sources), "files": files, "n": fusion_row["n"],
            "coverage": fusion_row["coverage"], "mean_width": fusion_row["mean_width"],
            "unsure_width": UNSURE_WIDTH_YEARS, "edges": list(edges), "labels": list(labels),
            "fusion": cv.fusion.to_json(), "alone": {s: f.to_json() for s, f in cv.fusion_alone.items()},
            "ablation": list(cv.ablation)}
    (building / FUSION_JSON).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    if rows is not None:
        write_fused_oof(building / FUSED_OOF, cv, rows)
    if final.exists():
        shutil.rmtree(final)
    os.replace(building, final)
    write_ablation(run_dir / ABLATION, list(cv.ablation))
    return final


def remove_fusion(run_dir: Path) -> None:
    """A run retrained without evidence must not keep an old fusion (its presence means "load a FusedDater")."""
    shutil.rmtree(Path(run_dir) / FUSION_DIR, ignore_errors=True)
    (Path(run_dir) / ABLATION).unlink(missing_ok=True)


def has_catalogue_data(rows: list[ExportRow]) -> bool:
    """Whether any record has a title, description, holder or place (else the picture is all there is)."""
    return any(row.title or row.description or row.holder or row.place for row in rows)


def evaluate_run_evidence(cv, rows: list[ExportRow], config, export, people: PeopleFeatures | None = None
                          ) -> tuple[EvidenceCV, FittedSources]:
    """`train --head-only --cv K`'s evidence step: the picture head's CV outputs (`cv`, a features.cv.CVResult
    on `rows`) with every other source on the same folds; and the sources refitted on every record.
    `people` (the rows' people features, --evidence all+people) adds the people source."""
    from modeling.evidence.picture import picture_estimates
    from modeling.features.cv import fold_indices

    folds = fold_indices(rows, config.cv, config.seed)  # the folds cross_validate used
    picture = picture_estimates(cv.outputs, config.task, export.edges, export.year_range)
    years = np.array([row.year for row in rows], dtype=float)
    people_est = people_oof(people, years, folds) if people is not None else None
    evidence = evaluate_evidence(rows, folds, picture, export.edges, export.labels, people=people_est)
    fitted = fit_sources(rows, evidence.sources)
    if people is not None and "people" in evidence.sources:
        fitted = replace(fitted, people=fit_people(people, years))
    return evidence, fitted
