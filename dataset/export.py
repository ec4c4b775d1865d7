"""Write a leak-free dataset directory: ImageFolder layout, manifest.csv and export.json.

The directory is built beside --out under a temporary name and renamed into place at the end, so an
interrupted export leaves no half-written dataset. Images are resized in parallel worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from dataset.bins import Bins
from dataset.catalog import Candidate, CatalogStream
from dataset.imageio import UnreadableImage, load_image, resize_short_side
from dataset.manifest_spool import ManifestSpool
from dataset.people_counts import any_examined, people_of
from dataset.split import SPLITS, BadSplitOptions, assign_parts, balance_positions
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
    copy: bool = True  # False (--no-copy): no files written; manifest.csv's file column holds each stored picture's path


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
    """Select, split, balance and write the dataset; returns the counts.

    No pass holds an object per picture (a million-picture archive is exported in a few hundred MB): _plan
    reads the catalog into compact columns (bins, groups) and splits from them; with --no-copy it also spools
    each picture's manifest line as it goes (dataset/manifest_spool.py), so the catalog is read once. Otherwise
    _write_pictures reads it again, WINDOW pictures at a time, writing each one's file and spooling its line.
    _write_manifest then reads the lines back in the manifest's row order.
    """
    check_config(config)
    config.out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(config.out)
    building = Path(tempfile.mkdtemp(prefix=f".{config.out.name}.building-{os.getpid()}-", dir=config.out.parent))
    spool = ManifestSpool(building / ".manifest-lines", people=any_examined(engine))
    try:
        plan = _plan(engine, config, None if config.copy else spool)
        if config.copy:
            _write_pictures(engine, config, plan, building, spool)
        spool.close(len(plan.image_ids))
        header = MANIFEST_COLUMNS + (PEOPLE_MANIFEST_COLUMNS if spool.people else ())
        counts, sources, rows = _write_manifest(building / "manifest.csv", header, plan, spool)
        spool.close_and_remove()
        meta = {
            "format_version": FORMAT_VERSION,
            "bins": plan.bins.to_json(),
            "args": _args_json(config),
            "counts": counts,
            "database": make_url(database_url).render_as_string(hide_password=True),
            "sources": sources,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": version("fotofecha"),
            "images": spool.images,
            "rows": rows,
            "left_out": plan.left_out,
            "failed": spool.failed,
        }
        (building / "export.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _move_into_place(building, config.out)
    except BaseException:
        spool.close_and_remove()
        shutil.rmtree(building, ignore_errors=True)
        raise
    return ExportSummary(config.out, counts, spool.images, rows, plan.left_out, spool.failed)


@dataclass(frozen=True)
class _Plan:
    bins: Bins  # the catalog's bins
    left_out: dict[str, int]  # reason -> images (or records) not in the export
    image_ids: array  # the kept pictures' ids, in the catalog's order (by image id): "k" below indexes these
    bin_of: array  # k -> bin index
    split_of: array  # k -> index into SPLITS, or -1 when balancing left the picture out
    rows: np.ndarray  # the manifest's rows in order: k of each (an oversampled picture repeats)
    pictures: int  # distinct pictures in rows: files to write


class ArchiveChanged(PipelineError):
    """The archive's pictures changed between export's passes."""


# Pictures handled per round while the catalog streams: what export holds at once besides its compact columns.
WINDOW = 4000


def _plan(engine: Engine, config: ExportConfig, spool: ManifestSpool | None) -> _Plan:
    """Every binned picture's id, bin and group, then the splits and the train balance; with a `spool`
    (--no-copy) each picture is also listed (its file looked up) and its line spooled."""
    stream = CatalogStream(engine, config.bins, config.origin, with_text=spool is not None)
    image_ids, bin_of, group_of, source_ids = array("q"), array("h"), array("q"), []
    binned, window = 0, []
    # --no-copy lists as it reads: the bar counts the stored pictures read (those left out included)
    bar = progress(total=stream.stored_count() if spool is not None else None, desc="listing", unit="img",
                   enabled=config.progress and spool is not None)
    for c in stream:
        binned += 1
        if c.excluded:
            continue
        if spool is not None:
            window.append((len(image_ids), c))
            if len(window) == WINDOW:
                _list(engine, window, stream.bins.labels, spool)
                window = []
                bar.update(stream.read - bar.n)
        image_ids.append(c.image_id)
        bin_of.append(c.bin_index)
        group_of.append(c.group_id)
        source_ids.append(c.source_id)
    if spool is not None:
        _list(engine, window, stream.bins.labels, spool)
    bar.update(stream.read - bar.n)
    bar.close()
    if stream.not_deduped:
        raise NotDeduped(
            f"{stream.not_deduped} of {binned} binned images have no dedupe verdict, so duplicates "
            "could cross splits. Run 'cli.py dedupe' first."
        )
    left_out = stream.reasons()
    if len(image_ids) != binned:
        left_out["excluded_duplicate"] = binned - len(image_ids)
    if not image_ids:
        raise EmptyExport(
            f"Found 0 dated, deduplicated images in bins {config.bins!r}. Run 'cli.py crawl' or 'cli.py import' "
            "first, or see 'cli.py balance-report' for why images are left out."
        )
    # stable_key order: by source_id, ties (one record's pictures) already in image id order, which sorted() keeps
    order = np.array(sorted(range(len(image_ids)), key=source_ids.__getitem__), dtype=np.int64)
    del source_ids
    bins = np.frombuffer(bin_of, dtype=np.int16)
    parts = np.array(assign_parts(bins[order].tolist(), np.frombuffer(group_of, dtype=np.int64)[order],
                                  config.splits, config.seed), dtype=np.int8)
    del group_of
    in_part = [order[parts == s] for s in range(len(SPLITS))]  # each part's pictures (k), in stable_key order
    del order, parts
    train = in_part[0]
    kept = np.array(balance_positions(bins[train].tolist(), config.balance, config.seed, config.min_per_class,
                                      config.max_per_class), dtype=np.int64)
    split_of = np.full(len(image_ids), -1, dtype=np.int8)
    for s, members in enumerate(in_part):
        split_of[members[kept] if s == 0 else members] = s
    distinct_train = len(np.unique(kept))
    if distinct_train < len(train):
        left_out["undersampled"] = len(train) - distinct_train
    rows = np.concatenate([train[kept], in_part[1], in_part[2]])
    return _Plan(stream.bins, left_out, image_ids, bin_of, array("b", split_of.tobytes()), rows,
                 distinct_train + len(in_part[1]) + len(in_part[2]))


def _list(engine: Engine, window: list[tuple[int, Candidate]], labels: tuple[str, ...], spool: ManifestSpool) -> None:
    """--no-copy: each picture's stored file looked up (its size from the database when it has it), its line spooled."""
    people = people_of(engine, [c.image_id for _, c in window]) if spool.people else None
    for k, c in window:
        _, size, error = _listed_one(c)
        spool.add(k, c, c.path, size, error, labels, people)


