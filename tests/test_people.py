"""dataset/people.py: the detectors on real photographs (faces where a person located them by hand), and the
pure rules that turn boxes into a count of people and a category."""

from __future__ import annotations

import sys

import pytest
from PIL import Image

from dataset.people import (
    FACE,
    FIGURE,
    GROUP,
    NONE,
    ONE,
    PORTRAIT,
    PeopleConfig,
    PeopleUnavailable,
    Person,
    category,
    count_people,
    detect_people,
    detector_version,
)
from tests.conftest import REAL_PHOTOS

real_photos = pytest.mark.skipif(not (REAL_PHOTOS / "labels.csv").is_file(), reason="real-photos not present")
# documerica/543863.jpg (406x600): a girl and a woman, both facing the camera. Face centres located by hand
# (looking at the picture: between the eyes and the mouth), in its pixels.
TWO_FACES = "documerica/543863.jpg"
TWO_FACE_CENTRES = [(88, 150), (315, 320)]
# fsaowi/LC-USF33-006484.jpg: a field of stubble to the horizon, nobody in it.
EMPTY_FIELD = "fsaowi/LC-USF33-006484.jpg"


def _centre(p: Person) -> tuple[float, float]:
    return (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2


@real_photos
def test_both_faces_are_found_where_a_person_sees_them():
    pytest.importorskip("cv2")
    found = detect_people(Image.open(REAL_PHOTOS / "images" / TWO_FACES))
    faces = [p for p in found if p.kind == FACE]
    assert len(faces) == 2
    for cx, cy in TWO_FACE_CENTRES:  # every hand-located face lies in a box whose centre is close to it
        assert any(f.x0 <= cx < f.x1 and f.y0 <= cy < f.y1 and abs(_centre(f)[0] - cx) < 25
                   and abs(_centre(f)[1] - cy) < 25 for f in faces)
    assert category(found, 406, 600) == GROUP


@real_photos
def test_boxes_follow_the_picture_when_it_is_shrunk():
    """A 2x copy is shrunk to max_side before detecting; its boxes come back in its own (2x) pixels."""
    pytest.importorskip("cv2")
    photo = Image.open(REAL_PHOTOS / "images" / TWO_FACES)
    big = photo.resize((photo.width * 2, photo.height * 2))
    faces = [p for p in detect_people(big, PeopleConfig(max_side=600)) if p.kind == FACE]
    for cx, cy in TWO_FACE_CENTRES:
        assert any(abs(_centre(f)[0] - 2 * cx) < 50 and abs(_centre(f)[1] - 2 * cy) < 50 for f in faces)


@real_photos
def test_an_empty_field_has_nobody():
    pytest.importorskip("cv2")
    found = detect_people(Image.open(REAL_PHOTOS / "images" / EMPTY_FIELD))
    assert found == []
    assert category(found, 640, 452) == NONE


def test_a_face_inside_a_figure_is_one_person():
    figure = Person(FIGURE, 100, 50, 200, 300, 1.2)
    own_face = Person(FACE, 130, 60, 170, 100, 5.0)  # centre (150, 80): inside the figure
    other_face = Person(FACE, 300, 60, 340, 100, 5.0)
    assert count_people([figure, own_face]) == 1
    assert count_people([figure, own_face, other_face]) == 2
    assert count_people([]) == 0


def test_category_portrait_needs_a_prominent_face():
    # 400x600 picture: short side 400, so a portrait face is at least 0.15 * 400 = 60 px.
    big_face = Person(FACE, 150, 100, 250, 200, 8.0)  # 100 px
    small_face = Person(FACE, 150, 100, 190, 140, 8.0)  # 40 px
    assert category([big_face], 400, 600) == PORTRAIT
    assert category([small_face], 400, 600) == ONE
    assert category([Person(FIGURE, 0, 0, 64, 128, 1.0)], 400, 600) == ONE
    assert category([big_face, Person(FACE, 300, 100, 340, 140, 3.0)], 400, 600) == GROUP
    assert category([small_face], 400, 600, PeopleConfig(portrait_face_share=0.05)) == PORTRAIT


def test_detector_version_changes_with_the_settings():
    pytest.importorskip("cv2")
    assert detector_version(PeopleConfig()) == detector_version(PeopleConfig())
    assert detector_version(PeopleConfig()) != detector_version(PeopleConfig(figure_min_score=1.0))
    assert detector_version(PeopleConfig()).startswith("opencv4.")


def test_without_opencv_it_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if the optional extra were not installed
    with pytest.raises(PeopleUnavailable, match=r"pip install -e '\.\[people\]'"):
        detect_people(Image.new("L", (200, 200)))
