"""`cli.py train --head-only`: a linear head on frozen, cached backbone features, written as a normal run.

The run directory is the one full fine-tuning writes (model.safetensors with backbone and head,
config.json, metrics.json, history.csv, confusion_matrix.png, curves.png), so evaluate, predict,
compare and serve use it unchanged. With --cv K it adds the cross-validated metrics to metrics.json
and every image's out-of-fold estimate to oof.csv; when the export carries catalogue text it also fits
the evidence sources and their fusion on the same folds (modeling/evidence: RUN_DIR/fusion/ and
ablation.csv). --head-l2 auto chooses the head first (modeling/features/select.py). Every check runs
before anything is written.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
import torch

from db import csvsafe
from modeling.baselines import with_baselines
from modeling.decode import decode_outputs
from modeling.errors import BadTrainingSetup
from modeling.evidence.fit import evaluate_run_evidence, has_catalogue_data, remove_fusion, write_fusion
from modeling.features.cv import CVResult, check_folds, cross_validate, unique_rows
from modeling.features.embed import Embedding, FeatureCache, FeatureKey, embed_files, weights_id
from modeling.features.heads import fit_head
from modeling.features.select import select_head
from modeling.metrics import summarize
from modeling.models import create_model, model_normalisation
from modeling.plots import confusion_png, curves_png
from modeling.runs import HISTORY, METRICS, WEIGHTS, save_weights, write_history, write_json, write_run_config
from modeling.training.config import TrainConfig
from modeling.training.data import Export, ExportRow, read_export, require_two_bins
from modeling.training.setup import make_loss, resolve_device, validate

OOF = "oof.csv"
OOF_COLUMNS = ("image_id", "file", "year", "fold", "estimate", "low", "high", "period", "probability")


def feature_cache(config: TrainConfig, export: Export, model) -> FeatureCache:
    """The cache of this config's (arch, weights, size): --feature-cache DIR, or DATA/.features."""
    key = FeatureKey(arch=config.arch, weights=weights_id(config.pretrained, config.weights, config.seed),
                     img_size=config.img_size)
    return FeatureCache(Path(config.feature_cache) if config.feature_cache else export.root / ".features", key)


def embed_export(config: TrainConfig, show: bool = True):
    """(export, model, mean, std, embedding, vector by file) for every exported image: the shared first step."""
    validate(config)
    export = read_export(config.data)
    rows = unique_rows(export)
    require_two_bins(export, export.split("train"))
    if config.cv:
        check_folds(config.cv, rows)
    torch.manual_seed(config.seed)
    model = create_model(config.arch, export.num_bins if config.task == "classify" else 1,
                         pretrained=config.pretrained and config.weights is None, weights=config.weights)
    mean, std = model_normalisation(model)
    cache = feature_cache(config, export, model)
    model = model.to(resolve_device(config.device))
    embedding = embed_files(model, [export.root / row.file for row in rows], cache, config.img_size, mean, std,
                            batch_size=config.batch_size, show=show)
    model = model.cpu()
    by_file = {row.file: embedding.vectors[i] for i, row in enumerate(rows)}
    return export, model, mean, std, embedding, by_file


