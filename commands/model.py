"""The modeling stage's commands (modeling/): train, lr-find, learning-curve, evaluate, predict, compare, serve."""

from __future__ import annotations

from pathlib import Path

import click

from commands.options import ARGV_KEY, db_option, max_pixels_option, quiet_option
from db.pixels import DEFAULT_MAX_PIXELS, UPLOAD_MAX_PIXELS


def _parse_head_l2(_ctx, _param, value: str) -> float | str:
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"expected a number or 'auto', got {value!r}") from None


# Options of `train`, `lr-find` and `learning-curve` (they map onto modeling.training.config.TrainConfig),
# by name, so each command lists only the ones that change what it does.
TRAIN_OPTIONS = {
    "data": click.option("--data", "data", type=click.Path(path_type=Path), required=True,
                         help="Export directory (made by 'cli.py export')."),
    "task": click.option("--task", type=click.Choice(["classify", "regress"]), default="classify", show_default=True,
                         help="Answer with periods (classify, the bins of the export) or with the year itself "
                              "(regress)."),
    "arch": click.option("--arch", default="tf_efficientnet_lite0", show_default=True,
                         help="Any timm model name. The default, like tf_efficientnet_lite1/lite2, ships its ImageNet "
                              "weights in a pip package, so training works offline; other archs need timm's hub."),
    "pretrained": click.option("--pretrained/--no-pretrained", default=True, show_default=True,
                               help="Start from ImageNet weights (timm hub; tf_efficientnet_lite0/1/2 work offline)."),
    "weights": click.option("--weights", type=click.Path(path_type=Path), default=None,
                            help="Local backbone weights (.safetensors/.pth) instead of the hub."),
    "img_size": click.option("--img-size", type=int, default=224, show_default=True,
                             help="Input side in pixels (lite0 224, lite1 240, lite2 260 are their native sizes)."),
    "batch_size": click.option("--batch-size", type=int, default=32, show_default=True,
                               help="Photographs per step (with --head-only: per embedding pass). Lower it if memory "
                                    "runs out; under torchrun it is the total over all processes."),
    "sampler": click.option("--sampler", type=click.Choice(["natural", "balanced"]), default="natural",
                            show_default=True, help="balanced draws every bin equally often (fine-tuning only)."),
    "loss": click.option("--loss", type=click.Choice(["ce", "soft", "l1", "huber", "ridge"]), default=None,
                         help="ce|soft for classify (default ce), l1|huber|ridge for regress (default l1; ridge "
                              "with --head-only)."),
    "label_smoothing": click.option("--label-smoothing", type=float, default=0.1, show_default=True,
                                    help="Share of each answer's weight spread over the other periods, so the model "
                                         "is not pushed to certainty (--loss ce, fine-tuning only)."),
    "class_weights": click.option("--class-weights/--no-class-weights", default=False, show_default=True,
                                  help="Weight the loss by inverse bin frequency (fine-tuning only)."),
    "augment": click.option("--augment", type=click.Choice(["none", "light", "strong"]), default="light",
                            show_default=True,
                            help="Altered copies shown while training: flips, crops, colour and contrast jitter, "
                                 "grain (strong: more of each). Fine-tuning only."),
    "augment_rare": click.option("--augment-rare/--no-augment-rare", default=False, show_default=True,
                                 help="Strong augmentation for bins rarer than the median (fine-tuning only)."),
    "device": click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                           show_default=True, help="Where the model runs: auto takes the GPU (CUDA) when there is one."),
    "precision": click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
                              show_default=True, help="Autocast: auto = bf16 on CUDA and for resnets on AMX CPUs."),
    "workers": click.option("--workers", type=int, default=2, show_default=True,
                            help="Processes that read and prepare images while the model trains; about one per core."),
    "seed": click.option("--seed", type=int, default=0, show_default=True,
                         help="Seed of every random choice (start weights, order, augmentation): the same seed "
                              "repeats a run."),
    "head_l2": click.option("--head-l2", default="0.1", show_default=True, callback=_parse_head_l2,
                            help="--head-only: L2 penalty of the linear head (on standardised features), or 'auto': "
                                 "choose the penalty and classify-vs-regress (ce or ridge) by 5-fold CV on the train "
                                 "split (reported in metrics.json and printed)."),
    "feature_cache": click.option("--feature-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                                  help="--head-only: feature cache directory [default: DATA/.features]; keyed by image "
                                       "sha256, arch, weights, size and preprocessing."),
}
# What a head-only fit on frozen features reads (learning-curve): no sampler, augmentation or precision.
HEAD_ONLY_OPTIONS = ("data", "task", "arch", "pretrained", "weights", "img_size", "batch_size", "loss", "device",
                     "seed", "head_l2", "feature_cache")


