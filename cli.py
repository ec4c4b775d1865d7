"""fotofecha: date old photographs. One command per pipeline stage.

Each command maps its options onto a config, calls one library function and renders the result.
Domain errors (db.errors.PipelineError) become one clean line and exit code 1; so does a database
failure in the middle of a command (db.session.database_error words it, naming the --db URL).
"""

from __future__ import annotations

from pathlib import Path

import click

from db.errors import PipelineError
from db.pixels import DEFAULT_MAX_PIXELS, UPLOAD_MAX_PIXELS
from db.session import DB_URL_ENV, DEFAULT_DB_URL

_DB_URL_KEY = "fotofecha.db_url"  # where --db leaves its value in click's shared ctx.meta


class PipelineGroup(click.Group):
    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            from db.session import database_error, resolve_url

            url = resolve_url(ctx.meta.get(_DB_URL_KEY))
            raise click.ClickException(str(database_error(url, exc))) from None


def _remember_db_url(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta[_DB_URL_KEY] = value
    return value


db_option = click.option(
    "--db",
    "db_url",
    envvar=DB_URL_ENV,
    default=DEFAULT_DB_URL,
    show_default=True,
    help=f"SQLAlchemy database URL (or set ${DB_URL_ENV}).",
    callback=_remember_db_url,
)
max_pixels_option = click.option(
    "--max-pixels",
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    type=click.IntRange(1),
    help="Largest picture decoded, in pixels (width x height); larger ones become failed rows.",
)


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fotofecha")
def main() -> None:
    """Date old photographs: harvest an archive, curate a dataset, train and serve models.

    \b
    Pipeline:  replica -> crawl -> dedupe -> balance-report -> export -> train -> evaluate -> serve
    """


# --- harvest stage (crawler/, db/) ---


@main.command()
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option("--records", default=200, show_default=True, type=click.IntRange(1, 100_000), help="Records in the archive.")
@click.option("--seed", default=0, show_default=True, type=int, help="Generator seed: the same seed serves the same archive.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on (nothing else is allowed).")
@click.option(
    "--url-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the base URL to this file once serving (removed on exit); used by 'make demo'.",
)
@click.option("--chaos", "chaos_spec", is_flag=False, flag_value="", default=None, metavar="[SPEC]",
              help="Fail requests at random to test a crawler: alone, 20% HTTP 500, 5% dropped connections, "
                   "10% answers 0.5 s late; or a SPEC such as 500=0.3,drop=0.1,slow=0.2,delay=1,seed=2 "
                   "(keys left out keep those defaults).")
def replica(port: int, records: int, seed: int, host: str, url_file: Path | None, chaos_spec: str | None) -> None:
    """Serve a local replica of the photo archive until Ctrl-C (or SIGTERM).

    \b
    A deterministic fake "La Rioja en la memoria": paginated listing /fotos, record pages in
    three markups, JPEG/PNG era-cued photos, duplicates and injected faults.
    Example:  cli.py replica --port 8765 --records 500
    Example:  cli.py replica --chaos            (a flaky archive: errors, drops, slow answers)
    """
    from crawler.replica import ReplicaConfig, serve_replica
    from crawler.replica.chaos import describe_chaos, parse_chaos

    chaos = parse_chaos(chaos_spec) if chaos_spec is not None else None
    config = ReplicaConfig(records=records, seed=seed, host=host, port=port, url_file=url_file, chaos=chaos)
    serve_replica(config, announce=lambda url: click.echo(
        f"Replica archive ({records} records, seed {seed}) at {url}{describe_chaos(chaos)}"))
    click.echo("Replica stopped.", err=True)


@main.command()
@click.option("--start-url", default=None, help="First listing page (replaces the profile's); a bare origin joins the profile's paths.")
@click.option("--profile", default="larioja", show_default=True, help="Site profile: a name in crawler/profiles/ or a TOML file.")
@db_option
@click.option("--images-dir", type=click.Path(file_okay=False), default="data/images", show_default=True,
              help="Where image files go, content-addressed (<sha[:2]>/<sha>.<ext>).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Fetch at most N record pages this run.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Requests in flight per domain [default: 2, from crawler/settings.py].")
@click.option("--delay", type=click.FloatRange(0), default=None,
              help="Seconds between requests to a domain [default: 1.0, from crawler/settings.py].")
@click.option("--autothrottle/--no-autothrottle", default=True, show_default=True,
              help="Adapt the delay to the server's latency.")
@click.option("--refresh", is_flag=True, help="Refetch pages and images already stored; count updated/unchanged.")
@click.option("--oai", "oai_url", default=None,
              help="Harvest this OAI-PMH base URL (oai_dc) instead of the HTML listings; later runs are incremental.")
@click.option("--set", "oai_set", default=None, help="With --oai: harvest only this setSpec.")
@click.option("--image-size", default="max", show_default=True,
              help="IIIF pictures: 'max' or the long side in pixels (e.g. 2048); other images are stored as served.")
@click.option("--verbose", is_flag=True, help="Show Scrapy's own log on stderr.")
@max_pixels_option
def crawl(start_url: str | None, profile: str, db_url: str, images_dir: str, limit: int | None,
          concurrency: int | None, delay: float | None, autothrottle: bool, refresh: bool, oai_url: str | None,
          oai_set: str | None, image_size: str, verbose: bool, max_pixels: int) -> None:
    """Harvest an archive's records and images into the database, politely and resumably.

    \b
    Obeys robots.txt, throttles itself and honours Retry-After. Killed, it continues where it
    stopped when rerun with the same command; pages and images stored complete are not fetched
    again unless --refresh. Every fault is stored as a row with its reason.
    With --oai it harvests an OAI-PMH repository's Dublin Core (and IIIF images) instead.
    Example:  cli.py crawl --profile replica --start-url http://127.0.0.1:8765
    Example:  cli.py crawl --profile replica --oai http://127.0.0.1:8765/oai
    """
    from crawler.iiif import parse_size
    from crawler.run import CrawlConfig, format_summary, run_crawl

    try:
        parse_size(image_size)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--image-size'") from None
    config = CrawlConfig(profile=profile, start_url=start_url, db_url=db_url, images_dir=images_dir, limit=limit,
                         concurrency=concurrency, delay=delay, autothrottle=autothrottle, refresh=refresh,
                         oai=oai_url, oai_set=oai_set, iiif_size=image_size, verbose=verbose, max_pixels=max_pixels)
    summary = run_crawl(config)
    click.echo(format_summary(summary))
    if summary.interrupted:
        raise SystemExit(130)  # the shell's convention for a run stopped by Ctrl-C


@main.command()
@click.argument("url")
@click.option("--profile", default="larioja", show_default=True, help="Site profile: a name in crawler/profiles/ or a TOML file.")
@click.option("--suggest", is_flag=True, help="Write a draft profile from this listing or record page instead.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("profile-draft.toml"),
              show_default=True, help="With --suggest: where the draft profile goes (never overwritten).")
def probe(url: str, profile: str, suggest: bool, out: Path) -> None:
    """Find the archive's way in (OAI-PMH, IIIF) and check a profile against one record page.

    \b
    Prints the crawl command for an OAI-PMH endpoint or IIIF manifest it finds, then the fields
    the profile extracts from the page and the ones it misses. --suggest drafts a profile.
    Example:  cli.py probe https://archive.example/foto/123 --profile larioja
    Example:  cli.py probe --suggest https://archive.example/fotos --out my-archive.toml
    """
    from crawler.probe import format_probe, format_suggestion, suggest_profile
    from crawler.probe import probe as run_probe

    if suggest:
        click.echo(format_suggestion(suggest_profile(url, out), out))
    else:
        click.echo(format_probe(run_probe(url, profile)))


# --- curation stage (dataset/) ---


def _default_workers() -> int:
    import os

    return max(1, min(8, os.cpu_count() or 1))


@main.command("import")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with a 'file' column and date (free text) or year, title, place, holder, description.")
@click.option("--source", default="local", show_default=True, help="Source name the records are keyed under.")
@click.option("--images-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/images"),
              show_default=True, help="Content-addressed image store (same as crawl's).")
