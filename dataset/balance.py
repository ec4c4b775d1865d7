"""How the archive spreads over the bins: counts before and after dedupe, gaps, imbalance, what is left out.

>>> report = balance_report(engine, BalanceConfig(bins="20y"))  # doctest: +SKIP
>>> print(render(report, "table"))  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine

from dataset.bins import Bins
from dataset.catalog import LEFT_OUT_REASONS, CatalogStream
from dataset.people_counts import COLUMNS as PEOPLE_COLUMNS
from dataset.people_counts import any_examined, category_of, people_of
from db import csvsafe
from db.errors import PipelineError

FORMATS = ("table", "markdown", "csv", "json")
# A ratio of largest to smallest bin above this earns a balancing hint.
IMBALANCE_HINT = 3.0


class BadReportOptions(PipelineError):
    """balance-report options out of range."""


@dataclass(frozen=True)
class BalanceConfig:
    bins: str = "20y"  # decade | 10y | 20y | Ny | explicit edges "1860,1900,1991"
    origin: int = 1860  # first edge of Ny bins
    min_count: int = 50  # bins with fewer images (after dedupe) are named in the suggestion


@dataclass(frozen=True)
class BinCount:
    label: str  # "1860-1879"
    start: int  # first year
    end: int  # last year (inclusive)
    before: int  # images dated inside the bin
    excluded: int  # of which duplicates excluded by dedupe
    after: int  # before - excluded
    share: float  # after / all images after dedupe


@dataclass(frozen=True)
class BalanceReport:
    bins: Bins  # the bins counted
    rows: list[BinCount]  # one per bin, in year order
    total_before: int  # binned images
    total_after: int  # binned images kept by dedupe
    empty_bins: list[str]  # labels of bins with no image after dedupe
    imbalance_ratio: float | None  # largest over smallest non-empty bin (after dedupe)
    left_out: dict[str, int]  # reason -> images (records, for no_image) in no bin
    not_deduped: int  # binned images dedupe has not seen yet
    suggestion: str  # one line: what to do about it
    # per bin (rows' order), kept images per people category (dataset.people_counts.COLUMNS);
    # None when `cli.py detect` never ran on this archive (the report then reads as before)
    people: list[dict[str, int]] | None = None


# How the people columns are headed in the table, markdown and CSV.
PEOPLE_HEADERS = {"portrait": "portraits", "group": "groups", "one": "one person", "none": "nobody",
                  "not_examined": "not examined"}


# Kept pictures whose people category is read per round trip: what the report holds at once.
PEOPLE_WINDOW = 4000


def _count_people(engine: Engine, window: list[tuple[int, int]], people: list[dict[str, int]]) -> None:
    """Add each picture of `window` ((image id, bin)) to its bin's people category."""
    examined = people_of(engine, [image_id for image_id, _ in window])
    for image_id, bin_index in window:
        people[bin_index][category_of(examined, image_id)] += 1


def balance_report(engine: Engine, config: BalanceConfig) -> BalanceReport:
    """Count images per bin (before and after dedupe exclusions) and explain the rest."""
    if config.min_count < 0:
        raise BadReportOptions(f"--min-count {config.min_count} is negative: expected 0 or more images.")
    stream = CatalogStream(engine, config.bins, config.origin, with_text=False)  # counts only, nothing kept
    before, excluded = Counter(), Counter()
    people = [{column: 0 for column in PEOPLE_COLUMNS} for _ in stream.bins.labels] if any_examined(engine) else None
    window: list[tuple[int, int]] = []  # (image id, bin) of kept pictures whose people category is not read yet
    for c in stream:
        before[c.bin_index] += 1
        if c.excluded:
            excluded[c.bin_index] += 1
        elif people is not None:
            window.append((c.image_id, c.bin_index))
            if len(window) == PEOPLE_WINDOW:
                _count_people(engine, window, people)
                window = []
    if people is not None:
        _count_people(engine, window, people)
    bins, total_before = stream.bins, sum(before.values())
    total_after = total_before - sum(excluded.values())
    rows = []
    for i, label in enumerate(bins.labels):
        after = before[i] - excluded[i]
        rows.append(BinCount(
            label, bins.edges[i], bins.edges[i + 1] - 1, before[i], excluded[i], after,
            after / total_after if total_after else 0.0,
        ))
    filled = [r.after for r in rows if r.after]
    left_out = stream.reasons()
    return BalanceReport(
        bins=bins, rows=rows, total_before=total_before, total_after=total_after,
        empty_bins=[r.label for r in rows if not r.after],
        imbalance_ratio=round(max(filled) / min(filled), 2) if filled else None,
        left_out=left_out, not_deduped=stream.not_deduped,
        suggestion=_suggestion(rows, bins, config.min_count, left_out),
        people=people,
    )