def _with_options(*names: str):
    """Decorate a command with TRAIN_OPTIONS[name] for each name (all of them when none is named), in order."""
    def decorate(command):
        for name in reversed(names or tuple(TRAIN_OPTIONS)):
            command = TRAIN_OPTIONS[name](command)
        return command

    return decorate


_train_options = _with_options()


def _train_config(out: Path, lr: float | None, **options):
    from modeling.training.config import TrainConfig

    if options.get("head_l2") == "auto":
        options.update(head_l2=TrainConfig.head_l2, head_select=True)
    return TrainConfig(out=out, lr=lr, **options)


def _parse_lr(_ctx, _param, value: str) -> float | None:
    if value == "auto":
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"expected a number or 'auto', got {value!r}") from None


@click.command()
@_train_options
@click.option("--epochs", type=int, default=10, show_default=True,
              help="Passes over the training photographs (fine-tuning; --head-only fits in one).")
@click.option("--lr", default="auto", show_default=True, callback=_parse_lr,
              help="Peak learning rate, or 'auto' for an LR range test first (saved as lr_find.png).")
@click.option("--schedule", type=click.Choice(["cosine", "onecycle"]), default="cosine", show_default=True,
              help="How the learning rate rises and falls over the epochs: warm-up then cosine, or one-cycle.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/latest"), show_default=True,
              help="Run directory to write.")
@click.option("--resume", is_flag=True, help="Continue a killed run in --out from its last checkpoint.")
@click.option("--head-only", is_flag=True,
              help="Freeze the pretrained backbone, cache its pooled features and fit a linear head in seconds "
                   "(the fast, strong path for a few hundred labelled photographs).")
@click.option("--cv", type=int, default=0, show_default=True,
              help="--head-only: K-fold cross-validation over every exported image (mean and spread in "
                   "metrics.json, out-of-fold estimates in oof.csv); 0 = none.")
@click.option("--evidence", type=click.Choice(["all", "all+people", "picture"]), default="all", show_default=True,
              help="--head-only --cv: all = date from the picture and the catalogue (title, description, stated "
                   "dates, holder, place) when the export has any, writing RUN_DIR/fusion/ and ablation.csv; "
                   "all+people = also from the faces and figures found in each picture (needs the people extra); "
                   "picture = the picture alone.")
@quiet_option
def train(out: Path, lr: float | None, **options) -> None:
    """Train a timm model on an export and write a run directory (weights, config, history, plots).

    \b
    On several GPUs or processes, start it with torchrun (DistributedDataParallel; --batch-size is the
    global batch):  torchrun --nproc-per-node 8 cli.py train --data DIR --device cuda ...
    Full fine-tuning by default; --head-only fits a linear head on frozen, cached features instead.
    Both print the model next to the baselines (constant median year, majority bin) on the same images.
    Example:  cli.py train --data data/export --head-only --cv 5 --out runs/head
    """
    from modeling.inference.report import epoch_header, epoch_line, render_train
    from modeling.training.train import train as run_training

    def said_lr(chosen: float, png: Path) -> None:
        click.echo(f"lr auto: chose {chosen:.2e} (curve: {png})")

    shown: list[dict] = []  # epochs printed as they finished

    def said_epoch(row: dict) -> None:
        if not shown:
            click.echo(epoch_header())
        shown.append(row)
        click.echo(epoch_line(row))

    try:
        result = run_training(_train_config(out, lr, **options), on_lr=said_lr, on_epoch=said_epoch)
    except KeyboardInterrupt:
        click.echo(interrupted_training(out), err=True)
        raise SystemExit(130) from None  # the shell's convention for a run stopped by Ctrl-C
    if not result.main:
        return  # torchrun's other processes: rank 0 reports
    click.echo(render_train(result, epochs_shown=bool(shown)))


