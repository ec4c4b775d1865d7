"""The curation stage's commands (dataset/, db/): import, dedupe, detect, balance-report, export, db info|copy."""

from __future__ import annotations

from pathlib import Path

import click

from commands.options import db_option, max_pixels_option, quiet_option


def _default_workers() -> int:
    import os

    return max(1, min(8, os.cpu_count() or 1))


@click.command("import")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with a 'file' column and date (free text) or year, title, place, holder (or "
                   "photographer), description.")
@click.option("--source", default="local", show_default=True, help="Source name the records are keyed under.")
@click.option("--images-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/images"),
              show_default=True, help="Content-addressed image store (same as crawl's).")
@click.option("--encoding", default=None,
              help="The CSV's encoding (e.g. cp1252) [default: UTF-8 with or without BOM, else cp1252 with a note].")
@click.option("--follow-links", is_flag=True, help="Import links whose target lies outside FOLDER (else skipped and listed).")
@max_pixels_option
@db_option
@quiet_option
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


@click.command()
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
@click.option("--trim/--no-trim", default=True, show_default=True,
              help="Cut borders, card mounts and scanner beds before hashing; --no-trim hashes the whole "
                   "picture (faster; misses mounted copies).")
@max_pixels_option
@db_option
@quiet_option
def dedupe(hash_name: str, threshold: int, workers: int, report: Path | None, transforms: bool, trim: bool,
           max_pixels: int, db_url: str) -> None:
    """Hash new images and mark near-duplicates (keeps the best of each cluster; deletes nothing).

    \b
    Borders, card mounts and scanner-bed margins are trimmed before hashing (--no-trim: not).
    Incremental: stored hashes are reused, so a new --threshold only re-clusters.
    Example:  cli.py dedupe --threshold 8 --report data/duplicates.csv
    """
    from dataset.dedupe import DedupeConfig, format_summary, run_dedupe
    from db.session import make_engine

    config = DedupeConfig(hash_name, threshold, workers, report, transforms=transforms, trim=trim,
                          max_pixels=max_pixels)
    click.echo(format_summary(run_dedupe(make_engine(db_url, must_exist=True), config), config))


@click.command()
@click.option("--redo", is_flag=True, help="Examine again images already examined by this detector and settings.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Examine at most N images this run (the rest wait).")
# Defaults shown in --help; the values come from PeopleConfig (tests/test_detect.py checks that they agree).
@click.option("--min-face", type=click.IntRange(8), default=None, show_default="24",
              help="Smallest face searched, pixels of the picture shrunk to 640 px.")
@click.option("--face-neighbours", type=click.IntRange(1), default=None, show_default="5",
              help="How many overlapping hits a face needs: higher finds fewer, surer faces.")
@click.option("--figure-min-score", type=float, default=None, show_default="0.5",
              help="Standing figures scored below this are dropped: higher finds fewer, surer figures.")
@max_pixels_option
@db_option
@quiet_option
def detect(redo: bool, limit: int | None, min_face: int | None, face_neighbours: int | None,
           figure_min_score: float | None,
           max_pixels: int, db_url: str) -> None:
    """Find the faces and standing figures in every stored image and keep their boxes.

    \b
    Each image is marked examined, with what it shows: a portrait (one prominent face), a group
    (two or more people), one small person, or nobody. Resumable: images already examined with the
    same settings are skipped. Needs OpenCV: pip install -e '.[people]'.
    Example:  cli.py detect && cli.py balance-report
    """
    from dataset.detect import DetectConfig, format_summary, run_detect
    from dataset.people import PeopleConfig
    from db.session import make_engine

    given = {"min_face": min_face, "face_neighbours": face_neighbours, "figure_min_score": figure_min_score}
    people = PeopleConfig(**{name: value for name, value in given.items() if value is not None})
    config = DetectConfig(people, redo=redo, limit=limit, max_pixels=max_pixels)
    click.echo(format_summary(run_detect(make_engine(db_url, must_exist=True), config)))


@click.command("balance-report")
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


@click.command()
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
@click.option("--no-copy", is_flag=True,
              help="Write only manifest.csv and export.json: each row's file is the stored picture's own path "
              "(for archives too big to copy; train reads it as it is).")
@max_pixels_option
@db_option
@quiet_option
def export(bins_spec: str, origin: int, out: Path, splits: str, balance: str, min_per_class: int | None,
           max_per_class: int | None, image_size: int, seed: int, workers: int, force: bool, no_copy: bool,
           max_pixels: int, db_url: str) -> None:
    """Write a leak-free train/valid/test dataset (ImageFolder layout, manifest.csv, export.json).

    \b
    Stratified by bin; a duplicate cluster never crosses splits; balancing touches train only.
    Example:  cli.py export --bins 20y --out data/export --balance undersample
    """
    from dataset.export import ExportConfig, format_summary, run_export
    from dataset.split import parse_fractions
    from db.session import make_engine

    config = ExportConfig(out, bins_spec, origin, parse_fractions(splits), balance, min_per_class, max_per_class,
                          image_size, seed, force, workers, max_pixels=max_pixels, copy=not no_copy)
    click.echo(format_summary(run_export(make_engine(db_url, must_exist=True), config, db_url)))


@click.group("db")
def db_group() -> None:
    """Inspect an archive, or move it to another database (SQLite <-> PostgreSQL).

    \b
    Examples:  cli.py db info --db postgresql+psycopg://user@localhost/fotos
               cli.py db copy --from sqlite:///data/archive.db --to postgresql+psycopg://user@localhost/fotos
    """


@db_group.command("info")
@db_option
def db_info(db_url: str) -> None:
    """Show the schema version, rows per table and rows per status.

    \b
    Example:  cli.py db info --db sqlite:///data/demo/archive.db
    """
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
    Example:  cli.py db copy --from sqlite:///data/archive.db --to postgresql+psycopg://user@localhost/fotos
    """
    from db.copy import CopyConfig, copy_archive, format_copy

    config = CopyConfig(source_url=source_url, target_url=target_url, force=force)
    click.echo(format_copy(copy_archive(config), config))


COMMANDS = (import_, dedupe, detect, balance_report, export, db_group)  # what cli.py adds to its group
