"""What the detection stage stored, read back for the reports: per image, its people and category.

balance-report counts the categories per period and export writes them into manifest.csv; both read
them here, a window of pictures at a time. On an archive nobody ran `cli.py detect` on, any_examined is
False and their outputs stay as they were.

>>> examined = people_of(engine, [41, 42])  # doctest: +SKIP
>>> examined[42]  # doctest: +SKIP
ImagePeople(people=2, faces=2, figures=0, category='group')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from dataset.people import CATEGORIES
from db.models import PeopleScan
from db.session import session_scope

NOT_EXAMINED = "not_examined"  # not examined yet, or its examination failed (people_scans.status 'failed')
# Report columns: the categories, then the images without an answer.
COLUMNS = (*CATEGORIES, NOT_EXAMINED)
ID_CHUNK = 900  # image ids per IN (...) list: under SQLite's old 999-parameter limit


@dataclass(frozen=True, slots=True)  # slots: one per examined image, millions in a large archive
class ImagePeople:
    people: int  # people counted once (dataset.people.count_people)
    faces: int  # face boxes
    figures: int  # figure boxes
    category: str  # dataset.people.CATEGORIES


def any_examined(engine: Engine) -> bool:
    """Whether `cli.py detect` ever examined an image of this archive."""
    with session_scope(engine) as session:
        return session.execute(select(PeopleScan.image_id).limit(1)).first() is not None


def people_of(engine: Engine, image_ids: Sequence[int]) -> dict[int, ImagePeople]:
    """image_id -> what was found, for those of `image_ids` examined successfully (a window of pictures)."""
    found: dict[int, ImagePeople] = {}
    with session_scope(engine) as session:
        for start in range(0, len(image_ids), ID_CHUNK):
            found.update((image_id, ImagePeople(people, faces, figures, category)) for image_id, people, faces, figures,
                         category in session.execute(
                             select(PeopleScan.image_id, PeopleScan.people, PeopleScan.faces, PeopleScan.figures,
                                    PeopleScan.category)
                             .where(PeopleScan.status == "ok", PeopleScan.image_id.in_(image_ids[start:start + ID_CHUNK]))))
    return found


def category_of(examined: dict[int, ImagePeople], image_id: int) -> str:
    """The image's category, or NOT_EXAMINED."""
    found = examined.get(image_id)
    return NOT_EXAMINED if found is None else found.category
