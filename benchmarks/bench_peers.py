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
- steps: CPU per image of each step of fotofecha's hashing in one process (decode at the hash's size,
  trim, phash in 8 orientations), beside imagededup's decode and resize done the same way in Pillow.
- agree: how far fotofecha's upright phash (untrimmed, and trimmed as stored) lies from imagehash.phash
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
import os
import statistics
import subprocess
import sys
import tempfile
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


def child_hash_fotofecha(folder: str, workers: int, orientations: bool, root: str = str(ROOT)) -> dict:
    """dataset.hashing.hash_paths of the checkout at `root` (this one, or --baseline's older tree)."""
    sys.path.insert(0, root)
    from dataset.hashing import hash_paths

    jobs = [(k, path, ("phash",)) for k, path in enumerate(_files(folder))]
    options = {"orientations": orientations} if not orientations else {}  # a baseline may predate the option
    cpu, start = _cpu_seconds(), time.perf_counter()
    hashed = 0
    for result in hash_paths(jobs, workers=workers, **options):
        batch = result if isinstance(result, list) else [result]  # a baseline may yield one result at a time
        hashed += sum(1 for _, picture, _ in batch if picture is not None)
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "items": hashed}


def child_hash_imagededup(folder: str, workers: int) -> dict:
    from imagededup.methods import PHash

    phash = PHash(verbose=False)
    cpu, start = _cpu_seconds(), time.perf_counter()
    hashes = phash.encode_images(image_dir=folder, recursive=True, num_enc_workers=workers)
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "items": len(hashes)}


def child_phash_imagededup(folder: str) -> dict:
    """imagededup's phash of every file (one process): for the agreement table, not timed."""
    from imagededup.methods import PHash

    phash = PHash(verbose=False)
    return {"hashes": {path: phash.encode_image(image_file=path) for path in _files(folder)}}


def child_search_fotofecha(hashes_file: str, threshold: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from dataset.nearest import pairs_within

    hashes = np.load(hashes_file)
    cpu, start = _cpu_seconds(), time.perf_counter()
    i, _, _ = pairs_within(hashes, threshold)
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "items": len(hashes), "pairs": len(i)}


def child_search_faiss(hashes_file: str, threshold: int) -> dict:
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(1)  # as fotofecha's search: one core
    codes = np.load(hashes_file).astype(">u8").view(np.uint8).reshape(-1, 8)
    cpu, start = _cpu_seconds(), time.perf_counter()
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    limits, _, labels = index.range_search(codes, threshold + 1)  # faiss keeps distances < radius
    pairs = sum(int((labels[limits[q]:limits[q + 1]] > q).sum()) for q in range(len(codes)))
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "items": len(codes), "pairs": pairs}


