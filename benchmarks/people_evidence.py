"""Does the people source help? 5-fold CV ablation of the fusion with and without it, and how often people are found.

    python benchmarks/people_evidence.py [--export DIR] [--out benchmarks/results/people_evidence_real.txt]

Without --export it imports ../shared/real-photos as benchmarks/evidence.py does (10-year bins, 288 px);
with --export it reads any export (a replica export: its figures' clothes change with the decade).
The picture head is lite0 ridge on frozen features; the people source is modeling/evidence/people.py on the
same backbone, detections from dataset.people (cached per feature-cache folder). For each of --seeds fold
seeds it scores both fusions on the same folds; the verdict compares the mean per-fold MAE difference with
its spread (the people source ships on by default only if it is lower beyond the spread and coverage holds).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from benchmarks.evidence import import_real  # noqa: E402
from modeling.evidence.ablation import ABLATION_COLUMNS  # noqa: E402
from modeling.evidence.fit import evaluate_evidence  # noqa: E402
from modeling.evidence.people import people_boxes, people_features, people_oof  # noqa: E402
from modeling.evidence.picture import picture_estimates  # noqa: E402
from modeling.features.cv import cross_validate, fold_indices, unique_rows  # noqa: E402
from modeling.features.run import embed_export  # noqa: E402
from modeling.inference.report import table  # noqa: E402
from modeling.training.config import TrainConfig  # noqa: E402

K = 5


def fold_maes(years: np.ndarray, estimate: np.ndarray, folds: np.ndarray) -> np.ndarray:
    return np.array([np.abs(years[folds == f] - estimate[folds == f]).mean() for f in np.unique(folds)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=None, help="An export (default: import the real photographs).")
    parser.add_argument("--feature-cache", type=Path, default=None, help="Feature and detection cache [temporary].")
    parser.add_argument("--seeds", type=int, default=3, help="Fold seeds: each a fresh 5-fold split.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/people_evidence_real.txt"))
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"# benchmarks/people_evidence.py on {platform.node()}: {os.cpu_count()} CPUs, load average at start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other engineers share this machine)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export_dir = args.export or import_real(root)
        cache = args.feature_cache or root / "features"
        config = TrainConfig(data=export_dir, out=root / "run", arch="tf_efficientnet_lite0", img_size=224,
                             head_only=True, cv=K, workers=0, feature_cache=cache, task="regress", loss="ridge")
        export, model, mean, std, _, by_file = embed_export(config, show=False)
        rows = unique_rows(export)
        paths = [export.root / row.file for row in rows]
        start, cpu = time.perf_counter(), time.process_time()
        boxes = people_boxes(paths, cache)
        detect_s, detect_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        people = people_features(model, paths, boxes, config.img_size, mean, std)
        embed_s, embed_cpu = time.perf_counter() - start, time.process_time() - cpu
        faces = np.array([sum(p.kind == "face" for p in b) for b in boxes])
        figures = np.array([sum(p.kind == "figure" for p in b) for b in boxes])
        say(f"export {export_dir if args.export else '(the 200 real photographs, 10y bins)'}: {len(rows)} records; "
            f"people found in {people.present.mean():.1%} ({people.present.sum()}): a face in {(faces > 0).mean():.1%}, "
            f"a figure in {(figures > 0).mean():.1%}; {faces.sum()} faces, {figures.sum()} figures")
        say(f"detection {detect_s:.1f} s wall, {detect_cpu:.1f} s CPU (0 when cached); crop embedding {embed_s:.1f} s "
            f"wall, {embed_cpu:.1f} s CPU")
        years = np.array([row.year for row in rows], dtype=float)
        by_decade = {}
        for year, found in zip(years, people.present, strict=True):
            by_decade.setdefault(int(year) // 10 * 10, []).append(found)
        say("people found per decade: " + ", ".join(f"{d}s {np.mean(v):.0%} of {len(v)}" for d, v in
                                                     sorted(by_decade.items())))
        features = np.stack([by_file[row.file] for row in rows])
        paired, summary = [], []
        for seed in range(args.seeds):
            seeded = replace(config, seed=seed)
            cv = cross_validate(features, rows, seeded, export)
            picture = picture_estimates(cv.outputs, seeded.task, export.edges, export.year_range)
            folds = fold_indices(rows, K, seed)
            without = evaluate_evidence(rows, folds, picture, export.edges, export.labels)
            with_people = evaluate_evidence(rows, folds, picture, export.edges, export.labels,
                                            people=people_oof(people, years, folds))
            if seed == 0:
                say(f"\n## fold seed 0: without the people source (sources: {'+'.join(without.sources)})")
                say(table(list(without.ablation), ABLATION_COLUMNS))
                say(f"\n## fold seed 0: with it (sources: {'+'.join(with_people.sources)})")
                say(table(list(with_people.ablation), ABLATION_COLUMNS))
            diff = fold_maes(years, with_people.fused.year, folds) - fold_maes(years, without.fused.year, folds)
            paired.extend(diff.tolist())
            fused = {name: next(r for r in cv_.ablation if r["source"].startswith("fusion"))
                     for name, cv_ in (("without", without), ("with", with_people))}
            alone = next((r for r in with_people.ablation if r["source"] == "people"), None)
            summary.append({"fold seed": seed, "fusion MAE without": fused["without"]["mae"],
                            "fusion MAE with": fused["with"]["mae"],
                            "coverage without": fused["without"]["coverage"], "coverage with": fused["with"]["coverage"],
                            "people alone MAE": alone["mae"] if alone else float("nan"),
                            "people alone n": alone["n"] if alone else 0})
        say(f"\n## fusion with and without the people source, {args.seeds} fold seeds x {K} folds")
        say(table(summary, list(summary[0])))
        paired = np.array(paired)
        spread = float(paired.std(ddof=1)) if len(paired) > 1 else 0.0
        coverage_kept = all(s["coverage with"] >= s["coverage without"] - 0.02 for s in summary)
        helps = paired.mean() < 0 and abs(paired.mean()) > spread and coverage_kept
        say(f"\nper-fold MAE change with people (with - without): mean {paired.mean():+.3f} y, spread (sd over "
            f"{len(paired)} folds) {spread:.3f} y; coverage kept: {'yes' if coverage_kept else 'NO'}")
        say("verdict: " + ("helps beyond the fold spread: ship it in --evidence all" if helps else
                           "does not help beyond the fold spread: keep it behind --evidence all+people"))
    say(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
