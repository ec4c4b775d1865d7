"""Mutation testing (mutmut) of the core pure modules, each against only the tests that cover it.

Run:  python -m scripts.mutate            (or: make mutate; all modules, one after another)
      python -m scripts.mutate dataset/bins.py modeling/decode.py

For each module the repository is copied to a scratch folder whose pyproject.toml names that one file to
mutate and its test files, mutmut runs there (so the working tree is never touched), and the score
(killed / all mutants) is printed; `--survivors` also prints each surviving mutant's diff.
Not part of `make test`: it takes minutes per module.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module -> the test files that cover it. Doctests are left out: mutmut copies each function, docstring and
# all, so the doctest items it records name mutant copies that a later run cannot find (counted as kills).
MODULES: dict[str, tuple[str, ...]] = {
    "db/dates.py": ("tests/test_dates.py", "tests/test_dates_edges.py"),
    "dataset/bins.py": ("tests/test_bins.py", "tests/test_bin_edges.py"),
    "dataset/split.py": ("tests/test_split.py", "tests/test_bins.py"),
    "dataset/nearest.py": ("tests/test_nearest.py", "tests/test_nearest_cases.py", "tests/test_nearest_layout.py"),
    "modeling/decode.py": ("tests/test_decode.py", "tests/test_modeling_metrics.py", "tests/test_bin_edges.py"),
    "modeling/metrics.py": ("tests/test_modeling_metrics.py", "tests/test_metrics_cases.py"),
}
COPY = ("crawler", "db", "dataset", "modeling", "tests", "cli.py", "pyproject.toml")


def scratch_copy(module: str, tests: tuple[str, ...], where: Path) -> Path:
    """The repository's code and tests under `where`, configured to mutate `module` only."""
    for name in COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, where / name)
    package = module.split("/")[0]
    config = (f"\n[tool.mutmut]\nsource_paths = [{package!r}]\nonly_mutate = [{module!r}]\n"
              f"also_copy = {[n for n in COPY if n not in (package, 'tests', 'pyproject.toml')]!r}\n"
              f"pytest_add_cli_args_test_selection = {list(tests)!r}\n"
              f"pytest_add_cli_args = ['-p', 'no:cacheprovider', '-q', '-o', 'addopts=']\n")
    with (where / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(config.replace("'", '"'))
    return where


def mutate(module: str, max_children: int, show_survivors: bool) -> dict:
    """Run mutmut on one module; returns its counts from mutmut's CI/CD stats."""
    tests = MODULES[module]
    with tempfile.TemporaryDirectory(prefix="fotofecha-mutate-") as tmp:
        work = scratch_copy(module, tests, Path(tmp))
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        mutmut = [sys.executable, "-m", "mutmut"]
        subprocess.run([*mutmut, "run", "--max-children", str(max_children)], cwd=work, env=env,
                       stdout=subprocess.DEVNULL, check=False)
        subprocess.run([*mutmut, "export-cicd-stats"], cwd=work, env=env, stdout=subprocess.DEVNULL, check=True)
        stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
        if show_survivors:
            listing = subprocess.run([*mutmut, "results"], cwd=work, env=env, capture_output=True, text=True).stdout
            for line in listing.splitlines():
                name = line.strip().split(":")[0]
                if name and ("survived" in line or "no tests" in line or "timeout" in line):
                    print(subprocess.run([*mutmut, "show", name], cwd=work, env=env, capture_output=True,
                                         text=True).stdout)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help="Modules to mutate (default: all).")
    parser.add_argument("--max-children", type=int, default=2, help="Mutants tested at once.")
    parser.add_argument("--survivors", action="store_true", help="Print the diff of every surviving mutant.")
    args = parser.parse_args(argv)
    print(f"{'module':22} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} {'timeout':>7} {'score':>6}")
    for module in args.modules:
        s = mutate(module, args.max_children, args.survivors)
        killed = s["killed"] + s.get("timeout", 0) + s.get("suspicious", 0)
        score = killed / s["total"] if s["total"] else 1.0
        print(f"{module:22} {s['total']:>7} {s['killed']:>6} {s['survived']:>8} {s['no_tests']:>8} "
              f"{s.get('timeout', 0):>7} {score:>6.1%}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
