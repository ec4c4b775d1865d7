"""Find the people in a photograph: faces and whole figures, each a box with a score, offline.

The detectors are the ones opencv-python-headless 4.x ships inside its wheel (no download): Haar
cascades for frontal and profile faces (profiles looked for both ways, on the picture and its mirror;
a profile overlapping a frontal face is the same face) and the HOG people detector for standing figures. OpenCV is an
optional extra (`pip install -e '.[people]'`); without it `detect_people` raises `PeopleUnavailable`.
Boxes are in the pixels of the picture given, (x0, y0) top-left inclusive, (x1, y1) exclusive.

    >>> from PIL import Image
    >>> detect_people(Image.new("RGB", (200, 150), "grey"))  # doctest: +SKIP
    []
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from db.errors import PipelineError

FACE, FIGURE = "face", "figure"
# What a photograph shows, from its boxes (category()): in report order.
NONE, PORTRAIT, ONE, GROUP = "none", "portrait", "one", "group"
CATEGORIES = (PORTRAIT, GROUP, ONE, NONE)
# Bump when the detection code changes what it finds for the same settings: stored results are then redone.
DETECTOR_REVISION = 1


class PeopleUnavailable(PipelineError):
    """OpenCV (the optional extra that carries the detectors) is not installed."""


@dataclass(frozen=True)
class Person:
    kind: str  # FACE or FIGURE
    x0: int  # left edge, pixels of the picture given
    y0: int  # top edge
    x1: int  # right edge (exclusive)
    y1: int  # bottom edge (exclusive)
    score: float  # detector confidence; larger is surer (comparable only within a kind)


@dataclass(frozen=True)
class PeopleConfig:
    max_side: int = 640  # the picture is shrunk to this longest side before detecting (speed), boxes scaled back
    min_face: int = 24  # smallest face side searched, pixels of the shrunk picture
    face_neighbours: int = 5  # Haar minNeighbors: higher finds fewer, surer faces
    figure_min_score: float = 0.5  # HOG SVM score below which a figure is dropped
    portrait_face_share: float = 0.15  # a lone face at least this share of the picture's short side makes a portrait
    profile_faces: bool = True  # also look for faces in profile (both ways); a profile overlapping a frontal face is dropped
    profile_neighbours: int = 5  # Haar minNeighbors for the profile cascade
    face_overlap: float = 0.3  # two face boxes overlapping this much (intersection over union) are one face


def _cv2():
    try:
        import cv2
    except ImportError as error:
        raise PeopleUnavailable(
            "Detecting people needs OpenCV. Install it with: pip install -e '.[people]'"
        ) from error
    return cv2


_CASCADES = threading.local()


def detect_people(image: Image.Image, config: PeopleConfig = PeopleConfig()) -> list[Person]:
    """Faces and figures in `image` (any mode), largest score first within each kind."""
    cv2 = _cv2()
    grey = image.convert("L")
    scale = min(1.0, config.max_side / max(grey.size))
    if scale < 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))))
    pixels = np.asarray(grey)
    found = [*_faces(cv2, pixels, config), *_figures(cv2, pixels, config)]
    back = 1.0 / scale
    return [
        Person(p.kind, int(p.x0 * back), int(p.y0 * back), int(np.ceil(p.x1 * back)), int(np.ceil(p.y1 * back)),
               p.score)
        for p in sorted(found, key=lambda p: (p.kind, -p.score))
    ]


def _faces(cv2, pixels: np.ndarray, config: PeopleConfig) -> list[Person]:
    frontal = _cascade(cv2, "haarcascade_frontalface_default.xml", pixels, config.face_neighbours, config)
    if not config.profile_faces:
        return frontal
    width = pixels.shape[1]
    profile = _cascade(cv2, "haarcascade_profileface.xml", pixels, config.profile_neighbours, config)
    # The profile cascade finds faces turned one way; the mirrored picture gives the other way.
    mirrored = _cascade(cv2, "haarcascade_profileface.xml", np.ascontiguousarray(pixels[:, ::-1]),
                        config.profile_neighbours, config)
    profile += [Person(FACE, width - p.x1, p.y0, width - p.x0, p.y1, p.score) for p in mirrored]
    kept = list(frontal)
    for face in sorted(profile, key=lambda p: -p.score):
        if all(_overlap(face, other) < config.face_overlap for other in kept):
            kept.append(face)
    return kept


def _classifier(cv2, name: str):
    """The cascade in OpenCV's file `name`, loaded once per thread (reading its XML costs 13-25 ms a time, and
    a classifier is not shared between threads)."""
    loaded = _CASCADES.__dict__.setdefault("by_name", {})
    if name not in loaded:
        loaded[name] = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    return loaded[name]


def _cascade(cv2, name: str, pixels: np.ndarray, neighbours: int, config: PeopleConfig) -> list[Person]:
    cascade = _classifier(cv2, name)
    boxes, _, weights = cascade.detectMultiScale3(
        pixels, scaleFactor=1.1, minNeighbors=neighbours,
        minSize=(config.min_face, config.min_face), outputRejectLevels=True,
    )
    return [Person(FACE, int(x), int(y), int(x + w), int(y + h), float(s))
            for (x, y, w, h), s in zip(boxes, np.ravel(weights), strict=True)]


def _overlap(a: Person, b: Person) -> float:
    """Intersection over union of two boxes."""
    width = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    height = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = width * height
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union else 0.0


def _figures(cv2, pixels: np.ndarray, config: PeopleConfig) -> list[Person]:
    if min(pixels.shape) < 128:
        return []
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    boxes, weights = hog.detectMultiScale(pixels, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [Person(FIGURE, int(x), int(y), int(x + w), int(y + h), float(s))
            for (x, y, w, h), s in zip(boxes, np.ravel(weights), strict=True) if s >= config.figure_min_score]


def detector_version(config: PeopleConfig = PeopleConfig()) -> str:
    """Names the detector and its settings, e.g. "opencv4.14-haar-hog-1:3f2a9c0d": stored results of another are redone."""
    cv2 = _cv2()
    major_minor = ".".join(cv2.__version__.split(".")[:2])
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:8]
    return f"opencv{major_minor}-haar-hog-{DETECTOR_REVISION}:{digest}"


def count_people(found: list[Person]) -> int:
    """People in the picture, each once: every figure, plus every face whose centre lies in no figure.

    >>> count_people([Person(FIGURE, 0, 0, 50, 100, 1.0), Person(FACE, 10, 5, 30, 25, 9.0), Person(FACE, 60, 5, 80, 25, 9.0)])
    2
    """
    figures = [p for p in found if p.kind == FIGURE]
    alone = [f for f in found if f.kind == FACE and not any(_centre_inside(f, g) for g in figures)]
    return len(figures) + len(alone)


def category(found: list[Person], width: int, height: int, config: PeopleConfig = PeopleConfig()) -> str:
    """NONE, PORTRAIT (one person whose face spans portrait_face_share of the short side), ONE or GROUP.

    `width` and `height` are those of the picture the boxes are in.
    """
    people = count_people(found)
    if people == 0:
        return NONE
    if people >= 2:
        return GROUP
    short = min(width, height)
    prominent = any(p.kind == FACE and min(p.x1 - p.x0, p.y1 - p.y0) >= config.portrait_face_share * short
                    for p in found)
    return PORTRAIT if prominent else ONE


def _centre_inside(inner: Person, outer: Person) -> bool:
    cx, cy = (inner.x0 + inner.x1) / 2, (inner.y0 + inner.y1) / 2
    return outer.x0 <= cx < outer.x1 and outer.y0 <= cy < outer.y1
