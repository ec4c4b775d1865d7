"""How well the detection stage finds people: precision and recall on hand-counted real photographs, and speed.

The truth is benchmarks/people_labels.csv: 60 photographs of ../shared/real-photos (30 FSA/OWI 1935-1943,
black and white; 30 DOCUMERICA 1972-1975, colour; every third file of each collection in name order),
each looked at by one person (the i19-detect engineer, on a 600x500 contact sheet) who wrote down:
  people: every person visible, whole or in part, at any size, counted once (a crowd too dense to
          count is written 20); a face in a picture on a wall, a statue or a poster is not a person;
  faces:  the people whose face can be seen, frontal or in profile (not the back of a head, not a face
          hidden under a hat brim or too small to make out at 640 px).
Counts, not boxes, so the box scores here are count-based: per image, matched = min(found, true);
precision = sum(matched) / sum(found), recall = sum(matched) / sum(true). That credits a wrong box
that happens to stand in for a missed one: an upper bound on box precision and recall. Per-image
"has people" and "has a face" are exact.

The settings were tuned on the odd-numbered half of the list (--grid shows the candidates there);
the even half was not looked at while tuning and is reported apart, as the honest number.

    python benchmarks/people_quality.py                 # the default PeopleConfig, all three splits
    python benchmarks/people_quality.py --grid          # the candidate settings, on the tuning half only
    python benchmarks/people_quality.py --out benchmarks/results/people_quality.txt
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataset.detect import examine  # noqa: E402
from dataset.imageio import load_image  # noqa: E402
from dataset.people import FACE, PeopleConfig  # noqa: E402

LABELS = Path(__file__).resolve().parent / "people_labels.csv"
REAL_PHOTOS = Path(os.environ.get("FOTOFECHA_REAL_PHOTOS", "/work/shared/real-photos"))


@dataclass(frozen=True)
class Truth:
    file: str  # relative to real-photos/images
    people: int  # people counted by hand
    faces: int  # faces counted by hand


@dataclass(frozen=True)
class Found:
    people: int  # dataset.people.count_people of the boxes
    faces: int  # face boxes
    category: str  # dataset.people.category


def read_labels(path: Path = LABELS) -> list[Truth]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [Truth(r["file"], int(r["people"]), int(r["faces"])) for r in csv.DictReader(handle)]


def detect_all(truths: list[Truth], config: PeopleConfig) -> tuple[list[Found], float, float]:
    """What the stage finds on each file (the stage's own decode and scaling), CPU seconds and wall seconds."""
    found = []
    cpu, wall = time.process_time(), time.perf_counter()
    for truth in truths:
        path = REAL_PHOTOS / "images" / truth.file
        with Image.open(path) as header:
            width, height = header.size
        findings = examine(str(path), width, height, config)
        found.append(Found(findings.people, sum(p.kind == FACE for p in findings.boxes), findings.category))
    return found, time.process_time() - cpu, time.perf_counter() - wall


def decode_seconds(truths: list[Truth], config: PeopleConfig) -> float:
    """CPU seconds of the decode alone (the stage's: greyscale, JPEG draft at the detector's size): is a
    separate stage worth its own decode, or should detection ride on dedupe's (a 128 px decode, too small)?"""
    cpu = time.process_time()
    for truth in truths:
        path = REAL_PHOTOS / "images" / truth.file
        with Image.open(path) as header:
            width, height = header.size
        load_image(str(path), "L", min_side=math.ceil(config.max_side * min(width, height) / max(width, height)))
    return time.process_time() - cpu


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def scores(truths: list[Truth], found: list[Found]) -> dict[str, float]:
    pairs = list(zip(truths, found, strict=True))
    out = {}
    for name, has_true, has_found in (
        ("has_people", lambda t: t.people > 0, lambda f: f.people > 0),
        ("has_face", lambda t: t.faces > 0, lambda f: f.faces > 0),
    ):
        tp = sum(has_true(t) and has_found(f) for t, f in pairs)
        out[f"{name}_precision"] = _ratio(tp, sum(has_found(f) for _, f in pairs))
        out[f"{name}_recall"] = _ratio(tp, sum(has_true(t) for t, _ in pairs))
    for name, true_n, found_n in (("people", lambda t: t.people, lambda f: f.people),
                                  ("faces", lambda t: t.faces, lambda f: f.faces)):
        matched = sum(min(true_n(t), found_n(f)) for t, f in pairs)
        out[f"{name}_count_precision"] = _ratio(matched, sum(found_n(f) for _, f in pairs))
        out[f"{name}_count_recall"] = _ratio(matched, sum(true_n(t) for t, _ in pairs))
    return out


def _line(name: str, s: dict[str, float], n: int) -> str:
    return (f"{name:<22} n={n:<3} has-people P {s['has_people_precision']:.2f} R {s['has_people_recall']:.2f} | "
            f"has-face P {s['has_face_precision']:.2f} R {s['has_face_recall']:.2f} | "
            f"people count P {s['people_count_precision']:.2f} R {s['people_count_recall']:.2f} | "
            f"face count P {s['faces_count_precision']:.2f} R {s['faces_count_recall']:.2f}")


# Candidate settings tried on the tuning half (a handful, on purpose: 30 photographs cannot pick among many).
FIRST = PeopleConfig(min_face=24, face_neighbours=5, figure_min_score=0.5, profile_faces=False)
GRID = {
    "lead's first version": FIRST,
    "figures >= 1.0": replace(FIRST, figure_min_score=1.0),
    "faces 8 neighbours": replace(FIRST, face_neighbours=8),
    "faces 3, min 16": replace(FIRST, face_neighbours=3, min_face=16),
    "+ profiles 5": replace(FIRST, profile_faces=True, profile_neighbours=5),
    "+ profiles 8": replace(FIRST, profile_faces=True, profile_neighbours=8),
    "+ profiles 5, min 16": replace(FIRST, profile_faces=True, profile_neighbours=5, min_face=16),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="Score the candidate settings on the tuning half.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the report here.")
    args = parser.parse_args()
    truths = read_labels()
    tune = [t for k, t in enumerate(truths) if k % 2 == 1]
    held = [t for k, t in enumerate(truths) if k % 2 == 0]
    lines = [f"# benchmarks/people_quality.py on {platform.node()} ({os.cpu_count()} CPUs), "
             f"load average {os.getloadavg()[0]:.2f} at start (other engineers' jobs share the machine)"]
    if args.grid:
        for name, config in GRID.items():
            found, _, _ = detect_all(tune, config)
            lines.append(_line(name, scores(tune, found), len(tune)))
    else:
        config = PeopleConfig()
        found, cpu, wall = detect_all(truths, config)
        lines.append(f"# {config}")
        by_file = dict(zip((t.file for t in truths), found, strict=True))
        for name, part in (("all 60", truths), ("held-out (even) half", held), ("tuning (odd) half", tune),
                           ("FSA/OWI 1935-43", [t for t in truths if t.file.startswith("fsaowi/")]),
                           ("DOCUMERICA 1972-75", [t for t in truths if t.file.startswith("documerica/")])):
            lines.append(_line(name, scores(part, [by_file[t.file] for t in part]), len(part)))
        lines.append(f"speed: {len(truths)} photographs (600-640 px) decoded and examined in {cpu:.1f} CPU s "
                     f"({len(truths) / cpu:.1f} images per CPU second), {wall:.1f} s wall "
                     f"({len(truths) / wall:.1f} images/s, one process), load average {os.getloadavg()[0]:.2f} at end")
        decode = decode_seconds(truths, config)
        lines.append(f"of which decoding: {decode:.2f} CPU s ({100 * decode / cpu:.1f}% of the stage's CPU time): "
                     "sharing dedupe's decode would save at most that, so detect is a stage of its own")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
