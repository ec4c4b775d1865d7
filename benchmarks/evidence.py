"""Dating from all the evidence (modeling/evidence): each source alone, the fusion, the baselines, coverage.

    python benchmarks/evidence.py [--export DIR] [--backbones lite0,lite1,lite2] [--out benchmarks/results/evidence_real.txt]

Without --export it imports ../shared/real-photos (labels.csv: title, holder = photographer) with the
project's own `import`, `dedupe` and `export` (10-year bins from 1930, 288 px); with --export it reads any
export that carries the catalogue columns (a replica export once the replica has titles and holders).
Then, on 5-fold CV (modeling.features.cv.fold_indices, the picture head's folds):
(a) the ablation table for the picture head of each backbone (ridge on frozen features), the classify head
    on lite0, and the concatenated lite0+1+2 features (if asked for): each source alone, the fusion,
    the two baselines, MAE, accuracy, balanced accuracy, 80%-interval coverage and mean width;
(b) a learning curve of the fusion: the same, on seeded random subsets of the records;
(c) the text and holder models fitted on 100k synthetic catalogue records (seconds, wall and CPU).
"""

from __future__ import annotations

import argparse
import csv
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

from modeling.evidence.ablation import ABLATION_COLUMNS  # noqa: E402
from modeling.evidence.fit import evaluate_evidence  # noqa: E402
from modeling.evidence.groups import GroupPrior  # noqa: E402
from modeling.evidence.picture import picture_estimates  # noqa: E402
from modeling.evidence.text import TextModel, record_text  # noqa: E402
from modeling.features.cv import cross_validate, fold_indices, unique_rows  # noqa: E402
from modeling.inference.report import table  # noqa: E402
from modeling.training.config import TrainConfig  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-photos"
if not REAL.is_dir():
    REAL = Path("/work/shared/real-photos")
BACKBONES = {"lite0": ("tf_efficientnet_lite0", 224), "lite1": ("tf_efficientnet_lite1", 240),
             "lite2": ("tf_efficientnet_lite2", 260)}
K = 5


def import_real(root: Path) -> Path:
    """The real photographs with their titles and photographers, imported, deduplicated and exported."""
    from dataset.dedupe import DedupeConfig, run_dedupe
    from dataset.export import ExportConfig, run_export
    from dataset.importer import ImportConfig, run_import
    from db.session import make_engine

    url = f"sqlite:///{root / 'real.db'}"
    engine = make_engine(url)
    run_import(engine, ImportConfig(REAL / "images", REAL / "labels.csv", "real-photos", root / "images",
                                    progress=False))
    run_dedupe(engine, DedupeConfig(workers=1, progress=False))
    export = root / "real-export"
    run_export(engine, ExportConfig(out=export, bins="10y", origin=1930, image_size=288, workers=1, progress=False), url)
    engine.dispose()
    return export


def features_of(export: Path, names: list[str], cache: Path):
    """(export, unique rows, {backbone: features (N, D)}) from the feature cache (embedding what is missing)."""
    from modeling.features.run import embed_export

    out, export_read, rows = {}, None, None
    for name in names:
        arch, size = BACKBONES[name]
        config = TrainConfig(data=export, out=cache / "unused", arch=arch, img_size=size, head_only=True, cv=K,
                             workers=0, feature_cache=cache)
        export_read, _, _, _, embedding, by_file = embed_export(config, show=False)
        rows = unique_rows(export_read)
        out[name] = np.stack([by_file[row.file] for row in rows])
    return export_read, rows, out


def ablation_for(features: np.ndarray, rows, export, config: TrainConfig):
    """(picture head CV summary, EvidenceCV) on the K folds of `rows`."""
    cv = cross_validate(features, rows, config, export)
    picture = picture_estimates(cv.outputs, config.task, export.edges, export.year_range)
    folds = fold_indices(rows, config.cv, config.seed)
    return cv, evaluate_evidence(rows, folds, picture, export.edges, export.labels)