@click.option("--encoding", default=None,
              help="The CSV's encoding (e.g. cp1252) [default: UTF-8 with or without BOM, else cp1252 with a note].")
@click.option("--follow-links", is_flag=True, help="Import links whose target lies outside FOLDER (else skipped and listed).")
@max_pixels_option
@db_option
def import_(folder: Path, metadata: Path | None, source: str, images_dir: Path, encoding: str | None,
            follow_links: bool, max_pixels: int, db_url: str) -> None:
    """Import photographs from a local folder (recursively) with metadata from a CSV.

    \b
    Formats: JPEG, PNG, TIFF, WEBP, BMP, GIF, PPM/PGM and the like. Unreadable files and broken
    links become rows with their reason; importing the same folder again adds nothing twice.
    Example:  cli.py import scans/ --metadata scans/fechas.csv --source family
    """
    from dataset.importer import ImportConfig, format_summary, run_import
    from db.session import make_engine

    config = ImportConfig(folder, metadata, source, images_dir, follow_links=follow_links, encoding=encoding,
                          max_pixels=max_pixels)
    summary = run_import(make_engine(db_url), config)
    click.echo(format_summary(summary, folder))


@main.command()
@click.option("--hash", "hash_name", type=click.Choice(["phash", "dhash", "both"]), default="both", show_default=True,
              help="Perceptual hash; 'both' (fewest false matches) needs a pair within the threshold on phash and dhash.")
