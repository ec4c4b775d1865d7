"""Run a README section's console commands for real and compare what they print with what the README shows.

    python -m scripts.readme_run                          # "Dating your own photographs" (about 3 CPU-minutes)
    python -m scripts.readme_run --write                  # ... and put the fresh outputs into README.md
    python -m scripts.readme_run --section "The pipeline, one command at a time" --only balance-report

The commands run one after another in a scratch folder, as a person would type them from the project
folder: `cli.py` is the project's, `../shared` is the project's sibling (the real photographs), and what
they write (data/, runs/) stays in the scratch folder. Outputs are compared after numbers, times and paths
of the scratch folder are made alike, so a drifted message or a missing line shows, not a new timing.
`tests/test_readme.py` (part of `make test`) checks every README command against the CLI without running it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.readme import README, ROOT, Shown, console_blocks

DEFAULT_SECTION = "Dating your own photographs"


def shape(line: str) -> str:
    """A line with its numbers made alike, so only words and layout are compared.

    >>> shape("Imported 200 files: 3.5 s") == shape("Imported 199 files: 12.25 s")
    True
    """
    return re.sub(r"\s+", " ", re.sub(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?", "N", line)).strip()


def run(shown: Shown, workdir: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run one README command in `workdir`; returns its exit status and the lines it printed (stdout, stderr)."""
    command = shown.command.replace("python cli.py", f"{shlex.quote(sys.executable)} cli.py")
    done = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", default=DEFAULT_SECTION, help="the README's `##` heading to run")
    parser.add_argument("--only", action="append", default=[],
                        help="run only commands with this word (repeatable); earlier ones are still run")
    parser.add_argument("--write", action="store_true", help="replace the README's outputs with the fresh ones")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="the folder the README calls ../shared (real-photos/ inside) [default: %(default)s]")
    args = parser.parse_args(argv)
    blocks = console_blocks(args.section)
    if not blocks:
        print(f"No console commands under '## {args.section}' in {README}.", file=sys.stderr)
        return 2
    text = README.read_text(encoding="utf-8").splitlines()
    drifted, replacements = 0, []
    with tempfile.TemporaryDirectory(prefix="fotofecha-readme-") as scratch:
        workdir = Path(scratch) / "project"
        workdir.mkdir()
        (workdir / "cli.py").symlink_to(ROOT / "cli.py")
        if args.shared.is_dir():
            (Path(scratch) / "shared").symlink_to(args.shared.resolve())
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1", "COLUMNS": "200"}
        for shown in blocks:
            words = shlex.split(shown.command, comments=True)
            if words[:1] == ["export"]:
                env.update(word.split("=", 1) for word in words[1:] if "=" in word)
                continue
            if {"serve", "replica"} & set(words):
                print(f"$ {shown.command}\n[not run: it serves until Ctrl-C]\n")
                continue
            status, lines = run(shown, workdir, env)
            printed = [line.replace(str(workdir) + "/", "") for line in lines if not line.startswith("Plot: ")]
            wanted = [line for line in shown.output if line.strip()]
            same = [shape(line) for line in printed] == [shape(line) for line in wanted]
            verdict = "as in the README" if same else f"DIFFERS from README lines {shown.first}-{shown.last}"
            if not args.only or any(word in shown.command for word in args.only):
                print(f"$ {shown.command}\n" + "\n".join(printed) + f"\n[exit {status}; {verdict}]\n", flush=True)
            drifted += not same or status != 0
            if not same:
                replacements.append((shown, printed))
    if args.write:
        for shown, printed in sorted(replacements, key=lambda item: -item[0].first):
            text[shown.first - 1: shown.last] = printed
        README.write_text("\n".join(text) + "\n", encoding="utf-8")
        print(f"wrote {len(replacements)} fresh output(s) into {README}")
    return 1 if drifted and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
