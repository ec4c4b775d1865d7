"""bench_peers.py's hashing parts: fotofecha's dataset.hashing against imagededup, where the time goes, agreement."""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

from benchmarks.peers.common import (
    ROOT,
    TMP,
    alternate,
    cpu_seconds,
    importable,
    jpeg_files,
    median,
    run_child,
)


def child_hash_fotofecha(folder: str, workers: int, orientations: bool, root: str = str(ROOT),
                         trim: bool = True) -> dict:
    """dataset.hashing.hash_paths of the checkout at `root` (this one, or --baseline's older tree)."""
    sys.path.insert(0, root)
    from dataset.hashing import hash_paths

    jobs = [(k, path, ("phash",)) for k, path in enumerate(jpeg_files(folder))]
    options = {"orientations": orientations} if not orientations else {}  # a baseline may predate the options
    if not trim:
        options["trim"] = False
    cpu, own, start = cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
    hashed = 0
    for result in hash_paths(jobs, workers=workers, **options):
        batch = result if isinstance(result, list) else [result]  # a baseline may yield one result at a time
        hashed += sum(1 for _, picture, _ in batch if picture is not None)
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "items": hashed,
            "cpu_self": _own_cpu_seconds() - own}


def _own_cpu_seconds() -> float:
    """CPU of this process alone (its forks' CPU is cpu_seconds() less this)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def child_hash_imagededup(folder: str, workers: int) -> dict:
    from imagededup.methods import PHash

    phash = PHash(verbose=False)
    cpu, start = cpu_seconds(), time.perf_counter()
    hashes = phash.encode_images(image_dir=folder, recursive=True, num_enc_workers=workers)
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "items": len(hashes)}


def child_phash_imagededup(folder: str) -> dict:
    """imagededup's phash of every file (one process): for the agreement table, not timed."""
    from imagededup.methods import PHash

    phash = PHash(verbose=False)
    return {"hashes": {path: phash.encode_image(image_file=path) for path in jpeg_files(folder)}}


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
    balance = []
    if missing:
        lines += [f"imagededup not importable ({missing}): only fotofecha measured.", ""]
    lines += ["| set | tool | images | wall s | img/s | CPU ms/img | imagededup / tool, wall | imagededup / tool, CPU |",
              "|:--|:--|--:|--:|--:|--:|--:|--:|"]
    sets = hash_sets(args.synthetic, args.large)
    for name, label, folder in sets:
        ours = partial(run_child, Path(sys.executable), "hash-fotofecha", str(folder), args.workers)
        runs = {"fotofecha (phash, trimmed, 8 orientations)": partial(ours, True),
                "fotofecha --no-transforms (phash, trimmed, upright)": partial(ours, False),
                "fotofecha --no-transforms --no-trim (phash, whole picture, upright)": partial(
                    ours, False, str(ROOT), False)}
        if args.baseline:  # like for like with the peer: the whole picture, upright
            runs[f"fotofecha before ({args.baseline.name}) --no-transforms --no-trim"] = partial(
                run_child, Path(sys.executable), "hash-fotofecha", str(folder), args.workers, False, str(args.baseline),
                False)
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
            if "cpu_self" in rs[0]:
                middle = sorted(rs, key=lambda r: r["wall"])[len(rs) // 2]
                balance.append(f"| {name} | {tool} | {middle['wall']:.3f} | {middle['cpu_self']:.3f} | "
                               f"{middle['cpu'] - middle['cpu_self']:.3f} | "
                               f"{100 * middle['cpu'] / (args.workers * middle['wall']):.0f}% |")
    lines += ["", "Sets: " + "; ".join(f"{name}: {label}" for name, label, _ in sets) + ".", ""]
    lines += ["### Balance of fotofecha's runs (the round of median wall time)", "",
              f"| set | tool | wall s | CPU s, calling process | CPU s, its forks | busy share of {args.workers} x wall |",
              "|:--|:--|--:|--:|--:|--:|", *balance, "",
              "A busy share below 100% is time a worker sat idle (waiting for another's last batch) or the "
              "machine gave to other work.", ""]


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
        hash_batch,
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

    def floor_decode(path: str) -> Image.Image:
        with Image.open(path) as img:
            img.draft("L", (PHASH_SIDE, PHASH_SIDE))
            return img.convert("L")

    def floor(path: str) -> np.ndarray:
        return np.asarray(floor_decode(path).resize((PHASH_SIDE, PHASH_SIDE), RESAMPLE))

    lines += ["## Where the time goes: CPU ms per image, one process (least of the rounds)", "",
              "| set | decode in colour at the hash's size | grey | trim: reduced copies | trim: border search | "
              "32x32 resize | DCT, medians, 8 orientations | fotofecha total | imagededup's whole decode + 32x32 resize "
              "| that / fotofecha | floor: grey decode at 1/8, resize, DCT | imagededup / floor "
              "| fotofecha --no-trim --no-transforms (hash_batch) | imagededup / that "
              "| flat outer line at the 1/8 grey decode | trimmed by default "
              "| default with trimming free (colour decode, grey, resize, DCT) | imagededup / that |",
              "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    sets = [("synthetic", sorted(str(p) for p in DEFAULT_DIR.glob("photo_*.jpg"))[: min(args.synthetic, 200)]),
            ("real-large", jpeg_files(str(TMP / f"fotofecha-bench-real-large-{args.large}"))),
            ("real-small", jpeg_files(str(REAL_DIR)))]
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
        plain, _ = cpu_ms(lambda batch: hash_batch([(p, ("phash",)) for p in batch], orientations=False, trim=False),
                          [files])
        plain /= len(files)  # one batch of the whole set
        flat = sum(has_flat_edge(np.asarray(floor_decode(p), dtype=np.float32)) for p in files) / len(files)
        cut = sum(trim_picture(g, lambda c=c: c)[1] is not None for g, c in pairs) / len(files)
        lines.append(f"| {name} | {decode:.2f} | {grey:.2f} | {reduce:.2f} | {trim - reduce:.2f} | {resize:.2f} | "
                     f"{dct:.2f} | {total:.2f} | {peer:.2f} | {peer / total:.1f}x | {least:.2f} | {peer / least:.1f}x | "
                     f"{plain:.2f} | {peer / plain:.1f}x | {100 * flat:.0f}% | {100 * cut:.0f}% | "
                     f"{total - trim:.2f} | {peer / (total - trim):.1f}x |")
    lines += ["", "trim: reduced copies is trim_picture's box reductions (grey, and colour where an edge is flat); "
              "border search is the rest of trim_picture. The floor hashes without trimming, upright only, from a "
              "greyscale 1/8-scale decode: its ratio is about the most any Pillow-based hashing could gain "
              "over imagededup in one process. The two --no-trim columns are dedupe --no-trim --no-transforms's own path "
              "(dataset.hashing.hash_batch, trim=False): that floor plus its per-file bookkeeping. The two shares: "
              "of pictures whose outermost row or column is flat at the 1/8 grey decode (trim.has_flat_edge), "
              "and of those dedupe trims by default. The last two: the default's own floor, its total without "
              "trimming (the colour decode at 128 px and the Lanczos resize are what its stored hashes are made "
              "from), and imagededup's cost over it: the most the default could gain if trimming cost nothing.", ""]


def compare_agreement(args, lines: list[str]) -> None:
    """Bits between fotofecha's upright phash (untrimmed, and trimmed as stored) and imagehash's / imagededup's."""
    sys.path.insert(0, str(ROOT))
    import imagehash
    import numpy as np
    from PIL import Image

    from dataset.hashing import hash_batch

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
        files = jpeg_files(str(folder))
        untrimmed = [picture.hashes["phash"][0]
                     for picture in hash_batch([(p, ("phash",)) for p in files], orientations=False, trim=False)]
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
        for label, ours in [("upright, whole picture (stored by --no-trim)", untrimmed),
                            ("upright, trimmed (stored by default)", trimmed)]:
            for against, reference in references.items():
                distance = np.array([bits(a, b) for a, b in zip(ours, reference, strict=True)])
                lines.append(f"| {name} | {label} | {against} | {len(files)} | {distance.mean():.2f} | "
                             f"{100 * (distance <= 2).mean():.0f}% | {distance.max()} |")
    lines.append("")


CHILDREN = {"hash-fotofecha": child_hash_fotofecha, "hash-imagededup": child_hash_imagededup,
            "phash-imagededup": child_phash_imagededup}