@click.option("--threshold", default=8, show_default=True, type=click.IntRange(0, 32),
              help="Largest Hamming distance (bits of 64) between near-duplicates.")
@click.option("--workers", default=_default_workers, show_default="CPU count", type=click.IntRange(1, 64),
              help="Hashing processes.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of duplicate clusters, conflicting catalogued years first.")
@click.option("--transforms/--no-transforms", default=True, show_default=True,
              help="Also match copies scanned mirrored, upside down or turned a quarter (8 orientations).")
@max_pixels_option
@db_option
def dedupe(hash_name: str, threshold: int, workers: int, report: Path | None, transforms: bool, max_pixels: int,
           db_url: str) -> None:
    """Hash new images and mark near-duplicates (keeps the best of each cluster; deletes nothing).

    \b
    Borders, card mounts and scanner-bed margins are trimmed before hashing.
    Incremental: stored hashes are reused, so a new --threshold only re-clusters.
    Example:  cli.py dedupe --threshold 8 --report data/duplicates.csv
    """
    from dataset.dedupe import DedupeConfig, format_summary, run_dedupe
    from db.session import make_engine

    config = DedupeConfig(hash_name, threshold, workers, report, transforms=transforms, max_pixels=max_pixels)
    click.echo(format_summary(run_dedupe(make_engine(db_url, must_exist=True), config), config))


@main.command("balance-report")
@click.option("--bins", "bins_spec", default="20y", show_default=True,
              help="decade | 10y | 20y | Ny | edges such as 1860,1900,1930,1960,1991.")
@click.option("--origin", default=1860, show_default=True, type=int, help="First edge of Ny bins.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also draw a bar chart (PNG).")
@click.option("--min-count", default=50, show_default=True, type=click.IntRange(0),
              help="Bins with fewer images are named in the suggestion.")
@db_option
def balance_report(bins_spec: str, origin: int, fmt: str, plot: Path | None, min_count: int, db_url: str) -> None:
    """Show how the images spread over year bins, before and after dedupe.

    \b
    Per bin: count, excluded duplicates, share; empty bins, imbalance ratio, what is left out and why.
    Example:  cli.py balance-report --bins 20y --plot data/balance.png
    """
    from dataset.balance import BalanceConfig, render
    from dataset.balance import balance_report as make_report
    from dataset.balance import plot as draw
    from db.session import make_engine

    report = make_report(make_engine(db_url, must_exist=True), BalanceConfig(bins_spec, origin, min_count))
    click.echo(render(report, fmt))
    if plot:
        click.echo(f"Plot: {draw(report, plot)}", err=True)


@main.command()
@click.option("--bins", "bins_spec", default="20y", show_default=True,
              help="decade | 10y | 20y | Ny | edges such as 1860,1900,1930,1960,1991.")
@click.option("--origin", default=1860, show_default=True, type=int, help="First edge of Ny bins.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset directory to create.")
@click.option("--splits", default="0.8,0.1,0.1", show_default=True, help="train,valid,test fractions.")
@click.option("--balance", type=click.Choice(["none", "undersample", "oversample"]), default="none", show_default=True,
              help="Balance the train split only.")
