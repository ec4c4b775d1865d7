"""fotofecha against the tools a user would pick instead, side by side in one run, A/B alternated.

    .venv/bin/python benchmarks/bench_peers.py                       # every comparison, 3 rounds
    .venv/bin/python benchmarks/bench_peers.py --only hash --rounds 5 --out benchmarks/results/bench_peers.md

Installs nothing. Each peer runs in its own interpreter, --peers-python (default /work/peers/venv/bin/python,
or $FOTOFECHA_PEERS_PYTHON), and is skipped with a line saying so when it cannot be imported there. Make
that interpreter once, outside the project's venv (imagededup pulls in torch and would pin old packages):

    python3.11 -m venv /work/peers/venv
    /work/peers/venv/bin/pip install imagededup sickle faiss-cpu

Comparisons (each a child process per run, so one tool's memory and imports never help the other):
- hash: perceptual hashing of three sets, 2 workers each, start-up (interpreter, imports) excluded:
  synthetic (replica photographs upscaled to 1280x960, 1.2 MP), real-large (the real photographs of
  shared/real-photos upscaled to 0.4..23.5 MP, log-spaced, grain added; written once to a temporary
  folder), real-small (the 200 real photographs as they are, 0.27 MP). fotofecha's dataset.hashing
  (phash, trimmed, 8 orientations; upright only as `dedupe --no-transforms` hashes; the whole picture,
  upright, as `dedupe --no-trim --no-transforms` hashes) against
  imagededup's PHash().encode_images. Wall seconds and CPU seconds (the process and its workers).
- steps: CPU per image of each step of fotofecha's hashing in one process (decode at the hash's size,
  trim, phash in 8 orientations), beside imagededup's decode and resize done the same way in Pillow.
- agree: how far fotofecha's upright phash (whole as --no-trim stores it, trimmed as stored by default) lies from imagehash.phash
  of the fully decoded file and from imagededup's PHash (which differs from imagehash by definition: its
  median leaves out the DC term, a bit is set at >= the median, and it shrinks in colour before going grey).
- search: near-duplicate pairs within 8 bits among N uniform random 64-bit hashes, 1% planted pairs: fotofecha's
  dataset.nearest.pairs_within against faiss's exact binary index (IndexBinaryFlat range search,
  one thread, as fotofecha's search).
- oai: a metadata-only OAI-PMH harvest of each of --oai-sizes records (20,000 and 100,000) from the
  loopback replica (image links stripped, as in bench_oai.py, pages of 100): `cli.py crawl --oai`
  (dates parsed, content hashes, incremental state, rows for failures) against a minimal Sickle
  script writing identifier, title and date to SQLite with executemany per page. Records/s, CPU per
  record and peak RSS of each (fotofecha's sampled every 50 ms, Sickle's ru_maxrss).
Rounds alternate the order (A then B, B then A, ...); the table gives the median of the rounds and
each ratio is peer time / fotofecha time (above 1: fotofecha is faster).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, for benchmarks.peers

from benchmarks.peers import hashing, oai, search  # noqa: E402
from benchmarks.peers.common import PEERS_PYTHON, ROOT, machine_line  # noqa: E402

CHILDREN = {**hashing.CHILDREN, **search.CHILDREN, **oai.CHILDREN}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](*(json.loads(a) for a in sys.argv[3:]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="hash,steps,agree,search,oai",
                        help="comma-separated: hash, steps, agree, search, oai")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds, order alternated (at least 3)")
    parser.add_argument("--workers", type=int, default=2, help="hashing processes for every tool")
    parser.add_argument("--synthetic", type=int, default=400, help="synthetic 1.2 MP photographs")
    parser.add_argument("--large", type=int, default=60, help="real photographs upscaled to 0.4-23.5 MP")
    parser.add_argument("--search-sizes", type=lambda text: [int(n) for n in text.split(",")], default=[20_000, 50_000],
                        help="comma-separated hash counts for the search comparison")
    parser.add_argument("--oai-sizes", type=lambda text: [int(n) for n in text.split(",")], default=[20_000, 100_000],
                        help="comma-separated replica sizes (records) for the OAI harvest")
    parser.add_argument("--oai-floor", action="store_true", help="also the floor of a Scrapy harvest (peers/oai.py)")
    parser.add_argument("--baseline", type=Path, help="an older checkout of fotofecha to hash beside this one "
                        "(e.g. git archive COMMIT | tar -x -C DIR)")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON, help="the interpreter with the peers")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_peers.md")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: one round cannot tell a tool from the load beside it")
    lines = ["# fotofecha against its peers (benchmarks/bench_peers.py)", "", f"Before: {machine_line()}", ""]
    wanted = args.only.split(",")
    if "hash" in wanted:
        hashing.compare_hash(args, lines)
    if "steps" in wanted:
        hashing.step_costs(args, lines)
    if "agree" in wanted:
        hashing.compare_agreement(args, lines)
    if "search" in wanted:
        search.compare_search(args, lines)
    if "oai" in wanted:
        oai.compare_oai(args, lines)
    lines += [f"After: {machine_line()}", "",
              f"Command: {' '.join([Path(sys.executable).name, 'benchmarks/bench_peers.py', *sys.argv[1:]])}"]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
