"""Peak memory and seconds to check, hash, export and predict archive-size scans (db.pixels policy).

    .venv/bin/python benchmarks/bench_pixels.py --megapixels 300 [--model runs/demo]

Writes a 300 MP JPEG, an uncompressed TIFF and an LZW TIFF into a temporary folder (deleted after),
then runs each step in a fresh process and reports its seconds and peak RSS (ru_maxrss), next to
the RSS the process had before the step (imports done). Linux's VmHWM is read, so each step's peak
is its own. Steps, as the pipeline runs them:
probe (import's check), hash (dedupe: phash + dhash), export (256 px JPEG copy), predict (decode at
the model's input size and date it; without --model only the decode at 224 px is timed).
Prints a markdown table; pass --out to also write it to a file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEPS = ("probe", "hash", "export", "predict")
FILES = {"JPEG (q90)": ("master.jpg", "JPEG", {"quality": 90}),
         "TIFF (uncompressed)": ("master.tif", "TIFF", {}),
         "TIFF (LZW)": ("master_lzw.tif", "TIFF", {"compression": "tiff_lzw"})}


def _rss_mb() -> float:
    """Peak RSS of this process so far: VmHWM, which starts afresh at exec (ru_maxrss would carry the
    parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: kilobytes on macOS/BSD vary


def run_step(step: str, path: str, model: str | None) -> dict:
    """One step in this process: {"seconds", "peak_mb", "before_mb"}."""
    from dataset.export import write_export_image
    from dataset.hashing import hash_file
    from dataset.imageio import load_image, probe

    predictor = None
    if step == "predict" and model:
        from modeling.inference.predict import Predictor

        predictor = Predictor.from_run_dir(model)
    before = _rss_mb()
    start = time.perf_counter()
    if step == "probe":
        probe(path)
    elif step == "hash":
        hash_file(path, ("phash", "dhash"))
    elif step == "export":
        with tempfile.TemporaryDirectory() as out:
            write_export_image(path, Path(out) / "copy.jpg", 256)
    elif predictor is not None:
        predictor.predict(load_image(path, min_side=predictor.img_size))
    else:
        load_image(path, min_side=224)
    return {"seconds": time.perf_counter() - start, "peak_mb": _rss_mb(), "before_mb": before}


def make_scans(folder: Path, megapixels: int) -> dict[str, Path]:
    """The scans: a real-looking photograph tiled to `megapixels` (4:3), saved in each format of FILES."""
    from PIL import Image

    import db.pixels  # noqa: F401  (the pixel policy: Pillow's global check off before Image.new/save)
    from crawler.replica import render_photo

    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(megapixels * 1e6 / width)
    tile = render_photo(1925, 3, (1600, 1200))
    scan = Image.new("RGB", (width, height))
    for y in range(0, height, tile.height):
        for x in range(0, width, tile.width):
            scan.paste(tile, (x, y))
    paths = {}
    for label, (name, fmt, options) in FILES.items():
        paths[label] = folder / name
        scan.save(paths[label], fmt, **options)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=int, default=300, help="size of each scan")
    parser.add_argument("--model", default=None, help="run directory for the predict step (else decode only)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # internal: one step, JSON out
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, args.path, args.model)))
        return

    from benchmarks.photos import machine

    lines = [f"Machine: {machine()} (other jobs were running)"]
    with tempfile.TemporaryDirectory(prefix="bench-pixels-") as folder:
        start = time.perf_counter()
        paths = make_scans(Path(folder), args.megapixels)
        sizes = ", ".join(f"{label} {p.stat().st_size / 2**20:.0f} MiB" for label, p in paths.items())
        from dataset.imageio import probe

        info = probe(paths["JPEG (q90)"])
        lines.append(f"Scans: {info.width}x{info.height} ({info.width * info.height / 1e6:.0f} MP): {sizes}; "
                     f"written in {time.perf_counter() - start:.0f} s")
        lines += ["", "| file | step | seconds | peak RSS (MiB) | RSS before the step (MiB) |", "|---|---|---:|---:|---:|"]
        for label, path in paths.items():
            for step in STEPS:
                command = [sys.executable, __file__, "--step", step, "--path", str(path)]
                if args.model:
                    command += ["--model", args.model]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    lines.append(f"| {label} | {step} | failed: {done.stderr.strip().splitlines()[-1]} | | |")
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                lines.append(f"| {label} | {step} | {result['seconds']:.2f} | {result['peak_mb']:.0f} | "
                             f"{result['before_mb']:.0f} |")
    lines.append("")
    lines.append(f"predict: {'model ' + args.model if args.model else 'decode at 224 px only (no --model)'}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