@click.option("--min-per-class", type=click.IntRange(1), default=None,
              help="oversample: repeat each train bin up to K rows (default: the largest bin).")
@click.option("--max-per-class", type=click.IntRange(1), default=None,
              help="undersample: cut each train bin to K images (default: the smallest bin).")
@click.option("--image-size", default=256, show_default=True, type=click.IntRange(0),
              help="Short side in pixels; 0 copies the original files.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed + same database = same manifest.")
@click.option("--workers", default=_default_workers, show_default="CPU count", type=click.IntRange(1, 64),
              help="Resizing processes.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out.")
@max_pixels_option
@db_option
def export(bins_spec: str, origin: int, out: Path, splits: str, balance: str, min_per_class: int | None,
           max_per_class: int | None, image_size: int, seed: int, workers: int, force: bool, max_pixels: int,
           db_url: str) -> None:
    """Write a leak-free train/valid/test dataset (ImageFolder layout, manifest.csv, export.json).

    \b
    Stratified by bin; a duplicate cluster never crosses splits; balancing touches train only.
    Example:  cli.py export --bins 20y --out data/export --balance undersample
    """
    from dataset.export import ExportConfig, format_summary, run_export
    from dataset.split import parse_fractions
    from db.session import make_engine

    config = ExportConfig(out, bins_spec, origin, parse_fractions(splits), balance, min_per_class, max_per_class,
                          image_size, seed, force, workers, max_pixels=max_pixels)
    click.echo(format_summary(run_export(make_engine(db_url, must_exist=True), config, db_url)))


@main.group("db")
def db_group() -> None:
    """Inspect an archive, or move it to another database (SQLite <-> PostgreSQL).

    \b
    Examples:  cli.py db info --db postgresql+psycopg://user@localhost/fotos
               cli.py db copy --from sqlite:///data/archive.db --to postgresql+psycopg://user@localhost/fotos
    """


@db_group.command("info")
@db_option
def db_info(db_url: str) -> None:
    """Show the schema version, rows per table and rows per status."""
    from db.info import archive_info, format_info

    click.echo(format_info(archive_info(db_url)))


@db_group.command("copy")
@click.option("--from", "source_url", required=True, help="SQLAlchemy URL of the archive to copy.")
@click.option("--to", "target_url", required=True, help="SQLAlchemy URL to copy into (empty unless --force).")
@click.option("--force", is_flag=True, help="Replace the tables of a non-empty --to.")
def db_copy(source_url: str, target_url: str, force: bool) -> None:
    """Copy every table, ids and schema version kept, in one transaction on the target.

    \b
    A copy that fails half way leaves --to as it was. PostgreSQL needs the driver:
    pip install -e '.[postgres]'.
    """
    from db.copy import CopyConfig, copy_archive, format_copy

    config = CopyConfig(source_url=source_url, target_url=target_url, force=force)
    click.echo(format_copy(copy_archive(config), config))


# --- modeling stage (modeling/) ---