def child_oai_sickle(base_url: str, db_path: str) -> dict:
    """The minimal harvester a user would write: Sickle, then identifier, title, date to SQLite, a page at a time."""
    import resource
    import sqlite3

    from sickle import Sickle

    cpu, start = _cpu_seconds(), time.perf_counter()
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS records (identifier TEXT PRIMARY KEY, title TEXT, date TEXT)")
    page, count = [], 0
    for record in Sickle(base_url).ListRecords(metadataPrefix="oai_dc", ignore_deleted=True):
        metadata = record.metadata
        page.append((record.header.identifier, (metadata.get("title") or [None])[0], (metadata.get("date") or [None])[0]))
        if len(page) == 100:
            db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", page)
            db.commit()
            count, page = count + len(page), []
    db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", page)
    db.commit()
    db.close()
    return {"wall": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "cpu_process": _cpu_seconds(),
            "items": count + len(page), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


CHILDREN = {"hash-fotofecha": child_hash_fotofecha, "hash-imagededup": child_hash_imagededup,
            "phash-imagededup": child_phash_imagededup, "search-fotofecha": child_search_fotofecha,
            "search-faiss": child_search_faiss, "oai-sickle": child_oai_sickle}


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
        if args.baseline:
            runs[f"fotofecha before ({args.baseline.name}: phash, trimmed, 8 orientations)"] = partial(
                run_child, Path(sys.executable), "hash-fotofecha", str(folder), args.workers, True, str(args.baseline))
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


def step_costs(args, lines: list[str]) -> None:
    """CPU ms per image of each step of fotofecha's hashing, one process, and of imagededup's decode and resize.

    Also a floor: the least any hashing that decodes with Pillow could do (greyscale decode at the 1/8
    DCT scale, the 32x32 resize, the DCT; no trimming, one orientation), to say what 5x would take.
    """
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from PIL import Image

    from benchmarks.photos import DEFAULT_DIR, REAL_DIR
    from dataset.hashing import (
        DECODE_SIDE,
        PHASH_SIDE,
        TRIM_SIDE,
        _low_frequencies,
        _reduced,
        phash_orientations,
        trim_picture,
    )
    from dataset.imageio import RESAMPLE, load_image
    from dataset.trim import has_flat_edge

    def cpu_ms(step, items) -> tuple[float, list]:
        best = None
        for _ in range(args.rounds):  # the least of the rounds: the load beside it only ever adds
            start = time.process_time()
            out = [step(item) for item in items]
            spent = 1000 * (time.process_time() - start) / len(items)
            best = spent if best is None else min(best, spent)
        return best, out

    def reductions(pair: tuple[Image.Image, Image.Image]) -> bool:  # trim_picture's reduced copies, not its search
        grey, colour = pair
        scale = min(1.0, TRIM_SIDE / min(grey.size))
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        flat = has_flat_edge(np.asarray(_reduced(grey, size), dtype=np.float32))
        if flat:
            np.asarray(_reduced(colour, size), dtype=np.float32)
        return flat

    def peer_pixels(path: str) -> np.ndarray:  # imagededup's load_image: whole decode, RGB resize to 32x32, then grey
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB").resize((PHASH_SIDE, PHASH_SIDE), Image.Resampling.LANCZOS).convert("L"))

    def floor(path: str) -> np.ndarray:
        with Image.open(path) as img:
            img.draft("L", (PHASH_SIDE, PHASH_SIDE))
            return np.asarray(img.convert("L").resize((PHASH_SIDE, PHASH_SIDE), RESAMPLE))

    lines += ["## Where the time goes: CPU ms per image, one process (least of the rounds)", "",
              "| set | decode in colour at the hash's size | grey | trim: reduced copies | trim: border search | "
              "32x32 resize | DCT, medians, 8 orientations | fotofecha total | imagededup's whole decode + 32x32 resize "
              "| that / fotofecha | floor: grey decode at 1/8, resize, DCT | imagededup / floor |",
              "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    sets = [("synthetic", sorted(str(p) for p in DEFAULT_DIR.glob("photo_*.jpg"))[: min(args.synthetic, 200)]),
            ("real-large", _files(str(TMP / f"fotofecha-bench-real-large-{args.large}"))),
            ("real-small", _files(str(REAL_DIR)))]
    for name, files in sets:
        if not files:
            continue
        decode, colours = cpu_ms(lambda p: load_image(p, mode="RGB", min_side=DECODE_SIDE), files)
        grey, greys = cpu_ms(lambda c: c.convert("L"), colours)
        pairs = list(zip(greys, colours, strict=True))
        reduce, _ = cpu_ms(reductions, pairs)
        trim, trimmed = cpu_ms(lambda pair: trim_picture(pair[0], lambda: pair[1])[0], pairs)
        resize, thumbnails = cpu_ms(lambda t: np.asarray(t.resize((PHASH_SIDE, PHASH_SIDE), RESAMPLE)), trimmed)
        dct, _ = cpu_ms(lambda stack: phash_orientations(_low_frequencies(stack)), [np.stack(thumbnails)])
        dct /= len(files)  # one batched call for the whole set, as hash_batch makes one per batch
        total = decode + grey + trim + resize + dct
        peer, _ = cpu_ms(peer_pixels, files)
        least, pixels = cpu_ms(floor, files)
        least_dct, _ = cpu_ms(lambda stack: phash_orientations(_low_frequencies(stack), False), [np.stack(pixels)])
        least += least_dct / len(files)
        lines.append(f"| {name} | {decode:.2f} | {grey:.2f} | {reduce:.2f} | {trim - reduce:.2f} | {resize:.2f} | "
                     f"{dct:.2f} | {total:.2f} | {peer:.2f} | {peer / total:.1f}x | {least:.2f} | {peer / least:.1f}x |")
    lines += ["", "trim: reduced copies is trim_picture's box reductions (grey, and colour where an edge is flat); "
              "border search is the rest of trim_picture. The floor hashes without trimming, upright only, from a "
              "greyscale 1/8-scale decode: its last column is about the most any Pillow-based hashing could gain "
              "over imagededup in one process.", ""]


def compare_agreement(args, lines: list[str]) -> None:
    """Bits between fotofecha's upright phash (untrimmed, and trimmed as stored) and imagehash's / imagededup's."""
    sys.path.insert(0, str(ROOT))
    import imagehash
    import numpy as np
    from PIL import Image

    from dataset.hashing import DECODE_SIDE, hash_batch, low_frequencies, phash_orientations
    from dataset.imageio import load_image

    def bits(a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    missing = importable(args.peers_python, "imagededup.methods")
    lines += ["## Agreement with the published phash, upright, on real photographs", "",
              "| set | fotofecha's hash | against | photographs | mean bits | within 2 bits | max bits |",
              "|:--|:--|:--|--:|--:|--:|--:|"]
    from benchmarks.photos import REAL_DIR, ensure_large_real

    large_folder = TMP / f"fotofecha-bench-real-large-{args.large}"
    for name, folder in [("real-small", REAL_DIR), ("real-large", large_folder)]:
        if name == "real-large":
            ensure_large_real(args.large, large_folder)
        files = _files(str(folder))
        untrimmed = [f"{int(phash_orientations(low_frequencies(load_image(p, 'L', DECODE_SIDE))[None], False)[0, 0]):016x}"
                     for p in files]
        trimmed = [picture.hashes["phash"][0] for picture in hash_batch([(p, ("phash",)) for p in files])]
        full = []
        for path in files:
            with Image.open(path) as img:
                full.append(str(imagehash.phash(img)))
        references = {"imagehash.phash (full decode)": full}
        if missing:
            lines.append(f"| {name} | - | imagededup not importable ({missing}) | | | | |")
        else:
            theirs = run_child(args.peers_python, "phash-imagededup", str(folder))["hashes"]
            references["imagededup PHash (its own definition)"] = [theirs[p] for p in files]
        for label, ours in [("upright, untrimmed", untrimmed), ("upright, trimmed (stored)", trimmed)]:
            for against, reference in references.items():
                distance = np.array([bits(a, b) for a, b in zip(ours, reference, strict=True)])
                lines.append(f"| {name} | {label} | {against} | {len(files)} | {distance.mean():.2f} | "
                             f"{100 * (distance <= 2).mean():.0f}% | {distance.max()} |")
    lines.append("")


def compare_search(args, lines: list[str]) -> None:
    import numpy as np

    missing = importable(args.peers_python, "faiss")
    lines += ["## Near-duplicate search, threshold 8, one core, uniform random hashes with planted pairs", ""]
    if missing:
        lines += [f"faiss not importable ({missing}): only fotofecha measured.", ""]
    lines += ["| hashes | tool | pairs | wall s | CPU s | faiss / tool, wall |", "|--:|:--|--:|--:|--:|--:|"]
    rng = np.random.default_rng(0)
    for n in args.search_sizes:
        hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
        copies = rng.choice(n, n // 100, replace=False)
        hashes[copies[1::2]] = hashes[copies[::2]][: len(copies[1::2])] ^ np.uint64(0b1011)  # 3 bits apart
        path = TMP / f"fotofecha-bench-hashes-{n}.npy"
        np.save(path, hashes)
        runs = {"fotofecha dataset.nearest.pairs_within": partial(
            run_child, Path(sys.executable), "search-fotofecha", str(path), 8)}
        if not missing:
            runs["faiss IndexBinaryFlat range_search"] = partial(run_child, args.peers_python, "search-faiss", str(path), 8)
        results = alternate(args.rounds, runs)
        peer = results.get("faiss IndexBinaryFlat range_search")
        for tool, rs in results.items():
            if any("error" in r for r in rs):
                raise SystemExit(f"a search run failed: {tool}: {rs[0].get('error')}")
            wall = median(rs, "wall")
            ratio = f"{median(peer, 'wall') / wall:.1f}x" if peer else "-"
            lines.append(f"| {n:,} | {tool} | {rs[0]['pairs']} | {wall:.3f} | {median(rs, 'cpu'):.3f} | {ratio} |")
    lines.append("")


def _serve_metadata(records: int, conn) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_oai import _serve

    _serve(records, 0, "metadata", conn)


def compare_oai(args, lines: list[str]) -> None:
    """Both harvesters against one replica per size, alternated; the replica is built before the first round."""
    missing = importable(args.peers_python, "sickle")
    sizes = ", ".join(f"{n:,}" for n in args.oai_sizes)
    lines += [f"## OAI-PMH metadata harvest, {sizes} records from the loopback replica", ""]
    if missing:
        lines += [f"Sickle not importable ({missing}): only fotofecha measured.", ""]
    lines += ["| records | tool | harvest s | records/s | whole process s | CPU ms/record (harvest) | "
              "CPU ms/record (process) | peak RSS MB | Sickle / tool, harvest (median of rounds) |",
              "|--:|:--|--:|--:|--:|--:|--:|--:|--:|"]
    for size in args.oai_sizes:
        lines += _oai_rows(args, size, missing)
    lines += ["", "Harvest s: fotofecha's from its own summary (start-up excluded), Sickle's timed inside its "
              "process after its imports. CPU (harvest): Sickle's after its imports (fotofecha's harvest alone is not "
              "measured apart from its start-up: see CPU (process), start-up included for both). The replica "
              "server runs beside them on the same cores. The ratio is the median over rounds of Sickle's harvest s "
              "over fotofecha's in the same round (above 1: fotofecha is faster).", ""]


def _oai_rows(args, size: int, missing: str | None) -> list[str]:
    import multiprocessing

    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_crawl import measure

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve_metadata, args=(size, child), daemon=True)
    server.start()
    base_url = parent.recv()

    def fotofecha() -> dict:
        with tempfile.TemporaryDirectory(prefix="bench_peers_oai_") as tmp:
            result = measure([sys.executable, str(ROOT / "cli.py"), "crawl", "--profile", "replica", "--oai",
                              f"{base_url}/oai", "--db", f"sqlite:///{Path(tmp) / 'archive.db'}", "--images-dir",
                              str(Path(tmp) / "images"), "--no-autothrottle", "--delay", "0", "--concurrency", "16"],
                             Path(tmp))
        return {"wall": result["elapsed"], "process": result["wall"], "cpu_process": result["cpu"],
                "items": result["records"], "peak_rss_mb": result["peak_rss_mb"]}

    def sickle() -> dict:
        with tempfile.TemporaryDirectory(prefix="bench_peers_sickle_") as tmp:
            started = time.perf_counter()
            result = run_child(args.peers_python, "oai-sickle", f"{base_url}/oai", str(Path(tmp) / "records.db"))
            result["process"] = time.perf_counter() - started
        return result

    runs = {"fotofecha cli.py crawl --oai": fotofecha}
    if not missing:
        runs["Sickle + sqlite3 executemany per page"] = sickle
    try:
        results = alternate(args.rounds, runs)
    finally:
        parent.send("stop")
        server.join(10)
    rows = []
    peer = results.get("Sickle + sqlite3 executemany per page")
    for tool, rs in results.items():
        if any("error" in r for r in rs):
            raise SystemExit(f"a harvest failed: {tool}: {rs[0].get('error')}")
        items, wall = rs[0]["items"], median(rs, "wall")
        ratio = f"{statistics.median(p['wall'] / r['wall'] for p, r in zip(peer, rs, strict=True)):.2f}x" if peer else "-"
        harvest_cpu = f"{1000 * median(rs, 'cpu') / items:.3f}" if "cpu" in rs[0] else "-"
        rows.append(f"| {items:,} | {tool} | {wall:.1f} | {items / wall:,.0f} | {median(rs, 'process'):.1f} | "
                    f"{harvest_cpu} | {1000 * median(rs, 'cpu_process') / items:.3f} | {max(r['peak_rss_mb'] for r in rs):.0f} | "
                    f"{ratio} |")
    return rows


def machine_line() -> str:
    sys.path.insert(0, str(ROOT))
    from benchmarks.photos import machine

    return machine()


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
        compare_hash(args, lines)
    if "steps" in wanted:
        step_costs(args, lines)
    if "agree" in wanted:
        compare_agreement(args, lines)
    if "search" in wanted:
        compare_search(args, lines)
    if "oai" in wanted:
        compare_oai(args, lines)
    lines += [f"After: {machine_line()}", "",
              f"Command: {' '.join([Path(sys.executable).name, 'benchmarks/bench_peers.py', *sys.argv[1:]])}"]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
