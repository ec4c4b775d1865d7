"""How often a run's 80% picture intervals hold the true year, measured on its --cv out-of-fold answers.

    .venv/bin/python benchmarks/picture_coverage.py --model runs/real-head [--out benchmarks/results/x.md]

The run must have been trained with `train --head-only --cv K` (oof.csv). Prints, and writes as markdown,
what the model card shows: photographs, coverage, mean width, and how many answers are "unsure" (interval
wider than UNSURE_WIDTH_YEARS), overall and per period of the true year.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modeling.answer import UNSURE_WIDTH_YEARS, period_of  # noqa: E402
from modeling.features.run import read_oof  # noqa: E402
from modeling.inference.dater import out_of_fold_coverage  # noqa: E402
from modeling.runs import read_run_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a run directory trained with --cv")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    args = parser.parse_args()
    oof = read_oof(args.model)
    if not oof:
        sys.exit(f"No oof.csv in {args.model}: train it with 'cli.py train --head-only --cv 5'.")
    config = read_run_config(args.model)
    edges, labels = config["bins"]["edges"], config["bins"]["labels"]
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in oof:
        groups["all"].append(row)
        groups[period_of(float(row["year"]), edges, labels)].append(row)
    lines = [f"# 80% picture intervals of {args.model.name}, measured on its out-of-fold answers", "",
             "| true period | photographs | coverage | mean width (years) | unsure |", "|---|---|---|---|---|"]
    for name in ["all", *labels]:
        rows = groups.get(name)
        if not rows:
            continue
        measured = out_of_fold_coverage(rows)
        unsure = sum(int(r["high"]) - int(r["low"]) > UNSURE_WIDTH_YEARS for r in rows)
        lines.append(f"| {name} | {measured['n']} | {100 * measured['coverage']:.0f}% | {measured['mean_width']:.1f} | "
                     f"{unsure} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
