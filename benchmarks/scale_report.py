"""The scale benchmark's table (benchmarks/results/scale.md) and log-log plot (scale.png) from its state.json."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# Issue 21's targets at 1M records: (stage, backend) -> (seconds, peak RSS MB or None)
TARGETS = {("balance-report", "sqlite"): (20, None), ("export", "sqlite"): (60, 1024),
           ("manifest", "sqlite"): (60, 1024), ("db-copy", "sqlite"): (300, None)}
FLAT = 1.5  # time per record at the largest size within this factor of the smallest


def _machine() -> str:
    model = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({model}), {memory:.0f} GiB, Python {platform.python_version()}"


def _extra(row: dict) -> str:
    if row["stage"] == "records":
        return f"wall s = the pages' own time ({row['process_s']:.0f} s with start-up); {row['pages']} pages, p95 {row['p95_ms']:.0f} ms, slowest {row['max_ms']:.0f} ms ({row['slowest']})"
    if row["stage"] in ("export", "manifest"):
        return f"{row['manifest_rows']} manifest rows" + (" (export --no-copy)" if row["stage"] == "manifest" else "")
    if row["stage"] in ("attach", "pictures"):
        return f"{row['pictures']} pictures" + (" (one per record, 4,000 files reused)" if row["stage"] == "pictures"
                                                else "")
    if row["stage"] == "date-undated" and "Estimated" in row.get("output", ""):
        return row["output"].split("Estimated ", 1)[1].split(" photograph", 1)[0] + " photographs dated"
    return ""


def write_report(state: dict, results: Path) -> str:
    """Write scale.md and scale.png under `results`; returns the markdown."""
    rows = sorted(state["stages"].values(), key=lambda r: (r["size"], r["backend"] != "sqlite", r["at"]))
    lines = ["# benchmarks/scale.py: the pipeline on one archive of N records", "",
             f"Machine: {_machine()}. Shared with other engineers' jobs: the load average (1 min) at each stage's",
             "start is in the table. CPU s is the stage's own processes (getrusage), less moved by the load than wall s.",
             "", "| records | backend | stage | wall s | CPU s | µs/record (wall) | peak RSS MB | DB MB | load | notes |",
             "|--:|:--|:--|--:|--:|--:|--:|--:|--:|:--|"]
    for r in rows:
        lines.append(f"| {r['size']:,} | {r['backend']} | {r['stage']} | {r['seconds']:.1f} | {r['cpu_s']:.1f} | "
                     f"{1e6 * r['seconds'] / r['size']:.0f} | {r['rss_mb']:.0f} | {r.get('db_mb', '')} | {r['load']} | "
                     f"{_extra(r)} |")
    if "model" in state:
        m = state["model"]
        lines += ["", f"date-undated's model: test_efficientnet, 1 epoch at 64 px on {m['trained_on']} "
                      f"({m['seconds']:.0f} s); its speed is the pass's, not the model's quality."]
    lines += ["", "## Growth: time per record at the largest size over the smallest (target <= 1.5)", "",
              "CPU s is the fairer ratio on a shared machine; each stage's start-up (imports) weighs more at small sizes.",
              "With three sizes or more, the last column leaves the start-up out: the CPU each further record costs from the",
              "second size to the largest, over what it costs from the smallest to the second.",
              "", "| backend | stage | sizes | ratio (wall) | ratio (CPU) | ratio (CPU, marginal) |",
              "|:--|:--|:--|--:|--:|--:|"]
    by_stage: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by_stage.setdefault((r["backend"], r["stage"]), []).append(r)
    for (backend, stage), runs in by_stage.items():
        if len(runs) < 2 or stage == "records":  # /records: per page, in its own table below
            continue
        small, large = runs[0], runs[-1]
        ratio = (large["seconds"] / large["size"]) / (small["seconds"] / small["size"])
        cpu = (large["cpu_s"] / large["size"]) / max(small["cpu_s"] / small["size"], 1e-9)
        marginal = ""
        if len(runs) >= 3 and runs[1]["cpu_s"] > runs[0]["cpu_s"]:
            late = (runs[-1]["cpu_s"] - runs[1]["cpu_s"]) / (runs[-1]["size"] - runs[1]["size"])
            early = (runs[1]["cpu_s"] - runs[0]["cpu_s"]) / (runs[1]["size"] - runs[0]["size"])
            marginal = f"{late / early:.2f}{' (over)' if late / early > FLAT else ''}"
        lines.append(f"| {backend} | {stage} | {small['size']:,} -> {large['size']:,} | {ratio:.2f}"
                     f"{' (over)' if ratio > FLAT else ''} | {cpu:.2f}{' (over)' if cpu > FLAT else ''} | {marginal} |")
    lines += ["", "## Issue 21's targets at 1,000,000 records", "",
              "Where 1M was not run, both figures are extrapolated from the marginal cost between the two largest sizes.",
              "export's target is for a manifest of 1M rows: export (files resized) ran on the archive with a picture in 10;",
              "manifest (export --no-copy) on the one with a picture per record. Their rows are in the table above.",
              "", "| stage | target | largest size run | measured: wall s, CPU s, RSS | at 1M: wall s, CPU s |",
              "|:--|:--|--:|--:|:--|"]
    for (stage, backend), (seconds, rss) in TARGETS.items():
        runs = by_stage.get((backend, stage))
        if not runs:
            continue
        last = runs[-1]
        target = f"< {seconds} s" + (f", < {rss} MB" if rss else "")
        lines.append(f"| {stage} | {target} | {last['size']:,} | {last['seconds']:.1f} s, {last['cpu_s']:.1f} s, "
                     f"{last['rss_mb']:.0f} MB | {_at_million(runs, 'seconds')}, {_at_million(runs, 'cpu_s')} |")
    lines += ["", "/records is a page, not a pass over the archive: its target is < 300 ms p95 per page whatever the size.", "",
              "| records | backend | pages | p95 ms | slowest ms (sort/filter/page) |", "|--:|:--|--:|--:|:--|"]
    lines += [f"| {r['size']:,} | {r['backend']} | {r['pages']} | {r['p95_ms']:.0f} | {r['max_ms']:.0f} ({r['slowest']}) |"
              for r in rows if r["stage"] == "records"]
    text = "\n".join(lines) + "\n"
    results.mkdir(parents=True, exist_ok=True)
    (results / "scale.md").write_text(text, encoding="utf-8")
    _plot(by_stage, results / "scale.png")
    return text


def _at_million(runs: list[dict], field: str) -> str:
    """`field` at 1M records: measured, or the two largest sizes' marginal cost carried on (start-up not multiplied)."""
    last = runs[-1]
    if last["size"] >= 1_000_000:
        return f"{last[field]:.0f} s (measured)"
    if len(runs) == 1:
        return f"{last[field] * 1_000_000 / last['size']:.0f} s (linear)"
    prev = runs[-2]
    slope = (last[field] - prev[field]) / (last["size"] - prev["size"])
    return f"~{last[field] + slope * (1_000_000 - last['size']):.0f} s"


def _plot(by_stage: dict, path: Path) -> None:
    from matplotlib import cm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    colours = iter(cm.tab20.colors)
    for (backend, stage), runs in sorted(by_stage.items()):
        if stage == "records":  # a page's time, not a pass over the archive: its own table
            continue
        sizes = [r["size"] for r in runs]
        per_record = [1e6 * r["cpu_s"] / r["size"] for r in runs]
        ax.plot(sizes, per_record, marker="o", linestyle="-" if backend == "sqlite" else "--", color=next(colours),
                label=f"{stage} ({backend})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("records in the archive")
    ax.set_ylabel("CPU µs per record (the stage's processes)")
    ax.set_title("CPU time per record against archive size (flat or falling: no stage grows faster than the archive)",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=2, frameon=False)
    fig.savefig(path)