def interrupted_training(out: Path) -> str:
    """What Ctrl-C in `train` prints: where the last checkpoint is and the command that continues from it."""
    import shlex

    from modeling.runs import CHECKPOINT, load_checkpoint

    checkpoint = load_checkpoint(out) if Path(out).is_dir() else None
    if checkpoint is None:
        return (f"Interrupted before the first epoch finished: nothing was saved in {out}. "
                "Run the same command again to start over.")
    words = [word for word in click.get_current_context().meta.get(ARGV_KEY, ["train"]) if word != "--resume"]
    command = shlex.join(["python", "cli.py", *words, "--resume"])
    return (f"Interrupted: {checkpoint['epoch']} epoch(s) done, checkpoint {Path(out) / CHECKPOINT}.\n"
            f"Continue with:  {command}")


@click.command("lr-find")
@_train_options
@click.option("--out", "png", type=click.Path(path_type=Path), default=Path("runs/lr_find.png"),
              show_default=True, help="Where to save the loss-vs-LR curve.")
@click.option("--steps", type=int, default=60, show_default=True, help="Steps of the range test.")
@quiet_option
def lr_find(png: Path, steps: int, **options) -> None:
    """Run an LR range test alone: print the suggested learning rate and save the curve as PNG.

    \b
    'train --lr auto' (the default) runs the same test first; use this to look at the curve.
    Example:  cli.py lr-find --data data/export --out runs/lr_find.png
    """
    from modeling.training.lr_find import find_lr

    result = find_lr(_train_config(png.parent, None, **options), png, num_iter=steps)
    click.echo(f"suggested lr {result.suggestion:.2e} ({len(result.lrs)} steps; curve: {result.png})")


def _parse_sizes(_ctx, _param, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated counts such as 25,50,100,150, got {value!r}") from None


@click.command("learning-curve")
@_with_options(*HEAD_ONLY_OPTIONS)
@click.option("--cv", type=int, default=5, show_default=True, help="Folds: every point is scored on all images.")
@click.option("--sizes", default="25,50,100,150", show_default=True, callback=_parse_sizes,
              help="Training photographs per point (capped at what the training folds hold).")
@click.option("--out", "png", type=click.Path(dir_okay=False, path_type=Path), default=Path("runs/learning_curve.png"),
              show_default=True, help="Where to save the PNG.")
@quiet_option
def learning_curve(png: Path, sizes: tuple[int, ...], **options) -> None:
    """Would more labelled photographs help? Head-only CV metrics against the number of training photographs.

    \b
    Uses the same cached features as 'train --head-only', so each point takes seconds.
    Example:  cli.py learning-curve --data data/export --sizes 25,50,100,150
    """
    from modeling.features.curve import CURVE_COLUMNS, CurveConfig
    from modeling.features.curve import learning_curve as run_curve
    from modeling.inference.report import table

    result = run_curve(CurveConfig(train=_train_config(png.parent, None, head_only=True, **options), sizes=sizes,
                                   png=png))
    click.echo(table(list(result.rows), CURVE_COLUMNS))
    click.echo(f"\n{result.folds}-fold CV over {result.images} images (embedding {result.embed_seconds:.1f} s); "
               f"plot: {result.png}")


@click.command()
@click.option("--model", "model", type=click.Path(path_type=Path), required=True, help="Run directory.")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Export directory.")
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True,
              help="Which of the export's photographs to score; test is the set nobody tuned on.")