def train_head_only(config: TrainConfig, show: bool = True):
    """Embed (or reuse) every exported image, fit the head on train, score valid (and K folds); write the run."""
    from modeling.training.train import TrainResult

    start = time.perf_counter()
    if not config.head_only:
        raise BadTrainingSetup("train_head_only needs --head-only.")
    export, model, mean, std, embedding, by_file = embed_export(config, show)
    train_rows, valid_rows = export.split("train"), export.split("valid")
    if not valid_rows:
        raise BadTrainingSetup(f"Found 0 valid rows in {config.data}/manifest.csv; the run's metrics come from the "
                               f"valid split. Re-run 'cli.py export' with a valid fraction > 0.")
    selection = None
    if config.head_select:
        unique_train = list({row.file: row for row in train_rows}.values())
        config, selection = select_head(_stack(by_file, unique_train), unique_train, config, export)
        model.reset_classifier(export.num_bins if config.task == "classify" else 1)
    fit_start = time.perf_counter()
    head = fit_head(_stack(by_file, train_rows), train_rows, config, export)
    fit_seconds = time.perf_counter() - fit_start
    loss_fn = make_loss(config, export, train_rows)
    train_loss, _ = _score(head, by_file, train_rows, config, export, loss_fn)
    valid_loss, metrics = _score(head, by_file, valid_rows, config, export, loss_fn)
    metrics = with_baselines(metrics, train_rows, valid_rows, export.edges, export.labels)
    cv = evidence = fitted = None
    if config.cv:
        rows = unique_rows(export)
        cv = cross_validate(_stack(by_file, rows), rows, config, export)
        with_people = config.evidence == "all+people"
        if config.evidence in ("all", "all+people") and (has_catalogue_data(rows) or with_people):
            people = run_people_features(model, export, rows, config, mean, std) if with_people else None
            evidence, fitted = evaluate_run_evidence(cv, rows, config, export, people)
    head.load_into(model)
    best = {"epoch": 1, "split": "valid", "valid_loss": valid_loss, "selected_by": "head-only fit (one step)",
            **metrics}
    if cv is not None:
        best["cv"] = {"k": cv.k, "n": len(cv.oof), "summary": cv.summary, "folds": list(cv.folds),
                      "note": "every exported image (all splits) held out once; the final head is fitted on train"}
    if selection is not None:
        best["head_selection"] = {"task": config.task, "loss": config.loss_name, "head_l2": config.head_l2,
                                  "candidates": selection,
                                  "note": "chosen by the lowest mean MAE of K-fold CV on the train split; the train "
                                          "split's images are also in the outer CV, a mild optimism"}
    if evidence is not None:
        best["evidence"] = {"sources": list(evidence.sources), "ablation": list(evidence.ablation),
                            "note": "each row pooled over the same K held-out folds; the fusion cross-fitted on "
                                    "the sources' out-of-fold estimates"}
    seconds = time.perf_counter() - start
    history = [{"epoch": 1, "train_loss": round(train_loss, 6), "valid_loss": round(valid_loss, 6),
                "valid_accuracy": round(metrics["accuracy"], 6),
                "valid_balanced_accuracy": round(metrics["balanced_accuracy"], 6),
                "valid_mae": round(metrics["mae"], 4), "valid_within_10": round(metrics["within_10"], 6),
                "lr": "-", "images_per_s": round(embedding.computed / max(embedding.seconds, 1e-9), 1),
                "seconds": round(seconds, 2)}]
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_weights(model, run_dir / WEIGHTS)
    write_json(run_dir / METRICS, best)
    write_history(run_dir / HISTORY, history)
    write_run_config(run_dir, config, export, mean, std, best, lr=None, precision="fp32", device="cpu",
                     head_only={"feature_cache": str(embedding.cache_file), "embedded": embedding.computed,
                                "reused": embedding.reused, "embed_seconds": round(embedding.seconds, 2),
                                "fit_seconds": round(fit_seconds, 3)})
    _write_oof(run_dir / OOF, cv)
    if evidence is not None:
        write_fusion(run_dir, evidence, fitted, export.edges, export.labels, rows)
    else:
        remove_fusion(run_dir)
    confusion_png(best["confusion_matrix"], best["labels"], run_dir / "confusion_matrix.png",
                  title="valid, head-only (rows = actual)")
    curves_png(history, run_dir / "curves.png")
    return TrainResult(run_dir=run_dir, lr=0.0, lr_png=None, history=tuple(history), best=best,
                       seconds=time.perf_counter() - start, resumed_from=None, embedding=embedding, cv=cv,
                       evidence=evidence)


def run_people_features(model, export: Export, rows: list[ExportRow], config: TrainConfig, mean, std):
    """The people features of every row (--evidence all+people): detections cached beside the features."""
    from modeling.evidence.people import people_boxes, people_features

    paths = [export.root / row.file for row in rows]
    cache_dir = Path(config.feature_cache) if config.feature_cache else export.root / ".features"
    boxes = people_boxes(paths, cache_dir)
    device = resolve_device(config.device)
    features = people_features(model.to(device), paths, boxes, config.img_size, mean, std, config.batch_size)
    model.cpu()
    return features


def _stack(by_file: dict, rows: list[ExportRow]) -> np.ndarray:
    return np.stack([by_file[row.file] for row in rows])


def _score(head, by_file, rows, config, export, loss_fn) -> tuple[float, dict]:
    """(loss, summarize metrics) of the head on `rows`."""
    outputs = head.outputs(_stack(by_file, rows))
    bins = torch.tensor([r.bin_index for r in rows], dtype=torch.long)
    years = torch.tensor([r.year for r in rows], dtype=torch.float32)
    loss = float(loss_fn(torch.from_numpy(outputs).float(), bins, years))
    decoded = decode_outputs(outputs, config.task, export.edges, export.year_range)
    return loss, summarize(bins.numpy(), decoded.bins, years.numpy(), decoded.years, export.labels)


def _write_oof(path: Path, cv: CVResult | None) -> None:
    """oof.csv with --cv; without, an old one is removed so it never outlives its run."""
    if cv is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.dict_writer(handle, fieldnames=OOF_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(cv.oof)
    os.replace(tmp, path)


def read_oof(run_dir: str | Path) -> list[dict]:
    """The run's out-of-fold rows (empty without --cv)."""
    path = Path(run_dir) / OOF
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


__all__ = ["train_head_only", "embed_export", "read_oof", "OOF", "Embedding"]
