"""Pooled backbone embeddings of image files, computed once and cached on disk.

A cache file holds the vectors of one `FeatureKey` (arch, weights, input size, preprocessing version),
one row per image sha256 (of the file's bytes). Its name is derived from the key and the key is stored
inside it, so a cache written for another arch, weights or size is never read by mistake: a file whose
stored key differs from the one asked for is refused with `StaleFeatureCache`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dataset.imageio import load_image
from db.errors import PipelineError
from db.progress import progress
from modeling.tensors import eval_array

# Bump when dataset.imageio.load_image or modeling.tensors.eval_array change the pixels a file becomes.
PREPROCESS_VERSION = 1


class StaleFeatureCache(PipelineError):
    """A feature cache file holds vectors for another arch, weights, input size or preprocessing."""


@dataclass(frozen=True)
class FeatureKey:
    arch: str  # timm model name
    weights: str  # where the body's weights came from: "imagenet", "file:<sha256>" or "random:<seed>"
    img_size: int  # square input side in pixels
    preprocess: int = PREPROCESS_VERSION  # version of the file -> pixels -> tensor path

    def file_name(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.arch}-{self.img_size}px-{digest}.npz"


def weights_id(pretrained: bool, weights: Path | None, seed: int) -> str:
    """FeatureKey.weights for a training config: a weights file is named by its content."""
    if weights is not None:
        return "file:" + file_sha256(Path(weights))
    return "imagenet" if pretrained else f"random:{seed}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Embedding:
    vectors: np.ndarray  # (N, D) float32, one row per file asked for, in order
    computed: int  # images pushed through the backbone this time
    reused: int  # images whose vectors came from the cache
    seconds: float  # wall time, hashing and decoding included
    cache_file: Path  # where the vectors are kept


class FeatureCache:
    """The vectors of one FeatureKey under `directory`, keyed by image sha256."""

    def __init__(self, directory: Path, key: FeatureKey):
        self.path = Path(directory) / key.file_name()
        self.key = key
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        with np.load(self.path, allow_pickle=False) as data:
            stored = json.loads(str(data["key"]))
            if stored != asdict(self.key):
                raise StaleFeatureCache(
                    f"{self.path} holds features for {stored.get('arch')} at {stored.get('img_size')} px "
                    f"(weights {stored.get('weights')}, preprocessing v{stored.get('preprocess')}), but "
                    f"{self.key.arch} at {self.key.img_size} px (weights {self.key.weights}, preprocessing "
                    f"v{self.key.preprocess}) was asked for. Delete that file or pass another --feature-cache.")
            self.vectors = dict(zip(data["sha256"].tolist(), data["vectors"], strict=True))

    def save(self) -> None:
        """Write atomically (temp file + rename): a killed run leaves the old cache or the new one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        shas = sorted(self.vectors)
        np.savez(tmp, key=np.array(json.dumps(asdict(self.key), sort_keys=True)), sha256=np.array(shas, dtype="U64"),
                 vectors=np.stack([self.vectors[s] for s in shas]).astype(np.float32))
        os.replace(tmp, self.path)


@torch.inference_mode()
def pooled(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The backbone's pooled features (what the classifier reads), shape (N, model.num_features)."""
    return model.forward_head(model.forward_features(batch), pre_logits=True).float()


def embed_files(model: nn.Module, files: list[Path], cache: FeatureCache, img_size: int, mean: tuple[float, ...],
                std: tuple[float, ...], batch_size: int = 32, show: bool = True) -> Embedding:
    """Vectors for `files` (in order): cached ones reused, the rest decoded, embedded and added to the cache."""
    start = time.perf_counter()
    model = model.eval()
    shas = [file_sha256(path) for path in files]
    todo = sorted({sha: path for sha, path in zip(shas, files, strict=True) if sha not in cache.vectors}.items())
    bar = progress(total=len(todo), desc=f"embedding ({cache.key.arch}, {img_size} px)", unit="image", leave=False,
                   enabled=show and bool(todo))
    for offset in range(0, len(todo), batch_size):
        chunk = todo[offset: offset + batch_size]
        arrays = [eval_array(load_image(path, min_side=img_size), img_size, mean, std) for _, path in chunk]
        vectors = pooled(model, torch.from_numpy(np.stack(arrays))).numpy()
        for (sha, _), vector in zip(chunk, vectors, strict=True):
            cache.vectors[sha] = vector
        bar.update(len(chunk))
    bar.close()
    if todo:
        cache.save()
    width = getattr(model, "num_features", None)
    vectors = np.stack([cache.vectors[sha] for sha in shas]) if shas else np.zeros((0, width or 0), np.float32)
    if width is not None and vectors.shape[1] != width:
        raise StaleFeatureCache(f"{cache.path} holds {vectors.shape[1]}-d vectors, {cache.key.arch} makes "
                                f"{width}-d ones. Delete that file or pass another --feature-cache.")
    return Embedding(vectors=vectors.astype(np.float32), computed=len(todo), reused=len(set(shas)) - len(todo),
                     seconds=time.perf_counter() - start, cache_file=cache.path)
