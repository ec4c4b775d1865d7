"""Turn Answers and the dater's description into what the templates show (percentages, evidence, a preview)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image

from modeling.answer import Answer, Evidence

PREVIEW_MAX_SIDE = 720  # the photograph shown back to the person, in pixels on its long side
PREVIEW_QUALITY = 82  # JPEG quality of that preview


@dataclass(frozen=True)
class PeriodView:
    label: str  # bin label, e.g. "1940-1959"
    percent: float  # probability x 100, for the bar width and the text


@dataclass(frozen=True)
class ResultView:
    filename: str  # as uploaded
    periods: list[PeriodView]  # the most probable periods with their probability, most probable first
    year: int  # the estimated year
    low: int  # interval lower end
    high: int  # interval upper end
    level_percent: int  # the interval's intended coverage, e.g. 80
    period: str  # the period holding the year: the only period shown large
    preview: str | None  # data: URI of the photograph as the model saw it (EXIF applied)
    unsure: bool = False  # the interval is too wide to lead with a year: the page leads with the interval
    evidence: tuple[Evidence, ...] = ()  # what the answer rests on, in both languages


@dataclass(frozen=True)
class ModelView:
    arch: str  # timm architecture name
    task: str  # classify | regress
    run: str  # the run directory's name
    labels: list[str]  # the periods the model knows
    img_size: int | None  # input size in pixels
    accuracy_percent: float | None  # validation accuracy x 100
    mae_years: float | None  # validation mean absolute error in years
    median_year: int | None = None  # the constant-median-year baseline's answer
    median_mae_years: float | None = None  # its mean absolute error on the same validation photographs
    majority_bin: str | None = None  # the majority-bin baseline's answer
    majority_accuracy_percent: float | None = None  # its accuracy x 100 on the same photographs
    baseline_flags: tuple[str, ...] | None = None  # why the model does not beat them; () beats both; None unknown
    validated_images: int | None = None  # how many validation photographs the numbers come from
    validated_sources: str | None = None  # which sources they came from, e.g. "replica (200)"
    synthetic: bool = False  # validated on the synthetic replica archive, not on real photographs
    cv_folds: int | None = None  # --cv K of a head-only run
    cv_mae: float | None = None  # its mean MAE over folds
    cv_mae_std: float | None = None  # and the spread over folds


def preview_data_uri(picture: Image.Image) -> str:
    """A small JPEG of `picture` as a data: URI, so the page needs no second request to show it."""
    small = picture.convert("RGB")
    small.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=PREVIEW_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def result_view(filename: str, answer: Answer, preview: str | None, top_k: int = 3) -> ResultView:
    """The template's view of one Answer, listing its `top_k` most probable periods."""
    return ResultView(
        filename=filename,
        periods=[PeriodView(label, round(100 * p, 1)) for label, p in answer.top[:top_k]],
        year=answer.year,
        low=answer.low,
        high=answer.high,
        level_percent=round(100 * answer.level),
        period=answer.period,
        preview=preview,
        unsure=answer.unsure,
        evidence=answer.evidence,
    )


def model_view(description: dict, run_name: str) -> ModelView:
    """The template's view of `Predictor.describe()`; metrics it lacks show as unknown."""
    metrics = description.get("metrics") or {}
    accuracy = metrics.get("accuracy")
    mae = metrics.get("mae")
    base = metrics.get("baselines") or {}
    median, majority = base.get("median_year") or {}, base.get("majority_bin") or {}
    validated = description.get("validated_on") or {}
    cv = ((metrics.get("cv") or {}).get("summary") or {}).get("mae") or {}
    return ModelView(
        arch=str(description.get("arch", "?")),
        task=str(description.get("task", "classify")),
        run=run_name,
        labels=list(description.get("labels") or []),
        img_size=description.get("img_size"),
        accuracy_percent=round(100 * float(accuracy), 1) if accuracy is not None else None,
        mae_years=round(float(mae), 1) if mae is not None else None,
        median_year=round(median["year"]) if median else None,
        median_mae_years=round(float(median["mae"]), 1) if median else None,
        majority_bin=majority.get("bin"),
        majority_accuracy_percent=round(100 * float(majority["accuracy"]), 1) if majority else None,
        baseline_flags=tuple(metrics.get("baseline_flags", ())) if base else None,
        validated_images=validated.get("images"),
        validated_sources=validated.get("sources"),
        synthetic="replica" in str(validated.get("sources", "")),
        cv_folds=(metrics.get("cv") or {}).get("k"),
        cv_mae=round(float(cv["mean"]), 1) if cv else None,
        cv_mae_std=round(float(cv["std"]), 1) if cv else None,
    )
