"""How many of the replica's drawn people do the detectors find? (dataset.people on crawler.replica pictures)

    python benchmarks/replica_people.py [--pictures 200] [--out benchmarks/results/replica_people.txt]

Each picture is rendered twice, with its people and with draw_figure switched off; where the two differ
are the people (overlapping figures merge into one group). A group counts as found when a face or figure
box's centre falls inside it. Reported: pictures with people drawn, pictures where anything was found,
groups found, and per era.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

import crawler.replica.photos as photos  # noqa: E402
from dataset.people import detect_people  # noqa: E402


def _without_people(year: int, seed: int):
    drawn = photos.draw_figure
    photos.draw_figure = lambda *args, **kwargs: None
    try:
        return photos.render_photo(year, seed)
    finally:
        photos.draw_figure = drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/replica_people.txt"))
    args = parser.parse_args()
    rows = []
    cpu = time.process_time()
    for k in range(args.pictures):
        year = 1860 + (k * 37) % 140
        picture = np.asarray(photos.render_photo(year, k), dtype=int)
        bare = np.asarray(_without_people(year, k), dtype=int)
        groups, count = ndimage.label(np.abs(picture - bare).sum(axis=2) > 24)
        sizes = np.bincount(groups.ravel())[1:] if count else np.zeros(0)
        real = [g + 1 for g in range(count) if sizes[g] >= 150]  # specks of changed grain are not people
        found = detect_people(photos.render_photo(year, k))
        hit = set()
        for person in found:
            cy, cx = (person.y0 + person.y1) // 2, (person.x0 + person.x1) // 2
            if 0 <= cy < groups.shape[0] and 0 <= cx < groups.shape[1] and groups[cy, cx] in real:
                hit.add(int(groups[cy, cx]))
        rows.append((year, len(real), len(hit), bool(found), sum(p.kind == "face" for p in found),
                     sum(p.kind == "figure" for p in found)))
    seconds = time.process_time() - cpu
    data = np.array(rows)
    with_people = data[:, 1] > 0
    lines = [f"# benchmarks/replica_people.py on {platform.node()}: {os.cpu_count()} CPUs, load average "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other engineers share this machine)",
             f"{args.pictures} replica pictures (320x240, years 1860-1999): people drawn in {with_people.sum()}; "
             f"something found in {data[:, 3].sum()} ({data[:, 3].mean():.0%}); drawn groups of people "
             f"{data[:, 1].sum()}, found {data[:, 2].sum()} ({data[:, 2].sum() / max(data[:, 1].sum(), 1):.0%}); "
             f"boxes: {data[:, 4].sum()} faces, {data[:, 5].sum()} figures, "
             f"{data[:, 3].sum() - (data[:, 3] & with_people).sum()} pictures with a box but nobody drawn",
             "per era: " + ", ".join(
                 f"{lo}-{lo + 39}: groups found {data[(data[:, 0] >= lo) & (data[:, 0] < lo + 40), 2].sum()} of "
                 f"{data[(data[:, 0] >= lo) & (data[:, 0] < lo + 40), 1].sum()}" for lo in range(1860, 2000, 40)),
             f"{seconds:.1f} s CPU in all (two renders and one detection per picture)"]
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