def _train_options(command):
    """Options shared by `train` and `lr-find` (they map onto modeling.training.config.TrainConfig)."""
    options = [
        click.option("--data", "data", type=click.Path(path_type=Path), required=True,
                     help="Export directory (made by 'cli.py export')."),
        click.option("--task", type=click.Choice(["classify", "regress"]), default="classify", show_default=True,
                     help="Bins (classify) or the year itself (regress)."),
        click.option("--arch", default="tf_efficientnet_lite0", show_default=True,
                     help="Any timm model name. The default, like tf_efficientnet_lite1/lite2, ships its ImageNet "
                          "weights in a pip package, so training works offline; other archs need timm's hub."),
        click.option("--pretrained/--no-pretrained", default=True, show_default=True,
                     help="Start from ImageNet weights (timm hub; tf_efficientnet_lite0/1/2 work offline)."),
        click.option("--weights", type=click.Path(path_type=Path), default=None,
                     help="Local backbone weights (.safetensors/.pth) instead of the hub."),
        click.option("--img-size", type=int, default=224, show_default=True,
                     help="Input side in pixels (lite0 224, lite1 240, lite2 260 are their native sizes)."),
        click.option("--batch-size", type=int, default=32, show_default=True),
        click.option("--sampler", type=click.Choice(["natural", "balanced"]), default="natural", show_default=True,
                     help="balanced draws every bin equally often."),
        click.option("--loss", type=click.Choice(["ce", "soft", "l1", "huber", "ridge"]), default=None,
                     help="ce|soft for classify (default ce), l1|huber|ridge for regress (default l1; ridge "
                          "with --head-only)."),
        click.option("--label-smoothing", type=float, default=0.1, show_default=True),
        click.option("--class-weights/--no-class-weights", default=False, show_default=True,
                     help="Weight the loss by inverse bin frequency."),
        click.option("--augment", type=click.Choice(["none", "light", "strong"]), default="light", show_default=True),
        click.option("--augment-rare/--no-augment-rare", default=False, show_default=True,
                     help="Strong augmentation for bins rarer than the median."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
                     show_default=True, help="Autocast: auto = bf16 on CUDA and for resnets on AMX CPUs."),
        click.option("--workers", type=int, default=2, show_default=True, help="DataLoader worker processes."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--head-l2", type=float, default=0.1, show_default=True,
                     help="--head-only: L2 penalty of the linear head (on standardised features)."),
        click.option("--feature-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="--head-only: feature cache directory [default: DATA/.features]; keyed by image sha256, "
                          "arch, weights, size and preprocessing."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _train_config(out: Path, lr: float | None, **options):
    from modeling.training.config import TrainConfig

    return TrainConfig(out=out, lr=lr, **options)


def _parse_lr(_ctx, _param, value: str) -> float | None:
    if value == "auto":
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"expected a number or 'auto', got {value!r}") from None


@main.command()
@_train_options
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--lr", default="auto", show_default=True, callback=_parse_lr,
              help="Peak learning rate, or 'auto' for an LR range test first (saved as lr_find.png).")
@click.option("--schedule", type=click.Choice(["cosine", "onecycle"]), default="cosine", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/latest"), show_default=True,
              help="Run directory to write.")
@click.option("--resume", is_flag=True, help="Continue a killed run in --out from its last checkpoint.")
@click.option("--head-only", is_flag=True,
              help="Freeze the pretrained backbone, cache its pooled features and fit a linear head in seconds "
                   "(the fast, strong path for a few hundred labelled photographs).")
@click.option("--cv", type=int, default=0, show_default=True,
              help="--head-only: K-fold cross-validation over every exported image (mean and spread in "
                   "metrics.json, out-of-fold estimates in oof.csv); 0 = none.")
def train(out: Path, lr: float | None, **options) -> None:
    """Train a timm model on an export and write a run directory (weights, config, history, plots).

    \b
    On several GPUs or processes, start it with torchrun (DistributedDataParallel; --batch-size is the
    global batch):  torchrun --nproc-per-node 8 cli.py train --data DIR --device cuda ...
    Full fine-tuning by default; --head-only fits a linear head on frozen, cached features instead.
    Both print the model next to the baselines (constant median year, majority bin) on the same images.
    Example:  cli.py train --data data/export --head-only --cv 5 --out runs/head
    """
    from modeling.inference.report import render_train
    from modeling.training.train import train as run_training

    result = run_training(_train_config(out, lr, **options))
    if not result.main:
        return  # torchrun's other processes: rank 0 reports
    if result.lr_png is not None:
        click.echo(f"lr auto: chose {result.lr:.2e} (curve: {result.lr_png})")
    click.echo(render_train(result))


@main.command("lr-find")
@_train_options
@click.option("--out", "png", type=click.Path(path_type=Path), default=Path("runs/lr_find.png"),
              show_default=True, help="Where to save the loss-vs-LR curve.")
@click.option("--steps", type=int, default=60, show_default=True, help="Steps of the range test.")
def lr_find(png: Path, steps: int, **options) -> None:
    """Run an LR range test alone: print the suggested learning rate and save the curve as PNG."""
    from modeling.training.lr_find import find_lr

    result = find_lr(_train_config(png.parent, None, **options), png, num_iter=steps)
    click.echo(f"suggested lr {result.suggestion:.2e} ({len(result.lrs)} steps; curve: {result.png})")


