"""Read an export directory (manifest.csv + export.json) and serve it to PyTorch.

Every random choice (sample order, balanced draws, augmentation) derives from (seed, epoch, position),
so an epoch is reproducible with any number of workers and a resumed run replays exactly.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from dataset.imageio import load_image, to_mode
from modeling.errors import BadTrainingSetup, NoExport
from modeling.tensors import eval_view
from modeling.training.augment import AUGMENT_LEVELS, NO_PHOTOMETRIC, augment_view, finish

REQUIRED_COLUMNS = ("file", "year", "bin", "bin_index", "split")
PIXELS = ("normalised", "uint8")
SPLITS = ("train", "valid", "test")
_FIX = "Run 'cli.py export --out DIR' first, or pass --data DIR of an existing export."


@dataclass(frozen=True)
class ExportRow:
    file: str  # posix path relative to the export root
    year: float  # the catalogued year (ground truth for MAE)
    bin_index: int  # index into the export's bins
    split: str  # train | valid | test
    image_id: int = 0  # images.id in the export's database (0 in manifests without it)
    source_id: str = ""  # the archive's identifier
    group_id: int = 0  # near-duplicate component (cluster_id, or the image, in older manifests): never cut by folds
    title: str = ""  # the record's catalogued title ("" when none, or in manifests older than the column)
    description: str = ""  # the record's free-text description ("" when none)
    holder: str = ""  # holder, photographer or donor ("" when none)
    place: str = ""  # catalogued place ("" when none)


@dataclass(frozen=True)
class Export:
    root: Path  # the export directory
    spec: str  # bin spec as given to `cli.py export` (e.g. "20y")
    edges: tuple[int, ...]  # bin i covers [edges[i], edges[i+1])
    labels: tuple[str, ...]  # one label per bin, e.g. "1860-1879"
    rows: tuple[ExportRow, ...]  # every manifest row, oversampled train rows repeated
    database: str = ""  # the database it was exported from (export.json), password hidden
    sources: tuple[tuple[str, int], ...] = ()  # (records.source, images) as export.json counts them

    @property
    def num_bins(self) -> int:
        return len(self.labels)

    @property
    def year_range(self) -> tuple[int, int]:
        return self.edges[0], self.edges[-1]

    def split(self, name: str) -> list[ExportRow]:
        return [row for row in self.rows if row.split == name]


def read_export(root: str | Path) -> Export:
    """Load and validate an export directory; NoExport says what is wrong and which command makes one."""
    root = Path(root)
    if not root.is_dir():
        raise NoExport(f"No export directory at {root}. {_FIX}")
    meta_path, manifest_path = root / "export.json", root / "manifest.csv"
    for path in (meta_path, manifest_path):
        if not path.is_file():
            raise NoExport(f"{root} has no {path.name}, so it is not an export directory. {_FIX}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        bins = meta["bins"]
        edges, labels = tuple(int(e) for e in bins["edges"]), tuple(str(x) for x in bins["labels"])
        spec = str(bins.get("spec", ""))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise NoExport(f"{meta_path} is malformed ({type(exc).__name__}: {exc}); expected format_version 1 "
                       f"with bins.edges and bins.labels. {_FIX}") from None
    if meta.get("format_version") != 1:
        raise NoExport(f"{meta_path} has format_version {meta.get('format_version')!r}, expected 1. {_FIX}")
    if len(edges) != len(labels) + 1 or list(edges) != sorted(edges) or not labels:
        raise NoExport(f"{meta_path}: {len(edges)} edges for {len(labels)} labels; expected len(labels)+1 "
                       f"increasing edges. {_FIX}")
    rows = _read_manifest(manifest_path, edges, labels)
    if not any(row.split == "train" for row in rows):
        raise NoExport(f"Found 0 train rows in {manifest_path}. {_FIX}")
    missing = [row.file for row in rows if not (root / row.file).is_file()]
    if missing:
        raise NoExport(f"{len(missing)} image file(s) listed in {manifest_path} are missing, e.g. "
                       f"{root / missing[0]}. Re-run 'cli.py export'.")
    sources = meta.get("sources") if isinstance(meta.get("sources"), dict) else {}
    return Export(root=root, spec=spec, edges=edges, labels=labels, rows=tuple(rows),
                  database=str(meta.get("database", "")), sources=tuple(sorted(sources.items())))


def _read_manifest(path: Path, edges: tuple[int, ...], labels: tuple[str, ...]) -> list[ExportRow]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if absent:
            raise NoExport(f"{path} lacks column(s) {', '.join(absent)}; expected at least "
                           f"{', '.join(REQUIRED_COLUMNS)}. {_FIX}")
        rows = []
        for line, record in enumerate(reader, start=2):
            try:
                index = int(record["bin_index"])
                if not 0 <= index < len(labels) or record["split"] not in SPLITS:
                    raise ValueError(f"bin_index {index} / split {record['split']!r} out of range")
                year_text = (record["year"] or "").strip()
                year = float(year_text) if year_text else (edges[index] + edges[index + 1]) / 2
            except (TypeError, ValueError) as exc:
                raise NoExport(f"{path} line {line} is malformed ({exc}). {_FIX}") from None
            image_id = int(record.get("image_id") or 0)
            group = record.get("group_id") or record.get("cluster_id") or image_id or line
            rows.append(ExportRow(file=record["file"], year=year, bin_index=index, split=record["split"],
                                  image_id=image_id, source_id=record.get("source_id") or record["file"],
                                  group_id=int(group), title=record.get("title") or "",
                                  description=record.get("description") or "", holder=record.get("holder") or "",
                                  place=record.get("place") or ""))
    return rows


def require_two_bins(export: Export, rows: list[ExportRow]) -> None:
    """A model learns to tell bins apart: refuse training rows that all sit in one bin (or none)."""
    present = sorted({row.bin_index for row in rows})
    if not present:
        raise BadTrainingSetup(f"{export.root} has no training images. Re-run 'cli.py export' with more dated images.")
    if len(present) < 2:
        raise BadTrainingSetup(
            f"{export.root} has a single class (every train row is in bin {export.labels[present[0]]}): there is "
            "nothing to tell apart, and accuracy would read 1.000. Re-export with narrower --bins (e.g. 20y) or "
            "more dated images."
        )


def bin_counts(rows: list[ExportRow], num_bins: int) -> list[int]:
    counts = Counter(row.bin_index for row in rows)
    return [counts.get(i, 0) for i in range(num_bins)]


def rare_bins(rows: list[ExportRow], num_bins: int) -> frozenset[int]:
    """Bins with fewer training rows than the median of the non-empty bins."""
    counts = [c for c in bin_counts(rows, num_bins) if c]
    median = float(np.median(counts)) if counts else 0.0
    return frozenset(i for i, c in enumerate(bin_counts(rows, num_bins)) if 0 < c < median)


class PhotoDataset(Dataset):
    """Rows of one split as (pixels, bin index, year). Keys are ints or (int, augment seed).

    pixels="normalised": a CHW float tensor, the model's input. pixels="uint8": (HWC uint8 tensor, photometric
    parameters), 4x fewer bytes per image through the loader; augment.finish makes the model's input of a
    batch of them on the device (what training does: modeling.training.engine.model_input).
    """

    def __init__(self, root: Path, rows: list[ExportRow], img_size: int, mean: tuple[float, ...],
                 std: tuple[float, ...], augment: str = "none", strong_bins: frozenset[int] = frozenset(),
                 pixels: str = "normalised", grayscale: bool = False):
        if augment not in AUGMENT_LEVELS:
            raise ValueError(f"augment must be one of {AUGMENT_LEVELS}, got {augment!r}")
        if pixels not in PIXELS:
            raise ValueError(f"pixels must be one of {PIXELS}, got {pixels!r}")
        self.root, self.rows, self.img_size = root, rows, img_size
        self.mean, self.std, self.augment, self.strong_bins = mean, std, augment, strong_bins
        self.pixels = pixels
        self.grayscale = grayscale  # grey copies (L, back to RGB): evaluate's colour-reliance check

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | tuple[int, int]):
        index, seed = key if isinstance(key, tuple) else (key, None)
        row = self.rows[index]
        image = load_image(self.root / row.file, mode="L" if self.grayscale else "RGB", min_side=self.img_size)
        if self.grayscale:
            image = to_mode(image, "RGB")
        level = "strong" if row.bin_index in self.strong_bins else self.augment
        if seed is None or level == "none":
            view, params = np.array(eval_view(image, self.img_size), dtype=np.uint8), NO_PHOTOMETRIC
        else:
            view, params = augment_view(image, self.img_size, level, np.random.default_rng(seed))
        pixels, params = torch.from_numpy(view), torch.from_numpy(params)
        if self.pixels == "normalised":
            pixels = finish(pixels[None], params[None], self.mean, self.std)[0].contiguous()
        else:
            pixels = (pixels, params)
        return pixels, row.bin_index, torch.tensor(row.year, dtype=torch.float32)


class EpochSampler(Sampler):
    """Yields (row index, augment seed) for one epoch; `natural` permutes, `balanced` draws bins equally.

    The order is a pure function of (seed, epoch): call set_epoch before each epoch.
    """

    def __init__(self, bin_indices: list[int], mode: str, seed: int):
        if mode not in ("natural", "balanced"):
            raise ValueError(f"sampler must be natural or balanced, got {mode!r}")
        self.bin_indices, self.mode, self.seed, self.epoch = bin_indices, mode, seed, 0
        counts = Counter(bin_indices)
        self.weights = torch.tensor([1.0 / counts[b] for b in bin_indices], dtype=torch.float64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.bin_indices)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        n = len(self.bin_indices)
        if self.mode == "natural":
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        aug_seeds = torch.randint(0, 2**62, (n,), generator=generator)
        return iter(zip(order.tolist(), aug_seeds.tolist(), strict=True))
