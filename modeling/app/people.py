"""The people in an uploaded photograph, for the page (boxes drawn over the preview) and the JSON API.

On when the app is served with people detection (`cli.py serve --people`, AppConfig.find_people); the
detection is the stage's own (dataset.detect.examine): the same decode, settings and counting rules.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from dataset.detect import ImageFindings, examine
from dataset.people import PeopleConfig
from db.pixels import UPLOAD_MAX_PIXELS


@dataclass(frozen=True)
class BoxView:
    kind: str  # face | figure
    left: float  # percent of the picture's width from its left edge
    top: float  # percent of its height from the top
    width: float  # percent of the picture's width
    height: float  # percent of its height


@dataclass(frozen=True)
class PeopleView:
    count: int  # people counted once (a face inside a figure is one person)
    category: str  # none | portrait | one | group (dataset.people.CATEGORIES)
    boxes: tuple[BoxView, ...]  # where to draw them over the preview


DEFAULT_PEOPLE = PeopleConfig()  # the stage's defaults: the page finds what `cli.py detect` finds


def find_people(data: bytes, config: PeopleConfig = DEFAULT_PEOPLE,
                max_pixels: int = UPLOAD_MAX_PIXELS) -> ImageFindings:
    """The stage's findings on an upload's bytes: boxes in the pixels of the upright photograph as sent."""
    with Image.open(io.BytesIO(data)) as header:
        width, height = header.size
    return examine(data, width, height, config, max_pixels)


def people_view(found: ImageFindings) -> PeopleView:
    """Boxes as percentages of the picture, so they sit on the preview at any size it is shown."""
    boxes = tuple(
        BoxView(p.kind, round(100 * p.x0 / found.width, 2), round(100 * p.y0 / found.height, 2),
                round(100 * (p.x1 - p.x0) / found.width, 2), round(100 * (p.y1 - p.y0) / found.height, 2))
        for p in found.boxes
    )
    return PeopleView(found.people, found.category, boxes)


def people_json(found: ImageFindings) -> dict:
    """The API's `people` object: the count, the category and each box in the upright photograph's pixels."""
    return {
        "count": found.people,
        "category": found.category,
        "width": found.width,
        "height": found.height,
        "boxes": [{"kind": p.kind, "x0": p.x0, "y0": p.y0, "x1": p.x1, "y1": p.y1, "score": round(p.score, 3)}
                  for p in found.boxes],
    }


def people_sentence(count: int, t: dict[str, str]) -> str:
    """"2 personas encontradas" / "2 people found" in the page's language (t = modeling.app.i18n.strings)."""
    if count == 0:
        return t["people_none"]
    if count == 1:
        return t["people_one"]
    return t["people_many"].format(n=count)
