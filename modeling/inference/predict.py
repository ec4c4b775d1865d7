"""A trained run's picture model: `Predictor` (what `PictureDater` wraps), and `predict_paths` for `cli.py predict`.

Every output a person reads is an `Answer` (modeling/answer.py) from a dater (modeling/inference/dater.py);
`Predictor.predict`'s dict is the same answer in the shape cross-validation's oof.csv is written from.

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
from modeling.answer import INTERVAL_LEVEL, Answer, RecordFacts, make_answer
from modeling.decode import Decoded, decode_outputs, year_interval
from modeling.errors import ImageTooLarge, NoImages, UnreadableImage
from modeling.runs import load_run_model, read_metrics, read_run_config
from modeling.tensors import eval_array

__all__ = ["Predictor", "load_image", "predict_paths", "UnreadableImage", "ImageTooLarge"]


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
        return [answer_dict(a, self.config["task"]) for a in self.answers(images, top_k)]

    def decode(self, images: list[Image.Image]) -> Decoded:
        """One forward pass over `images`, decoded into bin probabilities and years (modeling.decode)."""
        batch = self.inputs(images)
        with self._lock, torch.inference_mode():
            outputs = self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()
        return decode_outputs(outputs, self.config["task"], self.edges, self.config["year_range"],
                              sigma=self.config.get("residual_sigma"))

    def answers(self, images: list[Image.Image], top_k: int | None = None) -> list[Answer]:
        """The picture's Answer for each image, listing its `top_k` most probable periods (None: all), without
        evidence sentences (PictureDater adds them)."""
        decoded = self.decode(images) if images else None
        return [picture_answer(decoded, row, self.labels, self.edges, self.config["year_range"], top_k)
                for row in range(len(images))]


def picture_answer(decoded: Decoded, row: int, labels, edges, year_range, top_k: int | None = 3) -> Answer:
    """One decoded row as an Answer: the expected year, its central 80% interval, the period holding the year."""
    probs = decoded.probs[row]
    low, high = year_interval(decoded, row, edges, year_range, INTERVAL_LEVEL)
    order = np.argsort(-probs, kind="stable")[: None if top_k is None else max(1, top_k)]
    return make_answer(float(decoded.years[row]), low, high, INTERVAL_LEVEL, edges=edges, labels=labels,
                       sources=("picture",), top=[(labels[i], float(probs[i])) for i in order])


def answer(decoded: Decoded, row: int, labels, edges, year_range, task: str, top_k: int = 3) -> dict:
    """picture_answer as a dict (top bins, year, interval, the period holding the year, unsure, task)."""
    return answer_dict(picture_answer(decoded, row, labels, edges, year_range, top_k), task)


def answer_dict(said: Answer, task: str) -> dict:
    return {"top": [{"bin": label, "probability": round(p, 4)} for label, p in said.top], "year": said.year,
            "interval": {"low": said.low, "high": said.high, "level": said.level},
            "year_bin": said.period, "unsure": said.unsure, "task": task}


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


def predict_paths(dater, paths: list[str | Path], top_k: int = 3, progress=None,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> list[dict]:
    """One row per image: {"file", **Answer.to_dict()} (its `top_k` most probable periods) or {"file", "error"};
    a bad file never stops the rest.

    `dater` is any modeling.answer.Dater with an `img_size` (modeling.inference.dater.load_dater); a file
    brings no catalogue facts, so a fused dater answers from the picture and says so.
    """
    rows = []
    files = collect_images(paths)
    if not files:
        raise NoImages(f"No image files found under {', '.join(map(str, paths))}; expected files or folders "
                    f"with {', '.join(sorted(READABLE_EXTENSIONS))}.")
    for path in files if progress is None else progress(files):
        try:
            image = load_image(path, min_side=dater.img_size, max_pixels=max_pixels)
        except (UnreadableImage, ImageTooLarge) as exc:
            rows.append({"file": str(path), "error": str(exc)})
            continue
        said = dater.date([RecordFacts()], [image])[0].to_dict()
        rows.append({"file": str(path), **said, "top": said["top"][:top_k]})
    return rows