def merged_edges(rows: list[BinCount], min_count: int) -> list[int]:
    """Adjacent bins merged left to right until each holds at least min_count images."""
    edges, count = [rows[0].start], 0
    for r in rows:
        count += r.after
        if count >= min_count:
            edges.append(r.end + 1)
            count = 0
    if count or len(edges) == 1:
        if len(edges) > 1:
            edges.pop()
        edges.append(rows[-1].end + 1)
    return edges


def _suggestion(rows: list[BinCount], bins: Bins, min_count: int, left_out: dict[str, int]) -> str:
    if not any(r.after for r in rows):
        if not left_out:
            return "No images yet: run 'cli.py crawl' or 'cli.py import' first."
        held = sum(left_out.values())
        why = "; ".join(f"{LEFT_OUT_REASONS[k]}: {n}" for k, n in left_out.items())
        return (f"None of the {held} records has an image dated within the bins ({why}). Give the pictures dates "
                "(import them again with --metadata CSV, a 'file' and a 'date' or 'year' column) or choose "
                "bins that cover their years (--bins, --origin).")
    small = [r for r in rows if r.after < min_count]
    if small:
        names = ", ".join(f"{r.label} ({r.after})" for r in small)
        edges = merged_edges(rows, min_count)
        merge = f" (e.g. --bins {','.join(map(str, edges))})" if 2 < len(edges) < len(bins.edges) else ""
        return (f"Bins under {min_count} images: {names}. Merge them into wider bins{merge}, "
                "augment them, or collect more photographs from those years.")
    filled = [r.after for r in rows if r.after]
    ratio = max(filled) / min(filled)
    if ratio > IMBALANCE_HINT:
        return f"Every bin has at least {min_count} images; imbalance {ratio:.1f}x: consider 'export --balance undersample' or 'oversample'."
    return f"Every bin has at least {min_count} images and the imbalance is {ratio:.1f}x: ready to export."


def _summary_lines(report: BalanceReport) -> list[str]:
    ratio = "n/a" if report.imbalance_ratio is None else f"{report.imbalance_ratio:.2f}"
    left = "; ".join(f"{LEFT_OUT_REASONS[k]}: {n}" for k, n in report.left_out.items()) or "none"
    lines = [
        f"Images: {report.total_before} in bins, {report.total_after} after dedupe.",
        f"Empty bins: {', '.join(report.empty_bins) or 'none'}",
        f"Imbalance ratio (largest / smallest non-empty bin): {ratio}",
        f"Left out: {left}",
    ]
    if report.not_deduped:
        lines.append(f"Not deduplicated yet: {report.not_deduped} images (run 'cli.py dedupe').")
    if report.people is not None:
        unexamined = sum(counts["not_examined"] for counts in report.people)
        lines.append("People (cli.py detect): portraits = one prominent face, groups = two or more people, one person "
                     "= one small figure or face, nobody = none found" + (
                         f"; {unexamined} kept images not examined yet (run 'cli.py detect')." if unexamined else "."))
    lines.append(f"Suggestion: {report.suggestion}")
    return lines