def synthetic_records(n: int, seed: int = 0) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """(titles, holders, places, years) of `n` catalogue-like records: era words, 2000 holders active ~15 years."""
    rng = np.random.default_rng(seed)
    eras = {start: [f"w{start}_{i}" for i in range(40)] for start in range(1860, 2020, 10)}
    common = [f"comun{i}" for i in range(3000)]
    holder_start = rng.integers(1860, 2005, 2000)
    holder_of = rng.integers(0, 2000, n)
    years = np.minimum(holder_start[holder_of] + rng.integers(0, 15, n), 2019)
    titles = []
    for year in years:
        words = list(rng.choice(eras[int(year) // 10 * 10], 2)) + list(rng.choice(common, 4))
        titles.append(" ".join(words) + (f", {year}" if rng.random() < 0.2 else ""))
    holders = [f"Estudio {h}" for h in holder_of]
    places = [f"Lugar {p}" for p in rng.integers(0, 500, n)]
    return titles, holders, places, years.astype(float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=None, help="An export with catalogue columns (default: import "
                                                                   "the real photographs).")
    parser.add_argument("--backbones", default="lite0,lite1,lite2", help="Picture heads to run, e.g. lite0.")
    parser.add_argument("--feature-cache", type=Path, default=None, help="Feature cache [default: a temporary one].")
    parser.add_argument("--curve-sizes", default="25,50,100,150", help="Records per learning-curve point.")
    parser.add_argument("--curve-seeds", type=int, default=3, help="Random subsets per learning-curve point.")
    parser.add_argument("--synthetic", type=int, default=100_000, help="Records for the fitting-time check.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/evidence_real.txt"))
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    names = [n.strip() for n in args.backbones.split(",") if n.strip()]
    say(f"# benchmarks/evidence.py on {platform.node()}: {os.cpu_count()} CPUs, load average at start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other engineers share this machine)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export_dir = args.export or import_real(root)
        cache = args.feature_cache or root / "features"
        start = time.perf_counter()
        export, rows, feats = features_of(export_dir, names, cache)
        say(f"export {export_dir if args.export else '(the 200 real photographs, 10y bins)'}: {len(rows)} records, "
            f"{sum(bool(r.title) for r in rows)} with a title, {sum(bool(r.description) for r in rows)} with a "
            f"description, {sum(bool(r.holder) for r in rows)} with a holder, {sum(bool(r.place) for r in rows)} with "
            f"a place; features of {', '.join(names)} in {time.perf_counter() - start:.0f} s")
        base = TrainConfig(data=export_dir, out=root / "run", head_only=True, cv=K, workers=0, task="regress",
                           loss="ridge")
        heads = [(f"{n} ridge", feats[n], base) for n in names]
        if "lite0" in feats:
            heads.append(("lite0 classify (ce)", feats["lite0"], replace(base, task="classify", loss=None)))
        if len(names) > 1:
            heads.append(("+".join(names) + " concatenated, ridge", np.concatenate([feats[n] for n in names], axis=1),
                          base))
        say(f"\n## (a) {K}-fold CV: each source alone (with the prior where silent), the fusion, the baselines")
        summary = []
        for label, features, config in heads:
            start, cpu = time.perf_counter(), time.process_time()
            cv, evidence = ablation_for(features, rows, export, config)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            say(f"\n### picture head: {label} (head CV MAE {cv.summary['mae']['mean']:.2f} "
                f"+- {cv.summary['mae']['std']:.2f} y; {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU for head CV + "
                f"evidence)")
            say(table(list(evidence.ablation), ABLATION_COLUMNS))
            by = {row["source"]: row for row in evidence.ablation}
            singles = [r for r in evidence.ablation if r["source"] in evidence.sources]
            best = min(singles, key=lambda r: r["mae"])
            fused = next(r for r in evidence.ablation if r["source"].startswith("fusion"))
            summary.append({"picture head": label, "picture MAE": by["picture"]["mae"], "best single": best["source"],
                            "best single MAE": best["mae"], "fusion MAE": fused["mae"],
                            "fusion coverage": fused["coverage"], "fusion width": fused["mean_width"],
                            "fusion below best single": "yes" if fused["mae"] < best["mae"] else "NO"})
        say("\n### summary")
        say(table(summary, list(summary[0])))

        sizes = [int(s) for s in args.curve_sizes.split(",") if int(s) < len(rows)] + [len(rows)]
        say(f"\n## (b) learning curve of the fusion (lite0 ridge picture head; {K}-fold CV inside each subset; mean of "
            f"{args.curve_seeds} seeded subsets, the full set once)")
        curve = []
        name0 = names[0]
        for size in sizes:
            seeds = range(args.curve_seeds) if size < len(rows) else range(1)
            points = []
            for seed in seeds:
                at = np.sort(np.random.default_rng(seed).choice(len(rows), size, replace=False))
                sub = [rows[i] for i in at]
                _, evidence = ablation_for(feats[name0][at], sub, export, base)
                by = {r["source"]: r for r in evidence.ablation}
                fused = next(r for r in evidence.ablation if r["source"].startswith("fusion"))
                singles = [r["mae"] for r in evidence.ablation if r["source"] in evidence.sources]
                points.append((fused["mae"], min(singles), by["picture"]["mae"], fused["coverage"],
                               fused["mean_width"], by["baseline: median year"]["mae"]))
            mean = np.mean(points, axis=0)
            curve.append({"records": size, "fusion_mae": mean[0], "best_single_mae": mean[1], "picture_mae": mean[2],
                          "coverage": mean[3], "mean_width": mean[4], "median_year_mae": mean[5]})
        say(table(curve, list(curve[0])))

        say(f"\n## (c) text and holder/place models fitted on {args.synthetic} synthetic catalogue records")
        titles, holders, places, years = synthetic_records(args.synthetic)
        start, cpu = time.perf_counter(), time.process_time()
        texts = [record_text(t, None) for t in titles]
        mask_s = time.perf_counter() - start
        text = TextModel.fit(texts, years)
        text_s, text_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        GroupPrior.fit(holders, years)
        GroupPrior.fit(places, years)
        group_s, group_cpu = time.perf_counter() - start, time.process_time() - cpu
        held_titles, _, _, held_years = synthetic_records(2000, seed=1)
        held_mae = float(np.abs(text.estimate([record_text(t, None) for t in held_titles]).year - held_years).mean())
        say(f"text model: {text_s:.1f} s wall ({mask_s:.1f} s of it masking dates), {text_cpu:.1f} s CPU; "
            f"MAE on 2000 new synthetic records {held_mae:.1f} y (their years masked)")
        say(f"holder + place priors: {group_s:.2f} s wall, {group_cpu:.2f} s CPU; together {text_s + group_s:.1f} s "
            f"wall, {text_cpu + group_cpu:.1f} s CPU (target: under 30 s; on a shared machine the CPU seconds are "
            f"what one free core would take)")
    say(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with args.out.with_suffix(".csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(summary)


if __name__ == "__main__":
    main()
