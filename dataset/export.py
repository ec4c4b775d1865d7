"""Write a leak-free dataset directory: ImageFolder layout, manifest.csv and export.json.

The directory is built beside --out under a temporary name and renamed into place at the end, so an
interrupted export leaves no half-written dataset. Images are resized in parallel worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from PIL import Image as PILImage
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from dataset.catalog import Candidate, load_catalog
from dataset.imageio import UnreadableImage, load_image, resize_short_side
from dataset.people_counts import NOT_EXAMINED, ImagePeople, load_people
from dataset.split import SPLITS, BadSplitOptions, assign_splits, balance_train, stable_key
from dataset.workers import worker_pool
from db import csvsafe
from db.errors import PipelineError
from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import progress

FORMAT_VERSION = 1
JPEG_QUALITY = 95
MANIFEST_COLUMNS = (
    "record_id", "source_id", "image_id", "file", "year", "year_min", "year_max", "bin", "bin_index",
    "split", "cluster_id", "width", "height", "group_id", "source", "title", "description", "holder", "place",
)
# Appended to MANIFEST_COLUMNS once `cli.py detect` has examined any image of the archive (dataset/people_counts.py):
# people counted once, face and figure boxes (empty when the image was not examined), and its category
# (portrait | group | one | none | not_examined).
PEOPLE_MANIFEST_COLUMNS = ("people", "faces", "figures", "people_category")


class ExportExists(PipelineError):
    """--out is not empty and --force was not given."""


class NotDeduped(PipelineError):
    """Some images have no dedupe verdict, so duplicates could leak across splits."""


class EmptyExport(PipelineError):
    """No image qualifies for the export."""


@dataclass(frozen=True)
class ExportConfig:
    out: Path  # the dataset directory to create
    bins: str = "20y"  # decade | 10y | 20y | Ny | explicit edges "1860,1900,1991"
    origin: int = 1860  # first edge of Ny bins
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, valid, test fractions
    balance: str = "none"  # none | undersample | oversample (train only)
    min_per_class: int | None = None  # oversample: repeat each train bin up to this (default: the largest bin)
    max_per_class: int | None = None  # undersample: cut each train bin to this (default: the smallest bin)
    image_size: int = 256  # short side in pixels; 0 copies the original files
    seed: int = 0  # split and sampling seed: same seed + same database = same manifest
    force: bool = False  # replace a non-empty --out
    workers: int = 1  # resizing processes
    progress: bool = True  # tqdm bar on stderr
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are failed rows (db.pixels)


@dataclass(frozen=True)
class ExportSummary:
    out: Path  # the finished dataset directory
    counts: dict[str, dict[str, int]]  # split -> bin label -> manifest rows
    images: int  # files written
    rows: int  # manifest rows (oversampled rows repeat)
    left_out: dict[str, int]  # reason -> images
    failed: list[dict] = field(default_factory=list)  # {"image_id", "error"} for files that could not be written


def check_config(config: ExportConfig) -> None:
    if config.image_size < 0:
        raise BadSplitOptions(f"--image-size {config.image_size} is negative: expected pixels for the short side, or 0 to copy originals.")
    if config.max_per_class is not None and config.balance != "undersample":
        raise BadSplitOptions("--max-per-class applies to --balance undersample; pass that too, or drop the option.")
    if config.min_per_class is not None and config.balance != "oversample":
        raise BadSplitOptions("--min-per-class applies to --balance oversample; pass that too, or drop the option.")
    for name in ("min_per_class", "max_per_class"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise BadSplitOptions(f"--{name.replace('_', '-')} {value} must be at least 1.")
    out = config.out
    if out.exists() and not out.is_dir():
        raise ExportExists(f"--out {out} is a file: expected a directory. Choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not config.force:
        raise ExportExists(f"Export directory {out} is not empty. Pass --force to replace it, or choose another --out.")


def run_export(engine: Engine, config: ExportConfig, database_url: str) -> ExportSummary:
    """Select, split, balance and write the dataset; returns the counts."""
    check_config(config)
    catalog = load_catalog(engine, config.bins, config.origin)
    if catalog.not_deduped:
        raise NotDeduped(
            f"{catalog.not_deduped} of {len(catalog.items)} binned images have no dedupe verdict, so duplicates "
            "could cross splits. Run 'cli.py dedupe' first."
        )
    left_out = dict(catalog.left_out)
    candidates = sorted((c for c in catalog.items if not c.excluded), key=stable_key)
    if len(candidates) != len(catalog.items):
        left_out["excluded_duplicate"] = len(catalog.items) - len(candidates)
    if not candidates:
        raise EmptyExport(
            f"Found 0 dated, deduplicated images in bins {config.bins!r}. Run 'cli.py crawl' or 'cli.py import' "
            "first, or see 'cli.py balance-report' for why images are left out."
        )
    split_of = assign_splits(candidates, config.splits, config.seed)
    by_split = {s: [c for c in candidates if split_of[c.image_id] == s] for s in SPLITS}
    train = balance_train(by_split["train"], config.balance, config.seed, config.min_per_class, config.max_per_class)
    if len(set(c.image_id for c in train)) < len(by_split["train"]):
        left_out["undersampled"] = len(by_split["train"]) - len(set(c.image_id for c in train))
    rows = [("train", c) for c in train] + [(s, c) for s in SPLITS[1:] for c in by_split[s]]

    labels = catalog.bins.labels
    suffix = None if config.image_size else "original"
    files = {c.image_id: _relative_file(s, labels[c.bin_index], c, suffix) for s, c in rows}
    config.out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(config.out)
    building = Path(tempfile.mkdtemp(prefix=f".{config.out.name}.building-{os.getpid()}-", dir=config.out.parent))
    try:
        sizes, failed = _write_images(rows, files, building, config)
        rows = [(s, c) for s, c in rows if c.image_id in sizes]
        counts = {s: {label: 0 for label in labels} for s in SPLITS}
        for s, c in rows:
            counts[s][labels[c.bin_index]] += 1
        _write_manifest(building / "manifest.csv", rows, files, sizes, labels, load_people(engine))
        meta = {
            "format_version": FORMAT_VERSION,
            "bins": catalog.bins.to_json(),
            "args": _args_json(config),
            "counts": counts,
            "database": make_url(database_url).render_as_string(hide_password=True),
            "sources": dict(Counter(c.source for c in {c.image_id: c for _, c in rows}.values())),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": version("fotofecha"),
            "images": len(sizes),
            "rows": len(rows),
            "left_out": left_out,
            "failed": failed,
        }
        (building / "export.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _move_into_place(building, config.out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return ExportSummary(config.out, counts, len(sizes), len(rows), left_out, failed)


def _remove_stale_builds(out: Path) -> None:
    """Delete half-built siblings of `out` left by exports that were killed (their process is gone)."""
    for stale in out.parent.glob(f".{out.name}.building-*-*"):
        pid = stale.name.rsplit(".building-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _relative_file(split: str, label: str, c: Candidate, suffix: str | None) -> str:
    ext = Path(c.path).suffix.lower() if suffix else ".jpg"
    return f"{split}/{label}/{c.image_id}{ext}"


def _args_json(config: ExportConfig) -> dict:
    args = asdict(config)
    args["out"] = str(config.out)
    args["splits"] = list(config.splits)
    del args["progress"]
    return args


def write_export_image(source: str | Path, dest: str | Path, size: int,
                       max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Write one exported copy: short side `size` as JPEG (quality JPEG_QUALITY), or the original bytes if 0."""
    if size == 0:
        shutil.copyfile(source, dest)
        with PILImage.open(dest) as img:
            return img.size
    img = resize_short_side(load_image(source, mode="RGB", min_side=size, max_pixels=max_pixels), size)
    img.save(dest, "JPEG", quality=JPEG_QUALITY)
    return img.size