@click.option("--format", "output", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True, help="table to read, markdown to paste into a report, json for a script.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Processes that read images beside the model; 0 reads them in this one.")
@click.option("--grayscale", is_flag=True,
              help="Also score grayscale copies of the same images: how much the model leans on colour alone.")
@quiet_option
def evaluate(model: Path, data: Path, split: str, output: str, workers: int, grayscale: bool) -> None:
    """Score a run on an export split: accuracy, balanced accuracy, F1, per-bin P/R, confusion, MAE...

    The constant median year and the majority bin are scored on the same images, and flagged when the
    model does not beat them.

    \b
    Example:  cli.py evaluate --model runs/demo/lite0-head-20y --data data/demo/export-20y --split test
    """
    from modeling.inference.evaluate import EvaluateConfig, evaluate_run
    from modeling.inference.report import render_evaluate

    config = EvaluateConfig(model=model, data=data, split=split, workers=workers, grayscale=grayscale)
    click.echo(render_evaluate(evaluate_run(config), output))


@click.command()
@click.option("--model", "model", type=click.Path(path_type=Path), required=True, help="Run directory.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top", "top_k", type=int, default=3, show_default=True, help="Periods to list per image, with "
              "their probability.")
@click.option("--format", "output", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table to read, csv for a spreadsheet, json for a script.")
@max_pixels_option
@quiet_option
def predict(model: Path, paths: tuple[Path, ...], top_k: int, output: str, max_pixels: int) -> None:
    """Date photographs (files or folders): estimated year, its 80% interval, the period holding the year,
    "unsure" when the interval is too wide to lead with a year, and the evidence it rests on.

    \b
    A file that cannot be read gets a row with its error and the rest go on; the exit status is
    then 1 (after every row is printed), so scripts notice.
    Example:  cli.py predict --model runs/demo/lite0-head-20y scans/ --format csv
    """
    from db.progress import progress
    from modeling.inference.dater import load_dater
    from modeling.inference.predict import predict_paths
    from modeling.inference.report import render_predictions

    rows = predict_paths(load_dater(model), list(paths), top_k,
                         progress=lambda files: progress(files, desc="predict", unit="image", leave=False),
                         max_pixels=max_pixels)
    click.echo(render_predictions(rows, output))
    failed = sum("error" in row for row in rows)
    if failed:
        click.echo(f"{failed} of {len(rows)} file(s) could not be read (see the error column).", err=True)
        raise SystemExit(1)


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True, help="table to read, markdown to paste into a report, json for a script.")
@click.option("--mixed-exports", is_flag=True,
              help="Show runs validated on different exports side by side anyway (their numbers come from "
                   "different photographs: do not rank them).")
def compare(runs: tuple[Path, ...], output: str, mixed_exports: bool) -> None:
    """Compare runs side by side: arch, task, size, epochs, time, accuracy, balanced accuracy, MAE.

    \b
    Example:  cli.py compare runs/demo/lite0-head-20y runs/demo/lite0-20y
    """
    import json

    from modeling.inference.compare import COMPARE_COLUMNS, compare_runs
    from modeling.inference.report import table

    rows = compare_runs(list(runs), mixed_exports=mixed_exports)
    click.echo(json.dumps(rows, indent=2) if output == "json" else table(rows, COMPARE_COLUMNS, output == "markdown"))
    if output != "json":
        from modeling.evidence.ablation import ABLATION_COLUMNS, read_ablation

        for run in runs:
            ablation = read_ablation(run)
            if ablation:
                click.echo(f"\n{run.name}: evidence ablation (CV, 80% intervals)")
                click.echo(table(ablation, ABLATION_COLUMNS, output == "markdown"))
    if len({row["export"] for row in rows}) > 1:
        click.echo("Note: these runs were validated on different exports (column 'export'): do not rank them.",
                   err=True)


