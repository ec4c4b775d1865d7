"""Shared by the curation benchmarks: a folder of >= 1 MP era-cued JPEG photographs and a machine line.

Photos are rendered by the replica at 640x480 (or 480x640) and upscaled to 1280x960 with film grain,
so each is a distinct ~1.2 MP picture; the folder is cached between benchmark runs.
"""

from __future__ import annotations

import os
import platform
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "fotofecha-bench-photos"
SIZE = (1280, 960)


def _make(k: int, folder: str) -> None:
    from crawler.replica import render_photo

    path = Path(folder) / f"photo_{k:05d}.jpg"
    if path.exists():
        return
    portrait = k % 5 == 4
    small = render_photo(1860 + (k * 7) % 130, k, (480, 640) if portrait else (640, 480))
    big = small.resize(SIZE[::-1] if portrait else SIZE, Image.Resampling.BICUBIC)
    grain = np.random.default_rng(k).normal(0, 4, (big.height, big.width, 1))
    pixels = np.clip(np.asarray(big, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    partial = path.with_suffix(".part")
    Image.fromarray(pixels, "RGB").save(partial, "JPEG", quality=90)
    partial.rename(path)


def ensure_photos(count: int, folder: Path = DEFAULT_DIR, workers: int = 2) -> list[Path]:
    """`count` photos in `folder` (made once, reused); returns their paths sorted."""
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_make, range(count), [str(folder)] * count, chunksize=16))
    return [folder / f"photo_{k:05d}.jpg" for k in range(count)]


def machine() -> str:
    """CPU model, cores and the load average now (the machine is shared: say how busy it was)."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}"


REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "real-photos" / "images"
if not REAL_DIR.is_dir():
    REAL_DIR = Path("/work/shared/real-photos/images")
# Megapixels of the upscaled real set: the smallest and the largest scan, spaced evenly on a log scale.
LARGE_REAL_MP = (0.4, 23.5)


def real_photos() -> list[Path]:
    """The 200 real photographs of shared/real-photos (600-640 px, about 0.27 MP), read in place."""
    return sorted(REAL_DIR.glob("*/*.jpg"))


def _upscale(k: int, source: str, target_mp: float, folder: str) -> None:
    path = Path(folder) / f"real_{k:04d}.jpg"
    if path.exists():
        return
    with Image.open(source) as img:
        small = img.convert("RGB")
    scale = (target_mp * 1e6 / (small.width * small.height)) ** 0.5
    big = small.resize((round(small.width * scale), round(small.height * scale)), Image.Resampling.BICUBIC)
    # Grain, as film and scanner noise: an upscaled JPEG alone would be unrealistically smooth (tiny, fast to decode).
    grain = np.random.default_rng(k).normal(0, 4, (big.height, big.width, 1)).astype(np.float32)
    pixels = np.clip(np.asarray(big, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    partial = path.with_suffix(".part")
    Image.fromarray(pixels, "RGB").save(partial, "JPEG", quality=90)
    partial.rename(path)


def ensure_large_real(count: int, folder: Path, workers: int = 2) -> list[Path]:
    """`count` real photographs upscaled (bicubic, plus grain) to 0.4..23.5 MP, log-spaced; made once, reused."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = real_photos()
    low, high = LARGE_REAL_MP
    targets = [low * (high / low) ** (k / max(1, count - 1)) for k in range(count)]
    picks = [str(sources[(k * 37) % len(sources)]) for k in range(count)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_upscale, range(count), picks, targets, [str(folder)] * count))
    return [folder / f"real_{k:04d}.jpg" for k in range(count)]
