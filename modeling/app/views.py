"""Turn the Predictor's dicts into what the templates show (percentages, rounded years, a preview)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image

PREVIEW_MAX_SIDE = 720  # the photograph shown back to the person, in pixels on its long side
PREVIEW_QUALITY = 82  # JPEG quality of that preview


@dataclass(frozen=True)
class PeriodView:
    label: str  # bin label, e.g. "1940-1959"
    percent: float  # probability x 100, for the bar width and the text


@dataclass(frozen=True)
class ResultView:
    filename: str  # as uploaded
    periods: list[PeriodView]  # top bins, most probable first
    year: int | None  # the estimated year
    low: int | None  # interval lower end
    high: int | None  # interval upper end
    level_percent: int | None  # the interval's coverage, e.g. 80
    preview: str | None  # data: URI of the photograph as the model saw it (EXIF applied)


@dataclass(frozen=True)
class ModelView:
    arch: str  # timm architecture name
    task: str  # classify | regress
    run: str  # the run directory's name
    labels: list[str]  # the periods the model knows
    img_size: int | None  # input size in pixels
    accuracy_percent: float | None  # validation accuracy x 100
    mae_years: float | None  # validation mean absolute error in years


def preview_data_uri(picture: Image.Image) -> str:
    """A small JPEG of `picture` as a data: URI, so the page needs no second request to show it."""
    small = picture.convert("RGB")
    small.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=PREVIEW_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def result_view(filename: str, result: dict, preview: str | None) -> ResultView:
    """The template's view of one prediction (`Predictor.predict`'s dict)."""
    interval = result.get("interval") or {}
    level = interval.get("level")
    return ResultView(
        filename=filename,
        periods=[
            PeriodView(p["bin"], round(100 * float(p["probability"]), 1)) for p in result.get("top", [])
        ],
        year=result.get("year"),
        low=interval.get("low"),
        high=interval.get("high"),
        level_percent=round(100 * level) if level is not None else None,
        preview=preview,
    )


def model_view(description: dict, run_name: str) -> ModelView:
    """The template's view of `Predictor.describe()`; metrics it lacks show as unknown."""
    metrics = description.get("metrics") or {}
    accuracy = metrics.get("accuracy")
    mae = metrics.get("mae")
    return ModelView(
        arch=str(description.get("arch", "?")),
        task=str(description.get("task", "classify")),
        run=run_name,
        labels=list(description.get("labels") or []),
        img_size=description.get("img_size"),
        accuracy_percent=round(100 * float(accuracy), 1) if accuracy is not None else None,
        mae_years=round(float(mae), 1) if mae is not None else None,
    )
