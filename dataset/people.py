"""Find the people in a photograph: faces and whole figures, each a box with a score, offline.

The detectors are the ones opencv-python-headless 4.x ships inside its wheel (no download): Haar
cascades for frontal and profile faces and the HOG people detector for standing figures. OpenCV is an
optional extra (`pip install -e '.[people]'`); without it `detect_people` raises `PeopleUnavailable`.
Boxes are in the pixels of the picture given, (x0, y0) top-left inclusive, (x1, y1) exclusive.

    >>> from PIL import Image
    >>> detect_people(Image.new("RGB", (200, 150), "grey"))  # doctest: +SKIP
    []
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from db.errors import PipelineError

FACE, FIGURE = "face", "figure"


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


def _cv2():
    try:
        import cv2
    except ImportError as error:
        raise PeopleUnavailable(
            "Detecting people needs OpenCV. Install it with: pip install -e '.[people]'"
        ) from error
    return cv2


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
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    boxes, _, weights = cascade.detectMultiScale3(
        pixels, scaleFactor=1.1, minNeighbors=config.face_neighbours,
        minSize=(config.min_face, config.min_face), outputRejectLevels=True,
    )
    return [Person(FACE, int(x), int(y), int(x + w), int(y + h), float(s))
            for (x, y, w, h), s in zip(boxes, np.ravel(weights), strict=True)]


def _figures(cv2, pixels: np.ndarray, config: PeopleConfig) -> list[Person]:
    if min(pixels.shape) < 128:
        return []
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    boxes, weights = hog.detectMultiScale(pixels, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [Person(FIGURE, int(x), int(y), int(x + w), int(y + h), float(s))
            for (x, y, w, h), s in zip(boxes, np.ravel(weights), strict=True) if s >= config.figure_min_score]
