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
  (phash, trimmed, 8 orientations, and upright only as `dedupe --no-transforms` hashes) against
  imagededup's PHash().encode_images. Wall seconds and CPU seconds (the process and its workers).
- search: near-duplicate pairs within 8 bits among N upright phash-like hashes: fotofecha's
  dataset.nearest.pairs_within against faiss's exact binary indexes (IndexBinaryFlat range search;
  IndexBinaryHash and IndexBinaryMultiHash with a range search, exact at that radius).
- oai: a metadata-only OAI-PMH harvest of --oai-records records from the loopback replica
  (image links stripped, as in bench_oai.py): `cli.py crawl --oai` against a minimal Sickle script
  writing identifier, title and date to SQLite with executemany per page. A measurement only.
Rounds alternate the order (A then B, B then A, ...); the table gives the median of the rounds and
each ratio is peer time / fotofecha time (above 1: fotofecha is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS_PYTHON = Path(os.environ.get("FOTOFECHA_PEERS_PYTHON", "/work/peers/venv/bin/python"))
TMP = Path(os.environ.get("TMPDIR", "/tmp"))


# ---------------------------------------------------------------- children: one measured run each, JSON on stdout

def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _files(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).rglob("*.jpg"))


def child_hash_fotofecha(folder: str, workers: int, orientations: bool) -> dict:
    sys.path.insert(0, str(ROOT))
    from dataset.hashing import hash_paths

    jobs = [(k, path, ("phash",)) for k, path in enumerate(_files(folder))]
    cpu, start = _cpu_seconds(), time.perf_counter()
    hashed = sum(1 for batch in hash_paths(jobs, workers=workers, orientations=orientations)
                 for _, picture, _ in batch if picture is not None)
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "items": hashed}


def child_hash_imagededup(folder: str, workers: int) -> dict:
    from imagededup.methods import PHash

    phash = PHash(verbose=False)
    cpu, start = _cpu_seconds(), time.perf_counter()
    hashes = phash.encode_images(image_dir=folder, recursive=True, num_enc_workers=workers)
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "items": len(hashes)}


CHILDREN = {"hash-fotofecha": child_hash_fotofecha, "hash-imagededup": child_hash_imagededup}


def run_child(python: Path, name: str, *args) -> dict:
    """One measured run in a fresh interpreter; {"error": ...} when it fails (the peer is missing, say)."""
    command = [str(python), str(Path(__file__).resolve()), "--child", name, *(json.dumps(a) for a in args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def importable(python: Path, module: str) -> str | None:
    """None when `module` imports in `python`, else why not."""
    if not python.exists():
        return f"no interpreter at {python}"
    done = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["import failed"])[-1]


# ---------------------------------------------------------------- the comparisons

def alternate(rounds: int, runs: dict[str, callable]) -> dict[str, list[dict]]:
    """Each run once per round, the order reversed every other round."""
    names = list(runs)
    out: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            out[name].append(runs[name]())
    return out


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def hash_sets(synthetic: int, large: int) -> list[tuple[str, str, Path]]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.photos import DEFAULT_DIR, ensure_large_real, ensure_photos, real_photos

    photos = ensure_photos(synthetic, DEFAULT_DIR)
    folder = TMP / f"fotofecha-bench-synthetic-{synthetic}"  # exactly these files: imagededup reads a folder
    folder.mkdir(exist_ok=True)
    for path in photos:
        if not (folder / path.name).exists():
            (folder / path.name).symlink_to(path)
    large_folder = TMP / f"fotofecha-bench-real-large-{large}"
    ensure_large_real(large, large_folder)
    small = real_photos()
    return [("synthetic", f"{synthetic} replica photographs, 1280x960 (1.2 MP)", folder),
            ("real-large", f"{large} real photographs upscaled to 0.4-23.5 MP (temporary folder {large_folder})",
             large_folder),
            ("real-small", f"{len(small)} real photographs as they are, 600-640 px (0.27 MP)", small[0].parent.parent)]


def compare_hash(args, lines: list[str]) -> None:
    missing = importable(args.peers_python, "imagededup.methods")
    lines += ["## Perceptual hashing, 2 workers, start-up excluded", ""]
    if missing:
        lines += [f"imagededup not importable ({missing}): only fotofecha measured.", ""]
    lines += ["| set | tool | images | wall s | img/s | CPU ms/img | imagededup / tool, wall | imagededup / tool, CPU |",
              "|:--|:--|--:|--:|--:|--:|--:|--:|"]
    sets = hash_sets(args.synthetic, args.large)
    for name, label, folder in sets:
        ours = partial(run_child, Path(sys.executable), "hash-fotofecha", str(folder), args.workers)
        runs = {"fotofecha (phash, trimmed, 8 orientations)": partial(ours, True),
                "fotofecha --no-transforms (phash, trimmed, upright)": partial(ours, False)}
        if not missing:
            runs["imagededup PHash().encode_images"] = partial(
                run_child, args.peers_python, "hash-imagededup", str(folder), args.workers)
        results = alternate(args.rounds, runs)
        failed = [f"{tool}: {r['error']}" for tool, rs in results.items() for r in rs if "error" in r]
        if failed:
            raise SystemExit(f"a hashing run failed: {failed[0]}")
        peer = results.get("imagededup PHash().encode_images")
        print(f"{name}: {label}", file=sys.stderr)
        for tool, rs in results.items():
            items, wall, cpu = rs[0]["items"], median(rs, "wall"), median(rs, "cpu")
            ratio_wall = f"{median(peer, 'wall') / wall:.1f}x" if peer else "-"
            ratio_cpu = f"{median(peer, 'cpu') / cpu:.1f}x" if peer else "-"
            lines.append(f"| {name} | {tool} | {items} | {wall:.2f} | {items / wall:.0f} | {1000 * cpu / items:.2f} | "
                         f"{ratio_wall} | {ratio_cpu} |")
            print(f"  {tool}: walls {[round(r['wall'], 2) for r in rs]}, cpus {[round(r['cpu'], 2) for r in rs]}",
                  file=sys.stderr)
    lines += ["", "Sets: " + "; ".join(f"{name}: {label}" for name, label, _ in sets) + ".", ""]


def machine_line() -> str:
    sys.path.insert(0, str(ROOT))
    from benchmarks.photos import machine

    return machine()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](*(json.loads(a) for a in sys.argv[3:]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="hash,search,oai", help="comma-separated: hash, search, oai")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds, order alternated (at least 3)")
    parser.add_argument("--workers", type=int, default=2, help="hashing processes for every tool")
    parser.add_argument("--synthetic", type=int, default=400, help="synthetic 1.2 MP photographs")
    parser.add_argument("--large", type=int, default=60, help="real photographs upscaled to 0.4-23.5 MP")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON, help="the interpreter with the peers")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_peers.md")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: one round cannot tell a tool from the load beside it")
    lines = ["# fotofecha against its peers (benchmarks/bench_peers.py)", "", f"Before: {machine_line()}", ""]
    wanted = args.only.split(",")
    if "hash" in wanted:
        compare_hash(args, lines)
    lines += [f"After: {machine_line()}", "",
              f"Command: {' '.join([Path(sys.executable).name, 'benchmarks/bench_peers.py', *sys.argv[1:]])}"]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
