"""Turn Answers and the dater's description into what the templates show (percentages, evidence, a preview)."""

from __future__ import annotations

import base64
import io
import statistics
from dataclasses import dataclass

from PIL import Image

from modeling.answer import Answer, Evidence
from modeling.app.people import PeopleView

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
    people: PeopleView | None = None  # the people found and their boxes; None when the app does not look for them


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
    cv_images: int | None = None  # photographs cross-validation scored (each once, by a model that never saw it)
    cv_accuracy_percent: float | None = None  # mean accuracy over folds x 100
    cv_accuracy_std: float | None = None  # its spread over folds x 100
    cv_median_mae: float | None = None  # the constant median year's MAE over the same folds
    cv_median_mae_std: float | None = None  # its spread
    cv_majority_percent: float | None = None  # the majority bin's balanced accuracy x 100 over the same folds
    cv_balanced_percent: float | None = None  # the model's balanced accuracy x 100
    cv_verdict: str | None = None  # yes | unclear | no: beats both baselines by more than the folds' spread
    coverage_percent: float | None = None  # measured share of true years inside the intervals x 100
    coverage_images: int | None = None  # photographs that coverage rests on
    mean_width: float | None = None  # the intervals' mean width in years
    level_percent: int = 80  # the intervals' intended coverage
    unsure_width: int | None = None  # an interval wider than this many years makes the answer unsure
    sources: tuple[str, ...] = ()  # the evidence sources the dater uses
    ablation: tuple[dict, ...] = ()  # each source alone, the fusion and the baselines (from describe())


def source_name(source: str, t: dict[str, str]) -> str:
    """An evidence source's name in the page's words (the `t` table), or the name itself when it has none.

    The ablation's names are read too: "fusion: picture+text" and "baseline: median year".

    >>> source_name("picture", {"source_picture": "the picture"}), source_name("exif", {})
    ('the picture', 'exif')
    >>> source_name("fusion: picture+text", {"source_fusion": "all together", "source_text": "the title"})
    'all together (picture, the title)'
    >>> source_name("baseline: median year", {"source_median_year": "constant median year"})
    'constant median year'
    """
    if source.startswith("fusion: "):
        parts = source.removeprefix("fusion: ").split("+")
        return f"{t.get('source_fusion', 'fusion')} ({', '.join(source_name(part, t) for part in parts)})"
    if source.startswith("baseline: "):
        source = source.removeprefix("baseline: ").replace(" ", "_")
    return t.get(f"source_{source}", source)


def preview_data_uri(picture: Image.Image) -> str:
    """A small JPEG of `picture` as a data: URI, so the page needs no second request to show it."""
    small = picture.convert("RGB")
    small.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=PREVIEW_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def result_view(filename: str, answer: Answer, preview: str | None, top_k: int = 3,
                people: PeopleView | None = None) -> ResultView:
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
        people=people,
    )


def beats_by_more_than_spread(gains: list[float]) -> str:
    """"yes" when the mean gain over folds exceeds its spread (sample std), "no" when it is not positive,
    "unclear" in between: ahead on average, but by less than the folds disagree.

    >>> beats_by_more_than_spread([3.0, 4.0, 5.0]), beats_by_more_than_spread([3.0, -1.0, 1.0])
    ('yes', 'unclear')
    >>> beats_by_more_than_spread([-1.0, 0.5])
    'no'
    """
    mean = statistics.fmean(gains)
    if mean <= 0:
        return "no"
    spread = statistics.stdev(gains) if len(gains) > 1 else 0.0
    return "yes" if mean > spread else "unclear"


def cv_verdict(folds: list[dict]) -> str | None:
    """Whether the model beats both baselines across folds: MAE below the constant median year's and balanced
    accuracy above the majority bin's, each by more than its spread over the folds ("yes"), not at all on one
    of them ("no"), or not clearly ("unclear"). None without per-fold numbers."""
    needed = ("mae", "median_year_mae", "balanced_accuracy", "majority_bin_balanced_accuracy")
    if not folds or not all(key in fold for fold in folds for key in needed):
        return None
    verdicts = {beats_by_more_than_spread([f["median_year_mae"] - f["mae"] for f in folds]),
                beats_by_more_than_spread([f["balanced_accuracy"] - f["majority_bin_balanced_accuracy"] for f in folds])}
    return "no" if "no" in verdicts else "unclear" if "unclear" in verdicts else "yes"


def _percent(value) -> float | None:
    return round(100 * float(value), 1) if value is not None else None


def _rounded(value, digits: int = 1) -> float | None:
    return round(float(value), digits) if value is not None else None


def model_view(description: dict, run_name: str) -> ModelView:
    """The template's view of the dater's description (run_description + describe()); what it lacks shows as
    unknown or is left out."""
    metrics = description.get("metrics") or {}
    accuracy = metrics.get("accuracy")
    mae = metrics.get("mae")
    base = metrics.get("baselines") or {}
    median, majority = base.get("median_year") or {}, base.get("majority_bin") or {}
    validated = description.get("validated_on") or {}
    cv_run = metrics.get("cv") or {}
    summary = cv_run.get("summary") or {}
    cv = summary.get("mae") or {}

    def cv_stat(key: str, part: str = "mean"):
        return (summary.get(key) or {}).get(part)

    level = description.get("level")
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
        cv_images=cv_run.get("n"),
        cv_accuracy_percent=_percent(cv_stat("accuracy")),
        cv_accuracy_std=_percent(cv_stat("accuracy", "std")),
        cv_median_mae=_rounded(cv_stat("median_year_mae")),
        cv_median_mae_std=_rounded(cv_stat("median_year_mae", "std")),
        cv_majority_percent=_percent(cv_stat("majority_bin_balanced_accuracy")),
        cv_balanced_percent=_percent(cv_stat("balanced_accuracy")),
        cv_verdict=cv_verdict(list(cv_run.get("folds") or [])),
        coverage_percent=_percent(description.get("coverage")),
        coverage_images=description.get("n"),
        mean_width=_rounded(description.get("mean_width")),
        level_percent=round(100 * float(level)) if level is not None else 80,
        unsure_width=description.get("unsure_width"),
        sources=tuple(description.get("sources") or ()),
        ablation=tuple({**row, "accuracy": _percent(row.get("accuracy")),
                        "balanced_accuracy": _percent(row.get("balanced_accuracy")),
                        "coverage": _percent(row.get("coverage")), "mae": _rounded(row.get("mae")),
                        "mean_width": _rounded(row.get("mean_width"))}
                       for row in description.get("ablation") or ()),
    )
