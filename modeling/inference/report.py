"""Render results as text tables, markdown or JSON (cli.py prints what these return)."""

from __future__ import annotations

import io
import json

from db import csvsafe
from modeling.baselines import BASELINE_KEYS, baseline_table_rows, baselines_line


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return "" if value is None else str(value)


def table(rows: list[dict], columns: list[str] | tuple[str, ...], markdown: bool = False) -> str:
    """A fixed-width text table, or a GitHub markdown table."""
    cells = [[fmt(row.get(c)) for c in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, "-" * len(line), *body])


EPOCH_COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_accuracy", "valid_balanced_accuracy", "valid_mae",
                 "lr", "images_per_s", "seconds")


def epoch_header() -> str:
    """The head of the epoch table that `train` prints one line at a time (`epoch_line`)."""
    line = "  ".join(c.ljust(_epoch_width(c)) for c in EPOCH_COLUMNS)
    return f"{line}\n{'-' * len(line)}"


def epoch_line(row: dict) -> str:
    """One history row as a line under `epoch_header`, printed as soon as its epoch is done."""
    return "  ".join(fmt(row[c] if c == "lr" else _num(row[c])).ljust(_epoch_width(c))
                     for c in EPOCH_COLUMNS).rstrip()


def _epoch_width(column: str) -> int:
    return max(len(column), 9)


def render_train(result, epochs_shown: bool = False) -> str:
    """What `train` prints at the end: the epoch table (unless `epochs_shown` as they came), best epoch,
    baselines, CV. A head-only fit has no epochs, so no table: it says what it embedded instead."""
    best = result.best
    lines = []
    if result.embedding is None and not epochs_shown:
        lines += [epoch_header(), *(epoch_line(row) for row in result.history), ""]
    elif result.embedding is None:
        lines.append("")
    if result.embedding is not None:
        emb = result.embedding
        lines.append(f"head-only on frozen features: {emb.computed} image(s) embedded, {emb.reused} reused from "
                     f"{emb.cache_file} ({emb.seconds:.1f} s)")
    else:
        lines.append(f"best epoch {best['epoch']}: accuracy {best['accuracy']:.3f}, balanced "
                     f"{best['balanced_accuracy']:.3f}, MAE {best['mae']:.1f} years, within 10y {best['within_10']:.3f}")
    lines.append(f"valid ({best['n']} images): {baselines_line(best)}")
    if result.cv is not None:
        from modeling.features.cv import cv_line

        lines.append(cv_line(result.cv.summary, result.cv.k, len(result.cv.oof))
                     + f"; out-of-fold estimates: {result.run_dir / 'oof.csv'}")
    chosen = best.get("head_selection")
    if chosen:
        tried = ", ".join(f"{c['task']} L2 {c['head_l2']:g}: {c['mae']:.1f}" for c in chosen["candidates"])
        lines.append(f"--head-l2 auto chose {chosen['task']} ({chosen['loss']}) with L2 {chosen['head_l2']:g} by "
                     f"{chosen['candidates'][0]['folds']}-fold CV MAE on the train split ({tried} y)")
    if getattr(result, "evidence", None) is not None:
        from modeling.evidence.ablation import ablation_lines

        lines.append(ablation_lines(list(result.evidence.ablation), f"evidence ({result.cv.k}-fold CV, pooled over "
                                    f"{len(result.cv.oof)} images; 80% intervals): {result.run_dir / 'ablation.csv'}"))
    lr = "" if result.embedding is not None else f"lr {result.lr:.2e}; "
    lines.append(f"{lr}run directory {result.run_dir} ({result.seconds:.0f} s)")
    return "\n".join(lines)


