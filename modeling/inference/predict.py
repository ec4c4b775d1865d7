"""Date photographs with a trained run: `Predictor` (used by `cli.py predict` and the web app).

>>> predictor = Predictor.from_run_dir("runs/lite0")  # doctest: +SKIP
>>> predictor.predict(load_image("photo.jpg"), top_k=3)["year"]  # doctest: +SKIP
1951
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dataset.imageio import READABLE_EXTENSIONS, load_image, to_mode
from db.pixels import DEFAULT_MAX_PIXELS
from modeling.decode import Decoded, decode_outputs, year_interval, year_to_bin
from modeling.errors import ImageTooLarge, NoImages, UnreadableImage
from modeling.runs import load_run_model, read_metrics, read_run_config
from modeling.tensors import eval_array

__all__ = ["Predictor", "load_image", "predict_paths", "UnreadableImage", "ImageTooLarge"]
INTERVAL_LEVEL = 0.8
# Normalised entropy from which an answer counts as unsure: over 7 bins, a top bin at 35% with the rest
# spread evenly is unsure (0.93), one at 50% is not (0.81).
UNSURE_ENTROPY = 0.9


class Predictor:
    """A loaded run. Load once with from_run_dir; predict() is safe to call from several threads."""

    def __init__(self, model: torch.nn.Module, config: dict, run_dir: Path, device: str = "cpu"):
        self.model, self.config, self.run_dir, self.device = model.to(device).eval(), config, run_dir, device
        self.edges = tuple(config["bins"]["edges"])
        self.labels = tuple(config["bins"]["labels"])
        self.mean, self.std = tuple(config["mean"]), tuple(config["std"])
        self.img_size = int(config["img_size"])
        self._lock = threading.Lock()

    @classmethod
    def from_run_dir(cls, path: str | Path, device: str = "cpu") -> Predictor:
        run_dir = Path(path)
        model, config = load_run_model(run_dir, read_run_config(run_dir))
        return cls(model, config, run_dir, device)

    def describe(self) -> dict:
        """What the web app shows about the model: arch, task, labels, input size and validation metrics."""
        return {"arch": self.config["arch"], "task": self.config["task"], "labels": list(self.labels),
                "edges": list(self.edges), "img_size": self.img_size, "year_range": self.config["year_range"],
                "export": self.config.get("export"), "metrics": read_metrics(self.run_dir),
                "validated_on": self.config.get("validated_on")}

    def predict(self, image: Image.Image, top_k: int = 3) -> dict:
        """Top-k bins with probabilities, the expected year and a central 80% interval (JSON-able)."""
        return self.predict_batch([image], top_k)[0]

    def inputs(self, images: list[Image.Image]) -> np.ndarray:
        """The batch (N, 3, S, S) the model sees: the same centre view as evaluation, from dataset.imageio pixels."""
        return np.stack([eval_array(to_mode(im, "RGB"), self.img_size, self.mean, self.std) for im in images])

    def predict_batch(self, images: list[Image.Image], top_k: int = 3) -> list[dict]:
        batch = self.inputs(images)
        with self._lock, torch.inference_mode():
            outputs = self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()
        return [self._decode(row, top_k) for row in outputs]

    def _decode(self, output: np.ndarray, top_k: int) -> dict:
        decoded = decode_outputs(output[None, :], self.config["task"], self.edges, self.config["year_range"],
                                 sigma=self.config.get("residual_sigma"))
        return answer(decoded, 0, self.labels, self.edges, self.config["year_range"], self.config["task"], top_k)


def answer(decoded: Decoded, row: int, labels, edges, year_range, task: str, top_k: int = 3) -> dict:
    """What a user is told about one decoded row (JSON-able): top bins, year, interval, and how sure.

    `unsure` is set when the probabilities are nearly flat (normalised entropy >= UNSURE_ENTROPY): the
    expected year then sits mid-range while the top bin may sit at an end, so the interval leads.
    `year_bin` is the bin holding the year, which can differ from the most probable bin.
    """
    probs, year = decoded.probs[row], float(decoded.years[row])
    low, high = year_interval(decoded, row, edges, year_range, INTERVAL_LEVEL)
    order = np.argsort(-probs, kind="stable")[: max(1, top_k)]
    return {"top": [{"bin": labels[i], "probability": round(float(probs[i]), 4)} for i in order],
            "year": int(round(year)),
            "interval": {"low": int(np.floor(low)), "high": int(np.ceil(high)), "level": INTERVAL_LEVEL},
            "year_bin": labels[int(year_to_bin([year], edges)[0])],
            "unsure": bool(flatness(probs) >= UNSURE_ENTROPY),
            "task": task}


def flatness(probs: np.ndarray) -> float:
    """Entropy of `probs` over its maximum log(K): 0 for a certain answer, 1 for a uniform one.

    >>> round(flatness(np.array([0.25, 0.25, 0.25, 0.25])), 3), round(flatness(np.array([1.0, 0.0])), 3)
    (1.0, 0.0)
    """
    p = np.asarray(probs, dtype=np.float64)
    if len(p) < 2:
        return 0.0
    nonzero = p[p > 0]
    return max(0.0, float(-(nonzero * np.log(nonzero)).sum() / np.log(len(p))))  # never -0.0 for a certain answer


def collect_images(paths: list[str | Path]) -> list[Path]:
    """Files as given, folders expanded (recursively, sorted) to their image files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READABLE_EXTENSIONS))
        else:
            found.append(path)
    return found


def predict_paths(predictor: Predictor, paths: list[str | Path], top_k: int = 3, progress=None,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> list[dict]:
    """One row per image: {"file", **prediction} or {"file", "error"}; a bad file never stops the rest."""
    rows = []
    files = collect_images(paths)
    if not files:
        raise NoImages(f"No image files found under {', '.join(map(str, paths))}; expected files or folders "
                    f"with {', '.join(sorted(READABLE_EXTENSIONS))}.")
    for path in files if progress is None else progress(files):
        try:
            image = load_image(path, min_side=predictor.img_size, max_pixels=max_pixels)
        except (UnreadableImage, ImageTooLarge) as exc:
            rows.append({"file": str(path), "error": str(exc)})
            continue
        rows.append({"file": str(path), **predictor.predict(image, top_k)})
    return rows