def render(report: BalanceReport, fmt: str) -> str:
    """The report as table | markdown | csv | json text."""
    if fmt == "json":
        data = asdict(report)
        data["bins"] = report.bins.to_json()
        if report.people is None:
            del data["people"]  # an archive never examined for people reports exactly as before
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csvsafe.writer(buffer, lineterminator="\n")
        people = report.people
        writer.writerow(["bin", "start", "end", "before", "excluded", "after", "share"]
                        + ([f"people_{column}" for column in PEOPLE_COLUMNS] if people else []))
        for k, r in enumerate(report.rows):
            writer.writerow([r.label, r.start, r.end, r.before, r.excluded, r.after, f"{r.share:.4f}"]
                            + ([people[k][column] for column in PEOPLE_COLUMNS] if people else []))
        return buffer.getvalue().rstrip("\n")
    header = ("bin", "before", "excluded", "after", "share")
    body = [(r.label, str(r.before), str(r.excluded), str(r.after), f"{100 * r.share:.1f}%") for r in report.rows]
    body.append(("total", str(report.total_before), str(report.total_before - report.total_after),
                 str(report.total_after), "100.0%" if report.total_after else "0.0%"))
    if report.people is not None:  # the kept images of each bin by who is in them
        header += tuple(PEOPLE_HEADERS[column] for column in PEOPLE_COLUMNS)
        totals = [sum(counts[column] for counts in report.people) for column in PEOPLE_COLUMNS]
        body = [row + tuple(str(counts[column]) for column in PEOPLE_COLUMNS)
                for row, counts in zip(body[:-1], report.people, strict=True)] + [body[-1] + tuple(map(str, totals))]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines + [""] + [f"- {line}" for line in _summary_lines(report)])
    if fmt == "table":
        widths = [max(len(row[k]) for row in [header, *body]) for k in range(len(header))]
        fmt_row = lambda row: "  ".join(  # noqa: E731
            cell.ljust(w) if k == 0 else cell.rjust(w) for k, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        return "\n".join([fmt_row(header), *map(fmt_row, body), "", *_summary_lines(report)])
    raise BadReportOptions(f"Unknown format {fmt!r}: expected one of {', '.join(FORMATS)}.")


def plot(report: BalanceReport, path: Path) -> Path:
    """Bar chart: kept images per bin with counts on the bars, excluded duplicates stacked apart (hatched)."""
    from matplotlib.figure import Figure  # Agg canvas, no pyplot state

    labels = [r.label for r in report.rows]
    kept = [r.after for r in report.rows]
    dups = [r.excluded for r in report.rows]
    width = max(6.0, 0.8 * len(labels) + 2)
    fig = Figure(figsize=(width, 4.5 if report.people is None else 8.0), dpi=120, layout="constrained")
    ax = fig.add_subplot(1 if report.people is None else 2, 1, 1)
    xs = range(len(labels))
    ax.bar(xs, kept, color="#4a6fa5", label="images kept")
    ax.bar(xs, dups, bottom=kept, color="#f2c14e", hatch="//", edgecolor="#b08a2e", label="excluded duplicates")
    top = max((k + d for k, d in zip(kept, dups, strict=True)), default=0) or 1
    for x, k, d in zip(xs, kept, dups, strict=True):
        ax.text(x, k + d + top * 0.01, str(k) if not d else f"{k} (+{d})", ha="center", va="bottom", fontsize=9)
        if not k and not d:
            ax.text(x, top * 0.04, "empty", ha="center", va="bottom", fontsize=8, color="#b03a2e", rotation=90)
    ax.set_xticks(list(xs), labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("images")
    ratio = "n/a" if report.imbalance_ratio is None else f"{report.imbalance_ratio:.1f}x"
    ax.set_title(f"{report.total_after} images in {len(labels)} bins ({report.bins.spec}), imbalance {ratio}")
    if report.left_out:
        # Under the axis, where no bar can hide it.
        left = " · ".join(f"{LEFT_OUT_REASONS[k]}: {n}" for k, n in report.left_out.items())
        ax.set_xlabel(f"left out: {left}", fontsize=8, color="#555555")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if report.people is not None:
        _plot_people(fig.add_subplot(2, 1, 2), report, labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# Colours of the people categories in the chart, in PEOPLE_COLUMNS order.
PEOPLE_COLOURS = {"portrait": "#8e4585", "group": "#d1495b", "one": "#edae49", "none": "#a0a0a0",
                  "not_examined": "#ffffff"}


def _plot_people(ax, report: BalanceReport, labels: list[str]) -> None:
    """Kept images per bin, stacked by who is in them (cli.py detect)."""
    xs = list(range(len(labels)))
    bottom = [0] * len(labels)
    for column in PEOPLE_COLUMNS:
        heights = [counts[column] for counts in report.people]
        ax.bar(xs, heights, bottom=bottom, color=PEOPLE_COLOURS[column], edgecolor="#555555", linewidth=0.5,
               label=PEOPLE_HEADERS[column])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(xs, labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    ax.set_ylabel("images kept")
    ax.set_title("Who is in them (cli.py detect)")
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=len(PEOPLE_COLUMNS))
    ax.set_ylim(0, (max(bottom, default=0) or 1) * 1.25)
    ax.spines[["top", "right"]].set_visible(False)
