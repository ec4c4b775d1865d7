"""Dating the 200 real photographs of ../shared/real-photos, next to the baselines, with the seconds each path took.

    python benchmarks/real_photos.py [--replica-images 600] [--replica-epochs 6] [--out benchmarks/results/real_photos.txt]

(a) The demo recipe as it is (lite0, 128 px, balanced sampler, soft labels, --lr auto, trained on replica
    photographs rendered by crawler.replica, 20-year bins), applied to the real photographs.
(b) Head-only on frozen lite0 / lite1 / lite2 features at their native sizes, 5-fold CV over all 200
    (first run with a cold feature cache, then again warm).
(c) A short full fine-tune of lite0 (train split only), scored on the test split next to the head-only
    model on the same test photographs.
Then a learning curve: head-only lite0 CV MAE against 25, 50, 100 and 150 training photographs.

The 200 photographs cover only 1935-43 (FSA/OWI, mostly black and white) and 1972-75 (DOCUMERICA, colour):
they prove the mechanics on real photographs, not dating accuracy on an archive.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from modeling.decode import year_to_bin  # noqa: E402
from modeling.features.cv import cv_line  # noqa: E402
from modeling.inference.report import table  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-photos"
if not REAL.is_dir():
    REAL = Path("/work/shared/real-photos")
BACKBONES = (("tf_efficientnet_lite0", 224), ("tf_efficientnet_lite1", 240), ("tf_efficientnet_lite2", 260))
NOTE = ("These 200 photographs cover only 1935-43 (FSA/OWI, mostly black and white) and 1972-75 (DOCUMERICA, "
        "colour):\ntwo eras. They prove the mechanics on real photographs, not dating accuracy on an archive.")


def import_real(root: Path) -> tuple[Path, str]:
    """The real photographs imported, deduplicated and exported (10-year bins from 1930, 288 px); (export, db url)."""
    from dataset.dedupe import DedupeConfig, run_dedupe
    from dataset.export import ExportConfig, run_export
    from dataset.importer import ImportConfig, run_import
    from db.session import make_engine

    labels = root / "years.csv"
    with (REAL / "labels.csv").open(newline="", encoding="utf-8") as src, labels.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["file", "year"])
        writer.writerows([row["file"], row["year"]] for row in csv.DictReader(src))
    url = f"sqlite:///{root / 'real.db'}"
    engine = make_engine(url)
    run_import(engine, ImportConfig(REAL / "images", labels, "real-photos", root / "images", progress=False))
    run_dedupe(engine, DedupeConfig(workers=1, progress=False))
    export = root / "real-export"
    run_export(engine, ExportConfig(out=export, bins="10y", origin=1930, image_size=288, workers=1, progress=False), url)
    engine.dispose()
    return export, url


def replica_export(root: Path, images: int) -> Path:
    """`images` replica photographs (crawler.replica's years and renderer) stored, deduplicated and exported
    as make demo exports them (20y bins, 144 px)."""
    from crawler.replica import build_archive, render_photo
    from dataset.dedupe import DedupeConfig, run_dedupe
    from dataset.export import ExportConfig, run_export
    from db.models import Image, Record
    from db.session import make_engine, session_scope

    url = f"sqlite:///{root / 'replica.db'}"
    engine = make_engine(url)
    years = [r.true_year for r in build_archive(images, seed=0).records]
    with session_scope(engine) as session:
        for i, year in enumerate(years):
            path = root / "replica" / f"{i:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            render_photo(year, i, (320, 240)).save(buffer, format="JPEG", quality=90)
            path.write_bytes(buffer.getvalue())
            session.add(Record(source="replica", source_id=f"R-{i:05d}", date_raw=str(year), year=year,
                               year_min=year, year_max=year, images=[Image(path=str(path), status="ok")]))
    run_dedupe(engine, DedupeConfig(workers=1, progress=False))
    out = root / "replica-export"
    run_export(engine, ExportConfig(out=out, bins="20y", image_size=144, workers=1, progress=False), url)
    engine.dispose()
    return out


def apply_to_real(run_dir: Path, real_rows: list[dict]) -> dict:
    """A replica-trained run's answers on the real photographs, in its own bins, next to constant years."""
    from dataset.imageio import load_image
    from modeling.inference.predict import Predictor

    predictor = Predictor.from_run_dir(run_dir)
    years = np.array([float(r["year"]) for r in real_rows])
    answers = [predictor.predict(load_image(REAL / "images" / r["file"], min_side=predictor.img_size))["year"]
               for r in real_rows]
    edges = predictor.edges
    replica_median = float(predictor.config["year_range"][0] + predictor.config["year_range"][1]) / 2
    return {"mae": float(np.abs(np.array(answers) - years).mean()),
            "bin_accuracy": float((year_to_bin(answers, edges) == year_to_bin(years, edges)).mean()),
            "real_median_mae": float(np.abs(np.median(years) - years).mean()),
            "range_middle_mae": float(np.abs(replica_median - years).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replica-images", type=int, default=600)
    parser.add_argument("--replica-epochs", type=int, default=6)
    parser.add_argument("--finetune-epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/real_photos.txt"))
    args = parser.parse_args()

    import torch

    from modeling.features.curve import CURVE_COLUMNS, CurveConfig, learning_curve
    from modeling.inference.evaluate import EvaluateConfig, evaluate_run
    from modeling.training.config import TrainConfig
    from modeling.training.train import train

    lines = [f"# benchmarks/real_photos.py on {platform.node()} ({os.cpu_count()} vCPU, no GPU, torch "
             f"{torch.__version__}, {torch.get_num_threads()} threads); other jobs were running on this machine.",
             NOTE, ""]

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        real_rows = list(csv.DictReader((REAL / "labels.csv").open(encoding="utf-8")))
        export, _ = import_real(root)
        say(f"Real photographs: {len(real_rows)} imported, exported with 10-year bins from 1930 (3 bins populated).")

        say("\n## (b) head-only on frozen features, 5-fold CV over all 200 (cold cache, then warm)")
        rows = []
        for arch, size in BACKBONES:
            config = TrainConfig(data=export, out=root / f"head-{arch}", arch=arch, img_size=size, head_only=True,
                                 cv=5, workers=0)
            start = time.perf_counter()
            result = train(config, show=False)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            train(config, show=False)
            warm = time.perf_counter() - start
            s = result.cv.summary
            rows.append({"arch": arch, "px": size, "cv_mae": f"{s['mae']['mean']:.1f} +- {s['mae']['std']:.1f}",
                         "cv_accuracy": f"{s['accuracy']['mean']:.3f}",
                         "cv_balanced": f"{s['balanced_accuracy']['mean']:.3f}",
                         "median_year_mae": f"{s['median_year_mae']['mean']:.1f}",
                         "majority_acc": f"{s['majority_bin_accuracy']['mean']:.3f}",
                         "cold_s": f"{cold:.1f}", "warm_s": f"{warm:.1f}"})
            say(f"{arch}: {cv_line(s, 5, len(result.cv.oof))}")
        say(table(rows, list(rows[0])))

        say("\n## (c) short full fine-tune (lite0, 160 px, train split only) vs head-only, on the test split")
        start = time.perf_counter()
        tuned = train(TrainConfig(data=export, out=root / "finetune", arch="tf_efficientnet_lite0", img_size=160,
                                  epochs=args.finetune_epochs, lr=1e-3, batch_size=16, workers=0), show=False)
        seconds = time.perf_counter() - start
        compare = []
        for name, run, took in (("full fine-tune", tuned.run_dir, seconds),
                                ("head-only lite0", root / "head-tf_efficientnet_lite0", None)):
            m = evaluate_run(EvaluateConfig(model=run, data=export, split="test", show=False,
                                            png=root / f"{name}.png"))
            compare.append({"model": name, "test_n": m["n"], "mae": m["mae"], "accuracy": m["accuracy"],
                            "balanced": m["balanced_accuracy"],
                            "median_year_mae": m["baselines"]["median_year"]["mae"],
                            "majority_acc": m["baselines"]["majority_bin"]["accuracy"],
                            "beats": "NO" if m["baseline_flags"] else "yes",
                            "seconds": f"{took:.0f}" if took else "see (b)"})
        say(table(compare, list(compare[0])))

        say(f"\n## (a) the demo recipe as it is: trained on {args.replica_images} replica photographs "
            f"(lite0, 128 px, {args.replica_epochs} epochs), applied to the 200 real ones")
        start = time.perf_counter()
        replica = replica_export(root, args.replica_images)
        demo = train(TrainConfig(data=replica, out=root / "demo", arch="tf_efficientnet_lite0", img_size=128,
                                 epochs=args.replica_epochs, lr=None, sampler="balanced", loss="soft", workers=0),
                     show=False)
        took = time.perf_counter() - start
        on_real = apply_to_real(demo.run_dir, real_rows)
        say(f"replica valid MAE {demo.best['mae']:.1f} y ({took:.0f} s to build and train); on the real photographs: "
            f"MAE {on_real['mae']:.1f} y, bin accuracy (20-year bins) {on_real['bin_accuracy']:.3f}; constant real "
            f"median year MAE {on_real['real_median_mae']:.1f} y; middle of the replica's range MAE "
            f"{on_real['range_middle_mae']:.1f} y")

        say("\n## learning curve: head-only lite0 (224 px), 5-fold CV, MAE against training photographs")
        png = args.out.with_name("real_photos_learning_curve.png")
        curve = learning_curve(CurveConfig(train=TrainConfig(data=export, out=root / "curve", head_only=True, cv=5,
                                                             workers=0), sizes=(25, 50, 100, 150), png=png),
                               show=False)
        say(table(list(curve.rows), CURVE_COLUMNS))
        say(f"plot: {png}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