def _export_one(job: tuple[int, str, str, int, int]) -> tuple[int, tuple[int, int] | None, str | None]:
    image_id, source, dest, size, max_pixels = job
    try:
        return image_id, write_export_image(source, dest, size, max_pixels), None
    except UnreadableImage as exc:
        return image_id, None, str(exc)
    except OSError as exc:
        return image_id, None, f"cannot write: {exc}"


def _run_jobs(jobs: list, workers: int) -> Iterator[tuple[int, tuple[int, int] | None, str | None]]:
    if workers <= 1 or len(jobs) < 2 * workers:
        yield from map(_export_one, jobs)
        return
    with worker_pool(workers) as pool:
        yield from pool.map(_export_one, jobs, chunksize=max(1, min(32, len(jobs) // (workers * 8))))


def _write_images(rows: list, files: dict[int, str], root: Path, config: ExportConfig) -> tuple[dict, list]:
    jobs, seen = [], set()
    for _, c in rows:
        if c.image_id in seen:
            continue
        seen.add(c.image_id)
        dest = root / files[c.image_id]
        dest.parent.mkdir(parents=True, exist_ok=True)
        jobs.append((c.image_id, c.path, str(dest), config.image_size, config.max_pixels))
    sizes, failed = {}, []
    bar = progress(total=len(jobs), desc="exporting", unit="img", enabled=config.progress)
    for image_id, size, error in _run_jobs(jobs, config.workers):
        bar.update(1)
        if size is None:
            failed.append({"image_id": image_id, "error": error})
        else:
            sizes[image_id] = size
    bar.close()
    return sizes, sorted(failed, key=lambda f: f["image_id"])


def _write_manifest(path: Path, rows: list, files: dict[int, str], sizes: dict, labels: tuple[str, ...],
                    examined: dict[int, ImagePeople] | None) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS + (PEOPLE_MANIFEST_COLUMNS if examined is not None else ()))
        for split, c in rows:
            width, height = sizes[c.image_id]
            people = []
            if examined is not None:
                found = examined.get(c.image_id)
                people = ["", "", "", NOT_EXAMINED] if found is None else [
                    found.people, found.faces, found.figures, found.category]
            writer.writerow([
                c.record_id, c.source_id, c.image_id, files[c.image_id], c.year, c.year_min, c.year_max,
                labels[c.bin_index], c.bin_index, split, c.cluster_id, width, height, c.group_id, c.source,
                c.title, c.description, c.holder, c.place, *people,
            ])


def _move_into_place(building: Path, out: Path) -> None:
    if not out.exists():
        building.rename(out)
        return
    # --force: swap, then remove the old one; the new one is complete before the old one goes.
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    building.rename(out)
    shutil.rmtree(old)


# A split with fewer photographs than this gives numbers that one photograph moves by several points.
SMALL_SPLIT_IMAGES = 30


def export_warnings(counts: dict[str, dict[str, int]], small: int = SMALL_SPLIT_IMAGES) -> list[str]:
    """Warnings about a split too small to trust, and about bins that hold no photograph.

    >>> export_warnings({"train": {"1930-1939": 40, "1950-1959": 0}, "valid": {"1930-1939": 5, "1950-1959": 0}})
    ['warning: the valid split holds only 5 photographs: one photograph moves its accuracy by 20 points. Trust cross-validation (train --head-only --cv 5) over it, or export more photographs.', "warning: bin 1950-1959 holds no photograph in any split: a model cannot learn it, and its scores there read '-'. Choose bins that cover your photographs' years (--bins, --origin)."]
    """
    warnings = []
    for split, per_bin in counts.items():
        n = sum(per_bin.values())
        if 0 < n < small:
            warnings.append(f"warning: the {split} split holds only {n} photographs: one photograph moves its "
                            f"accuracy by {100 / n:.0f} points. Trust cross-validation (train --head-only --cv 5) "
                            "over it, or export more photographs.")
    labels = next(iter(counts.values()), {})
    nowhere = [label for label in labels if not any(per_bin.get(label) for per_bin in counts.values())]
    if nowhere:
        warnings.append(f"warning: bin{'s' if len(nowhere) > 1 else ''} {', '.join(nowhere)} hold"
                        f"{'' if len(nowhere) > 1 else 's'} no photograph in any split: a model cannot learn "
                        f"{'them' if len(nowhere) > 1 else 'it'}, and its scores there read '-'. Choose bins that "
                        "cover your photographs' years (--bins, --origin).")
    for split, per_bin in counts.items():
        empty = [label for label, n in per_bin.items() if not n and label not in nowhere]
        if empty:
            warnings.append(f"warning: the {split} split has no photograph in {', '.join(empty)}"
                            + (": the model never sees that period while training." if split == "train"
                               else ": scores there cannot be measured."))
    return warnings


def format_summary(summary: ExportSummary) -> str:
    """The lines `cli.py export` prints: images per split and bin, what was left out, failures, warnings."""
    lines = [f"Exported {summary.images} images ({summary.rows} manifest rows) to {summary.out}"]
    lines += [f"  {split:5}  " + "  ".join(f"{label}: {n}" for label, n in per_bin.items())
              for split, per_bin in summary.counts.items()]
    if summary.left_out:
        lines.append("  left out: " + ", ".join(f"{k} {n}" for k, n in summary.left_out.items()))
    lines += [f"  failed image {failure['image_id']}: {failure['error']}" for failure in summary.failed]
    lines += export_warnings(summary.counts)
    return "\n".join(lines)