def _write_pictures(engine: Engine, config: ExportConfig, plan: _Plan, root: Path, spool: ManifestSpool) -> None:
    """The catalog again, with text: each picture in the manifest written (resized or copied), its line spooled."""
    labels = plan.bins.labels
    suffix = None if config.image_size else "original"
    n = len(plan.image_ids)
    pool = worker_pool(config.workers) if config.workers > 1 and plan.pictures >= 2 * config.workers else None
    chunksize = max(1, min(32, plan.pictures // (config.workers * 8)))
    bar = progress(total=plan.pictures, desc="exporting", unit="img", enabled=config.progress)

    def flush(window: list[tuple[int, Candidate]]) -> None:
        jobs, files = [], []
        for k, c in window:
            files.append(_relative_file(SPLITS[plan.split_of[k]], labels[c.bin_index], c, suffix))
            dest = root / files[-1]
            dest.parent.mkdir(parents=True, exist_ok=True)
            jobs.append((c.image_id, c.path, str(dest), config.image_size, config.max_pixels))
        results = pool.map(_export_one, jobs, chunksize=chunksize) if pool else map(_export_one, jobs)
        people = people_of(engine, [c.image_id for _, c in window]) if spool.people else None
        for (k, c), file, (_, size, error) in zip(window, files, results, strict=True):
            bar.update(1)
            spool.add(k, c, file, size, error, labels, people)

    try:
        window, k = [], 0
        for c in CatalogStream(engine, config.bins, config.origin, with_text=True):
            if c.excluded:
                continue
            if k >= n or c.image_id != plan.image_ids[k]:
                raise ArchiveChanged(f"The archive's pictures changed while export read them (image {c.image_id}). "
                                     "Run 'cli.py export' again once nothing else writes to the archive.")
            if plan.split_of[k] >= 0:
                window.append((k, c))
                if len(window) == WINDOW:
                    flush(window)
                    window = []
            k += 1
        if window:
            flush(window)
        if k != n:
            raise ArchiveChanged(f"The archive lost {n - k} pictures while export read it. "
                                 "Run 'cli.py export' again once nothing else writes to the archive.")
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _write_manifest(path: Path, header: tuple[str, ...], plan: _Plan,
                    spool: ManifestSpool) -> tuple[dict[str, dict[str, int]], dict[str, int], int]:
    """The spooled lines in the manifest's row order; returns the counts per split and bin, the sources and the rows."""
    labels = plan.bins.labels
    counts = {s: {label: 0 for label in labels} for s in SPLITS}
    sources: Counter[int] = Counter()
    seen = bytearray(len(plan.image_ids))
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        csvsafe.writer(handle, lineterminator="\n").writerow(header)
    with path.open("ab") as out:
        for start in range(0, len(plan.rows), WINDOW):
            chunk = []
            for k in plan.rows[start:start + WINDOW].tolist():
                split = SPLITS[plan.split_of[k]]
                line = spool.line(k, split)
                if not line:
                    continue
                chunk.append(line)
                counts[split][labels[plan.bin_of[k]]] += 1
                if not seen[k]:
                    seen[k] = 1
                    sources[spool.source_of[k]] += 1
            rows += len(chunk)
            out.write(b"".join(chunk))
    return counts, {spool.sources[code]: n for code, n in sources.items()}, rows


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


def _listed_one(c: Candidate) -> tuple[int, tuple[int, int] | None, str | None]:
    """--no-copy: the stored picture's size (from the database when it has it), or why it cannot be listed."""
    if not os.path.isfile(c.path):
        return c.image_id, None, f"file not found: {c.path}"
    if c.width and c.height:
        return c.image_id, (c.width, c.height), None
    try:
        with PILImage.open(c.path) as img:
            return c.image_id, img.size, None
    except (OSError, PILImage.DecompressionBombError) as exc:
        return c.image_id, None, f"cannot read {c.path}: {exc}"


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