@click.command()
@click.option(
    "--model",
    "run_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Run directory written by 'train' (model.safetensors, config.json, metrics.json).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--max-upload-mb",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Largest photograph accepted; bigger uploads get HTTP 413.",
)
@click.option("--max-pixels", default=UPLOAD_MAX_PIXELS, show_default=True, type=click.IntRange(1),
              help="Largest upload decoded, in pixels; larger ones get HTTP 400 (the archive's own files get "
                   f"{DEFAULT_MAX_PIXELS:,}).")
@click.option(
    "--precompute/--lazy",
    default=True,
    show_default=True,
    help="Date the archive's images in the background from startup, or from the first visit to /records (estimates are stored, so a restart resumes).",
)
@click.option("--people", "find_people", is_flag=True,
              help="Also find the faces and figures in each uploaded photograph and draw their boxes "
                   "(needs OpenCV: pip install -e '.[people]').")
@db_option
@quiet_option
def serve(run_dir: Path, host: str, port: int, max_upload_mb: float, max_pixels: int, precompute: bool,
          find_people: bool, db_url: str) -> None:
    """Serve the photo-dating web app and JSON API (the records page reads --db).

    \b
    Pages:  /  (drop a photograph)   /records  (catalogued date vs. the model's, by disagreement)
    API:    POST /api/predict (multipart field 'file')   GET /api/model   GET /healthz
    Example:  cli.py serve --model runs/demo/lite0-head-20y --db sqlite:///data/demo/archive.db
    """
    from modeling.app.server import AppConfig
    from modeling.app.server import serve as serve_app

    config = AppConfig(
        run_dir=run_dir,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_upload_pixels=max_pixels,
        db_url=db_url,
        precompute_records=precompute,
        find_people=find_people,
    )
    click.echo(f"Loading {run_dir} ...", err=True)
    serve_app(config, host=host, port=port)


@click.command("date-undated")
@click.option("--model", "run_dir", type=click.Path(path_type=Path), required=True, help="Run directory.")
@db_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the suggestions for the cataloguing system to this CSV (source_id, catalogued date, "
                   "estimate, interval, period, evidence).")
@click.option("--with-suspect", is_flag=True,
              help="The CSV also lists dated records whose catalogued date lies outside the estimated interval "
                   "(those the model has estimated, e.g. by 'serve').")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True, help="Pictures per forward pass.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def date_undated(run_dir: Path, db_url: str, csv_path: Path | None, with_suspect: bool, batch_size: int,
                 quiet: bool) -> None:
    """Estimate every record without a catalogued year, and keep the estimates (never the catalogue's fields).

    \b
    Each estimate is stored with its evidence and the model's version; run it again to resume, or with a
    new model to estimate everything again. /records shows them (filter "undated records only").
    Example:  cli.py date-undated --model runs/demo/lite0-head-20y --csv suggestions.csv
    """
    from db.session import make_engine
    from modeling.inference.undated import UndatedConfig
    from modeling.inference.undated import date_undated as run_undated

    engine = make_engine(db_url, must_exist=True)
    config = UndatedConfig(run_dir=run_dir, csv=csv_path, with_suspect=with_suspect, batch_size=batch_size,
                           progress=not quiet)
    result = run_undated(engine, config)
    engine.dispose()
    click.echo(f"{result.undated_records} record(s) without a catalogued year ({result.without_image} with no stored "
               f"photograph). Estimated {result.dated} photograph(s) now, {result.resumed} already "
               f"estimated by {result.model_key}; {result.failed} could not be read.")
    if result.from_catalogue:
        click.echo(f"Estimated {result.from_catalogue} record(s) without a photograph from their catalogue alone.")
    if result.suggestions is not None:
        click.echo(f"{result.suggestions} suggestion(s) written to {csv_path}")


COMMANDS = (train, lr_find, learning_curve, evaluate, predict, compare, serve, date_undated)  # what cli.py adds to its group
