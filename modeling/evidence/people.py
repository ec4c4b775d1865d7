"""The people source: what the people in a photograph say of its year (clothes, hair, poses).

Faces and figures come from dataset.people.detect_people through one function, `people_boxes` (the
seam: today it detects and caches per run folder; a stored detection table can answer it instead).
Each box, padded and squared, goes through the same frozen backbone the picture head reads
(modeling.features.embed.pooled); a record's features are the mean of its crops' vectors plus three
counts (faces, figures, the largest face's share of the picture). A ridge regression of the year on
them, fitted per fold as every source is, gives the estimate. A record where nobody was found has no
people source: the fusion leaves it out, as it leaves out a missing title.

>>> boxes = people_boxes([Path("a.jpg")], cache_dir=Path("runs/x"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import RidgeCV

from dataset.imageio import load_image
from dataset.people import FACE, FIGURE, PeopleConfig, Person, detect_people
from modeling.evidence.base import Estimates
from modeling.features.embed import file_sha256, pooled
from modeling.tensors import to_tensor_array

PAD = 0.2  # each box grows by this share of its side on every side (hair, hat, shoulders) before cropping
MAX_CROPS = 6  # the largest boxes of a picture that are embedded (a crowd adds little beyond six)
MIN_TO_FIT = 10  # records with people a fold needs before its people model is fitted (else it stays silent)
ALPHAS = tuple(float(a) for a in np.logspace(-1, 4, 11))  # ridge penalties tried by efficient leave-one-out
COUNTS = ("faces", "figures", "largest_face_share")  # the counts appended to the mean crop vector
BOXES_FILE = "people_boxes.json"  # the detections cache in a run (or feature-cache) folder


@dataclass(frozen=True)
class PeopleFeatures:
    vectors: np.ndarray  # (N, D + len(COUNTS)) mean crop embedding then the counts; zeros where nobody was found
    present: np.ndarray  # (N,) bool: at least one face or figure was found


def _config_key(config: PeopleConfig) -> str:
    return hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:12]


def people_boxes(paths: Sequence[Path], cache_dir: Path | None, config: PeopleConfig | None = None
                 ) -> list[list[Person]]:
    """The faces and figures of each picture file, in order (boxes in the file's own pixels).

    Detections are kept in CACHE_DIR/people_boxes.json by file sha256 and detector settings, so a
    second run (another backbone, another CV) never detects again. The one place the people source
    gets its boxes from.
    """
    config = config or PeopleConfig()
    cache_path = Path(cache_dir) / BOXES_FILE if cache_dir is not None else None
    key = _config_key(config)
    stored: dict = {}
    if cache_path is not None and cache_path.is_file():
        stored = json.loads(cache_path.read_text(encoding="utf-8"))
    known = stored.setdefault(key, {})
    out, added = [], False
    for path in paths:
        sha = file_sha256(Path(path))
        if sha not in known:
            found = detect_people(load_image(Path(path)), config)
            known[sha] = [[p.kind, p.x0, p.y0, p.x1, p.y1, p.score] for p in found]
            added = True
        out.append([Person(k, int(a), int(b), int(c), int(d), float(s)) for k, a, b, c, d, s in known[sha]])
    if added and cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored), encoding="utf-8")
        os.replace(tmp, cache_path)
    return out


def crop_box(person: Person, pad: float = PAD) -> tuple[int, int, int, int]:
    """The padded square around a box (it may reach outside the picture; the crop fills that with black).

    >>> crop_box(Person("face", 10, 10, 30, 50, 1.0), pad=0.0)
    (0, 10, 40, 50)
    """
    cx, cy = (person.x0 + person.x1) / 2.0, (person.y0 + person.y1) / 2.0
    side = max(person.x1 - person.x0, person.y1 - person.y0) * (1.0 + 2.0 * pad)
    half = side / 2.0
    return int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half))


def counts(people: Sequence[Person], size: tuple[int, int]) -> np.ndarray:
    """(faces, figures, largest face area / picture area) of one picture of `size` (width, height)."""
    faces = [p for p in people if p.kind == FACE]
    largest = max(((p.x1 - p.x0) * (p.y1 - p.y0) for p in faces), default=0)
    return np.array([len(faces), sum(p.kind == FIGURE for p in people), largest / float(size[0] * size[1])])


def people_features(model: torch.nn.Module, images: Sequence[Image.Image | Path | None],
                    boxes: Sequence[Sequence[Person]], img_size: int, mean: tuple[float, ...], std: tuple[float, ...],
                    batch_size: int = 32) -> PeopleFeatures:
    """Each picture's mean crop vector (through `model`'s pooled features) and counts; absent without people.

    A picture may be given as its file (decoded only when it has people, one at a time) or as an image.
    """
    width = int(model.num_features)
    n = len(images)
    vectors, present = np.zeros((n, width + len(COUNTS)), dtype=np.float32), np.zeros(n, dtype=bool)
    sums, seen = np.zeros((n, width)), np.zeros(n)
    model = model.eval()
    device = next(model.parameters()).device
    crops: list[np.ndarray] = []
    owner: list[int] = []

    def flush() -> None:  # embed the crops gathered so far (a batch at a time: memory stays flat)
        out = pooled(model, torch.from_numpy(np.stack(crops)).to(device)).cpu().numpy()
        for row, vector in zip(owner, out, strict=True):
            sums[row] += vector
            seen[row] += 1
        crops.clear()
        owner.clear()

    for i, (image, people) in enumerate(zip(images, boxes, strict=True)):
        if image is None or not people:
            continue
        present[i] = True
        rgb = load_image(image) if isinstance(image, Path) else image.convert("RGB")
        vectors[i, width:] = counts(people, rgb.size)
        for person in sorted(people, key=lambda p: -(p.x1 - p.x0) * (p.y1 - p.y0))[:MAX_CROPS]:
            crop = rgb.crop(crop_box(person)).resize((img_size, img_size), Image.Resampling.BILINEAR)
            crops.append(to_tensor_array(crop, mean, std))
            owner.append(i)
            if len(crops) == batch_size:
                flush()
    if crops:
        flush()
    at = seen > 0
    vectors[at, :width] = sums[at] / seen[at, None]
    return PeopleFeatures(vectors, present)


@dataclass(frozen=True)
class PeopleModel:
    mean: np.ndarray  # (D,) feature means of the records it was fitted on (those with people)
    scale: np.ndarray  # (D,) their standard deviations (plus a small floor)
    weight: np.ndarray  # (D,) ridge weights on standardised features
    intercept: float  # a year

    @classmethod
    def fit(cls, vectors: np.ndarray, years: np.ndarray) -> PeopleModel:
        """Fit on the records with people only (their vectors and years)."""
        x = np.asarray(vectors, dtype=np.float64)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        ridge = RidgeCV(alphas=ALPHAS).fit((x - mean) / scale, np.asarray(years, dtype=float))
        return cls(mean, scale, np.asarray(ridge.coef_, dtype=np.float64), float(ridge.intercept_))

    def estimate(self, features: PeopleFeatures) -> Estimates:
        """The year the people suggest, variance 1; absent where nobody was found."""
        years = ((np.asarray(features.vectors, dtype=np.float64) - self.mean) / self.scale) @ self.weight
        years = np.where(features.present, years + self.intercept, 0.0)
        return Estimates(years, np.ones(len(years)), features.present.copy())

    def save(self, path: Path) -> None:
        np.savez_compressed(path, mean=self.mean, scale=self.scale, weight=self.weight,
                            intercept=np.array(self.intercept))

    @classmethod
    def load(cls, path: Path) -> PeopleModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["mean"], data["scale"], data["weight"], float(data["intercept"]))


def fit_people(features: PeopleFeatures, years: np.ndarray) -> PeopleModel | None:
    """The people model on every record with people (None when fewer than MIN_TO_FIT have any)."""
    at = np.flatnonzero(features.present)
    if len(at) < MIN_TO_FIT:
        return None
    return PeopleModel.fit(features.vectors[at], np.asarray(years, dtype=float)[at])


def people_oof(features: PeopleFeatures, years: np.ndarray, folds: np.ndarray) -> Estimates:
    """Out-of-fold people estimates on `folds` (the folds every source uses); silent in a fold whose other
    folds hold fewer than MIN_TO_FIT records with people."""
    n = len(years)
    out = Estimates.absent(n)
    for fold in np.unique(folds):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model = fit_people(PeopleFeatures(features.vectors[train], features.present[train]),
                           np.asarray(years, dtype=float)[train])
        if model is not None:
            out.put(test, model.estimate(PeopleFeatures(features.vectors[test], features.present[test])))
    return out
