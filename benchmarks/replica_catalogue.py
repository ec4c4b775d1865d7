"""What the replica's catalogue says about the year: title forms, descriptions, holders, and each source's MAE.

    .venv/bin/python benchmarks/replica_catalogue.py --records 2000 --seed 0

Reads the replica's ground truth only (no crawl, no model): how many titles name a date and how,
how many records have a description, the holders by kind, and the mean absolute error (years, against
the year the picture shows) of simple readings of each source, as a yardstick for the evidence models:
the constant median (and mean) year; the date a title names (middle of the range db.dates reads, where it names
one); the mean year of the other records of the same holder, or of the same place (leave one out,
the median when there are none). Writes benchmarks/results/replica_catalogue.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.replica import build_archive  # noqa: E402
from db.dates import parse_date  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "replica_catalogue.md"


def _leave_one_out(keys: list[str | None], years: list[int], fallback: float) -> list[float]:
    """Each record's estimate: the mean year of the other records with its key, else `fallback`."""
    total, count = defaultdict(float), Counter()
    for key, year in zip(keys, years, strict=True):
        total[key] += year
        count[key] += 1
    return [(total[k] - y) / (count[k] - 1) if k is not None and count[k] > 1 else fallback
            for k, y in zip(keys, years, strict=True)]


def _mae(estimates: list[float], years: list[int]) -> float:
    return sum(abs(e - y) for e, y in zip(estimates, years, strict=True)) / len(years)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records of the replica (the demo's: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the replica")
    args = parser.parse_args()
    archive = build_archive(args.records, seed=args.seed)
    records = archive.records
    years = [r.true_year for r in records]
    median = statistics.median(years)
    lines = [f"# The replica's catalogue as evidence ({args.records} records, seed {args.seed})", "",
             f"`python benchmarks/replica_catalogue.py --records {args.records} --seed {args.seed}` on "
             f"{platform.node()} ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start: other "
             "work was running; the numbers below do not depend on it).", "",
             "## Title forms", "", "| form | records | share |", "|---|---:|---:|"]
    forms = Counter(r.text.title_form for r in records)
    lines += [f"| {form} | {n} | {n / len(records):.1%} |" for form, n in forms.most_common()]
    described = [r for r in records if "Descripción" in r.fields]
    dated_descriptions = sum(r.text.description_date is not None for r in described)
    lines += ["", f"Descriptions: {len(described)} of {len(records)} records ({len(described) / len(records):.1%}); "
              f"{dated_descriptions} of them name a date.", "", "## Holders", "",
              "| kind | holders | records | records per holder (median) | span in years (median) |",
              "|---|---:|---:|---:|---:|"]
    per_holder = Counter(r.holder.name for r in records)
    by_kind = defaultdict(list)
    for holder in archive.holders().values():
        by_kind[holder.kind].append(holder)
    for kind, holders in sorted(by_kind.items()):
        counts = [per_holder[h.name] for h in holders]
        spans = [h.last_year - h.first_year for h in holders]
        lines.append(f"| {kind} | {len(holders)} | {sum(counts)} | {statistics.median(counts):g} | "
                     f"{statistics.median(spans):g} |")
    title_estimates = []
    for record in records:
        if record.text.title_form == "event":
            title_estimates.append(float(record.text.event_year))
        elif record.text.title_date is not None:
            stated = parse_date(record.text.title_date)
            title_estimates.append((stated.year_min + stated.year_max) / 2)
        else:
            title_estimates.append(None)
    named = [(e, y) for e, y in zip(title_estimates, years, strict=True) if e is not None]
    shown_holder = [r.fields.get("Titular") for r in records]
    shown_place = [r.fields["Lugar"].removesuffix(" (La Rioja)") if "Lugar" in r.fields else None for r in records]
    lines += ["", "## Each source alone (MAE in years against the picture's year)", "",
              "| source | records it speaks for | MAE there | MAE over all (median where silent) |",
              "|---|---:|---:|---:|",
              f"| constant median year ({median:g}) | {len(records)} | {_mae([median] * len(years), years):.1f} | "
              f"{_mae([median] * len(years), years):.1f} |",
              f"| constant mean year, the others' (what a mean says with no key) | {len(records)} | "
              f"{_mae(_leave_one_out(['all'] * len(years), years, median), years):.1f} | "
              f"{_mae(_leave_one_out(['all'] * len(years), years, median), years):.1f} |",
              f"| date named in the title | {len(named)} | {_mae(*zip(*named, strict=True)):.1f} | "
              f"{_mae([median if e is None else e for e in title_estimates], years):.1f} |"]
    for name, keys in (("holder's other records", shown_holder), ("place's other records", shown_place)):
        estimates = _leave_one_out(keys, years, median)
        spoken = [(e, y) for e, y, k in zip(estimates, years, keys, strict=True) if k is not None]
        lines.append(f"| {name} (mean) | {len(spoken)} | {_mae(*zip(*spoken, strict=True)):.1f} | "
                     f"{_mae(estimates, years):.1f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