def render_evaluate(result: dict, output: str) -> str:
    if output == "json":
        return json.dumps(result, indent=2)
    md = output == "markdown"
    headline = [{"metric": k, "value": result[k]} for k in ("n", "accuracy", "balanced_accuracy", "macro_f1",
                "within_one_bin", "mae", "rmse", "median_ae", "within_5", "within_10")]
    labels = result["labels"]
    per_bin = per_bin_rows(result)
    confusion = [{"actual \\ predicted": label, **dict(zip(labels, counts, strict=True))}
                 for label, counts in zip(labels, result["confusion_matrix"], strict=True)]
    title = f"{result['run']} ({result['arch']}, {result['task']}) on {result['split']}"
    parts = [("## " if md else "") + title, table(headline, ("metric", "value"), md),
             table(baseline_table_rows(result), ("answer", *BASELINE_KEYS), md), baselines_line(result)]
    if result.get("grayscale"):
        gray = result["grayscale"]
        colour_rows = [{"images": name, **{k: values[k] for k in BASELINE_KEYS}}
                       for name, values in (("as they are", result), ("grayscale copies", gray))]
        parts += [table(colour_rows, ("images", *BASELINE_KEYS), md), colour_line(result, gray)]
    parts += [table(per_bin, ("bin", "precision", "recall", "support"), md),
              "confusion matrix (rows = actual)", table(confusion, ("actual \\ predicted", *labels), md),
              f"PNG: {result['confusion_png']}"]
    return "\n\n".join(parts)


PREDICTION_COLUMNS = ("file", "year", "interval", "period", "unsure", "evidence", "top", "error")


def colour_line(result: dict, gray: dict) -> str:
    """How the answers change when the colour is taken away, in words.

    >>> colour_line({"n": 19, "mae": 5.28, "balanced_accuracy": 0.633}, {"mae": 13.1, "balanced_accuracy": 0.5})
    'Without colour (grayscale copies of the same 19 photographs): mean error 5.3 -> 13.1 years, balanced accuracy 0.633 -> 0.500. The larger the change, the more the model dates by colour alone.'
    """
    return (f"Without colour (grayscale copies of the same {result['n']} photographs): mean error "
            f"{result['mae']:.1f} -> {gray['mae']:.1f} years, balanced accuracy {result['balanced_accuracy']:.3f} -> "
            f"{gray['balanced_accuracy']:.3f}. The larger the change, the more the model dates by colour alone.")


def per_bin_rows(result: dict) -> list[dict]:
    """Per-bin precision and recall, with "-" where there is nothing to measure: no photograph predicted
    in the bin (precision) or none catalogued in it (recall), rather than a misleading 0.000."""
    predicted = [sum(column) for column in zip(*result["confusion_matrix"], strict=True)]
    rows = []
    for (label, values), n_predicted in zip(result["per_bin"].items(), predicted, strict=True):
        rows.append({"bin": label, "precision": values["precision"] if n_predicted else "-",
                     "recall": values["recall"] if values["support"] else "-", "support": values["support"]})
    return rows


def render_predictions(rows: list[dict], output: str) -> str:
    """predict's rows ({"file", **Answer.to_dict()} or {"file", "error"}) as JSON, CSV or a text table.

    The table and CSV show, per file, the year, its interval, the period holding the year, "unsure" when the
    interval is too wide to lead with a year, and the evidence in plain words (CSV: in English and Spanish).
    """
    if output == "json":
        return json.dumps(rows, indent=2)
    flat = [{"file": r["file"], "year": r.get("year"),
             "interval": f"{r['low']}-{r['high']}" if "low" in r else "",
             "period": r.get("period", ""), "unsure": ("unsure" if r["unsure"] else "") if "unsure" in r else "",
             "evidence": "; ".join(e["en"] for e in r.get("evidence", [])),
             "evidence_es": "; ".join(e["es"] for e in r.get("evidence", [])),
             "top": "; ".join(f"{t['bin']} {t['probability']:.2f}" for t in r.get("top", [])),
             "error": r.get("error", "")} for r in rows]
    if output == "csv":
        buffer = io.StringIO()
        fields = [*PREDICTION_COLUMNS[:6], "evidence_es", *PREDICTION_COLUMNS[6:]]
        writer = csvsafe.dict_writer(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return buffer.getvalue().rstrip("\n")
    return table(flat, PREDICTION_COLUMNS)


def _num(value):
    try:
        return float(value) if "." in str(value) or "e" in str(value) else int(value)
    except ValueError:
        return value
