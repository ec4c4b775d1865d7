"""balance-report before and after a change, A/B alternated rounds on one archive: CPU seconds and peak RSS.

    git archive <before-commit> | tar -x -C /tmp/before
    .venv/bin/python benchmarks/scale_balance_ab.py --before /tmp/before --db sqlite:////tmp/fotofecha-scale/100000/archive.db

Each round runs `cli.py balance-report` from the old tree, then from this one, in fresh processes; the
outputs must be the same. CPU seconds and peak RSS come from GNU time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(tree: Path, db: str) -> tuple[float, float, str]:
    """CPU seconds, peak RSS MB and stdout of one `cli.py balance-report` from `tree` (GNU time measures it)."""
    done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", sys.executable, str(tree / "cli.py"), "balance-report",
                           "--db", db], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    user, system, rss_kb = done.stderr.strip().splitlines()[-1].split()
    return float(user) + float(system), int(rss_kb) / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code before the change")
    parser.add_argument("--db", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.db}, load average {os.getloadavg()[0]:.2f}\n\n| round | tree | CPU s | peak RSS MB |\n|--:|:--|--:|--:|")
    outputs = set()
    for n in range(1, args.rounds + 1):
        for name, tree in (("before", args.before), ("after", ROOT)):
            cpu, rss, out = run(tree, args.db)
            outputs.add(out)
            print(f"| {n} | {name} | {cpu:.2f} | {rss:.0f} |", flush=True)
    print(f"\nOutputs identical: {len(outputs) == 1}")


if __name__ == "__main__":
    main()