def _parse_sizes(_ctx, _param, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated counts such as 25,50,100,150, got {value!r}") from None


@main.command("learning-curve")
@_train_options
@click.option("--cv", type=int, default=5, show_default=True, help="Folds: every point is scored on all images.")
@click.option("--sizes", default="25,50,100,150", show_default=True, callback=_parse_sizes,
              help="Training photographs per point (capped at what the training folds hold).")
@click.option("--out", "png", type=click.Path(dir_okay=False, path_type=Path), default=Path("runs/learning_curve.png"),
              show_default=True, help="Where to save the PNG.")
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


@main.command()
@click.option("--model", "model", type=click.Path(path_type=Path), required=True, help="Run directory.")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Export directory.")
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True)
@click.option("--format", "output", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True)
@click.option("--workers", type=int, default=0, show_default=True)
@click.option("--grayscale", is_flag=True,
              help="Also score grayscale copies of the same images: how much the model leans on colour alone.")
def evaluate(model: Path, data: Path, split: str, output: str, workers: int, grayscale: bool) -> None:
    """Score a run on an export split: accuracy, balanced accuracy, F1, per-bin P/R, confusion, MAE...

    The constant median year and the majority bin are scored on the same images, and flagged when the
    model does not beat them.
    """
    from modeling.inference.evaluate import EvaluateConfig, evaluate_run
    from modeling.inference.report import render_evaluate

    config = EvaluateConfig(model=model, data=data, split=split, workers=workers, grayscale=grayscale)
    click.echo(render_evaluate(evaluate_run(config), output))


@main.command()
@click.option("--model", "model", type=click.Path(path_type=Path), required=True, help="Run directory.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top", "top_k", type=int, default=3, show_default=True, help="Bins to list per image.")
@click.option("--format", "output", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@max_pixels_option
def predict(model: Path, paths: tuple[Path, ...], top_k: int, output: str, max_pixels: int) -> None:
    """Date photographs (files or folders): top bins, estimated year and an 80% interval per image.

    \b
    A file that cannot be read gets a row with its error and the rest go on; the exit status is
    then 1 (after every row is printed), so scripts notice.
    Example:  cli.py predict --model runs/demo scans/ --format csv
    """
    from tqdm import tqdm

    from modeling.inference.predict import Predictor, predict_paths
    from modeling.inference.report import render_predictions

    rows = predict_paths(Predictor.from_run_dir(model), list(paths), top_k,
                         progress=lambda files: tqdm(files, desc="predict", unit="image", leave=False),
                         max_pixels=max_pixels)
    click.echo(render_predictions(rows, output))
    failed = sum("error" in row for row in rows)
    if failed:
        click.echo(f"{failed} of {len(rows)} file(s) could not be read (see the error column).", err=True)
        raise SystemExit(1)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True)
def compare(runs: tuple[Path, ...], output: str) -> None:
    """Compare runs side by side: arch, task, size, epochs, time, accuracy, balanced accuracy, MAE."""
    import json

    from modeling.inference.compare import COMPARE_COLUMNS, compare_runs
    from modeling.inference.report import table

    rows = compare_runs(list(runs))
    click.echo(json.dumps(rows, indent=2) if output == "json" else table(rows, COMPARE_COLUMNS, output == "markdown"))


# --- app (modeling/app) ---


@main.command()
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
@db_option
def serve(run_dir: Path, host: str, port: int, max_upload_mb: float, max_pixels: int, precompute: bool,
          db_url: str) -> None:
    """Serve the photo-dating web app and JSON API (the records page reads --db).

    \b
    Pages:  /  (drop a photograph)   /records  (catalogued date vs. the model's, by disagreement)
    API:    POST /api/predict (multipart field 'file')   GET /api/model   GET /healthz
    Example:  cli.py serve --model runs/demo --port 8000
    """
    from modeling.app.server import AppConfig
    from modeling.app.server import serve as serve_app

    config = AppConfig(
        run_dir=run_dir,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_upload_pixels=max_pixels,
        db_url=db_url,
        precompute_records=precompute,
    )
    click.echo(f"Loading {run_dir} ...", err=True)
    serve_app(config, host=host, port=port)


if __name__ == "__main__":
    main()
