"""Ingest a local folder of photographs (and a CSV of their metadata) into the archive store.

Files land in the same tables as the crawler's, stored the same way (content-addressed under the
images dir, original bytes, absolute Image.path). A record is keyed by (source, source id); the source
id is the file's path relative to the folder unless the CSV gives one. Unreadable or unsupported
pictures become rows with status "failed" and the reason; files that are not pictures at all
(notes, the CSV itself) are counted and skipped. Re-importing the same folder adds nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from tqdm import tqdm

from dataset.imageio import IMAGE_EXTENSIONS, SUPPORTED_FORMATS, UnreadableImage, probe
from db.dates import parse_date
from db.errors import PipelineError
from db.models import Image, Record, utcnow
from db.session import session_scope

# CSV header (lower-cased, accents dropped) -> Record field. The first column found for a field wins.
CSV_COLUMNS = {
    "file": "file", "filename": "file", "file_name": "file", "path": "file", "archivo": "file", "fichero": "file",
    "source_id": "source_id", "id": "source_id", "identificador": "source_id",
    "date": "date", "fecha": "date", "date_raw": "date", "year": "year", "ano": "year",
    "title": "title", "titulo": "title", "place": "place", "lugar": "place",
    "holder": "holder", "titular": "holder", "description": "description", "descripcion": "description",
}
COMMIT_EVERY = 200
# Picture formats Pillow does not read without plugins: named as unsupported rather than corrupt.
UNREADABLE_EXTENSIONS = {".heic", ".heif", ".avif", ".jxl", ".cr2", ".nef", ".dng", ".arw", ".orf", ".raf", ".psd", ".svg"}


class BadImportSource(PipelineError):
    """The folder or the metadata CSV cannot be used."""


@dataclass(frozen=True)
class ImportConfig:
    folder: Path  # folder searched recursively for pictures
    metadata: Path | None = None  # CSV: file name -> date/year, title, place, holder, description, source_id
    source: str = "local"  # records.source for everything imported
    images_dir: Path = Path("data/images")  # content-addressed store, as the crawler's --images-dir
    progress: bool = True  # tqdm bar on stderr


@dataclass(frozen=True)
class ImportSummary:
    files: int  # files looked at
    added: int  # new records
    updated: int  # records whose metadata or file changed
    unchanged: int  # records already imported as they are
    failed: int  # records whose picture is unreadable or unsupported (image status "failed")
    skipped: int  # files that are not pictures (not imported)
    unmatched_metadata: list[str] = field(default_factory=list)  # CSV rows naming no file in the folder
    failures: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().strip().lower().replace(" ", "_")


def read_metadata(path: Path) -> list[dict[str, str]]:
    """CSV rows as {field: value} using CSV_COLUMNS; needs a file column."""
    if not path.is_file():
        raise BadImportSource(f"Metadata file {path} not found: expected a CSV with a 'file' column. Check --metadata.")
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    header = next(reader, [])
    columns: dict[int, str] = {}
    for k, name in enumerate(header):
        target = CSV_COLUMNS.get(_fold(name))
        if target and target not in columns.values():
            columns[k] = target
    if "file" not in columns.values():
        raise BadImportSource(
            f"Metadata {path} has columns {', '.join(header) or '(none)'}: expected a 'file' column naming each "
            "image (plus date or year, title, place...)."
        )
    return [{columns[k]: v.strip() for k, v in enumerate(row) if k in columns and v.strip()} for row in reader if row]


def _match_metadata(rows: list[dict[str, str]], files: list[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """relative path -> metadata row, matching the CSV's file by relative path, else by unique base name."""
    by_name: dict[str, list[str]] = {}
    for rel in files:
        by_name.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
    matched, unmatched = {}, []
    for row in rows:
        name = row["file"].replace("\\", "/").lstrip("./")
        if name in files:
            matched[name] = row
        elif len(by_name.get(name.rsplit("/", 1)[-1], [])) == 1:
            matched[by_name[name.rsplit("/", 1)[-1]][0]] = row
        else:
            unmatched.append(row["file"])
    return matched, unmatched


def _list_files(folder: Path, exclude: Path | None) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and (exclude is None or path.resolve() != exclude):
                found.append(path)
    return found


def _store(data: bytes, sha: str, fmt: str, images_dir: Path) -> Path:
    dest = images_dir / sha[:2] / f"{sha}.{SUPPORTED_FORMATS[fmt]}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(dest.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(dest)
    return dest.resolve()


def run_import(engine: Engine, config: ImportConfig) -> ImportSummary:
    """Import every picture under config.folder; returns what was added, updated, failed or skipped."""
    if not config.folder.is_dir():
        raise BadImportSource(f"Folder {config.folder} not found: expected a directory of photographs.")
    metadata_path = config.metadata.resolve() if config.metadata else None
    paths = _list_files(config.folder, metadata_path)
    rels = [p.relative_to(config.folder).as_posix() for p in paths]
    meta, unmatched = _match_metadata(read_metadata(config.metadata), rels) if config.metadata else ({}, [])
    counts = {"added": 0, "updated": 0, "unchanged": 0, "failed": 0, "skipped": 0}
    failures: list[tuple[str, str]] = []
    with session_scope(engine) as session:
        for n, (path, rel) in enumerate(tqdm(list(zip(paths, rels, strict=True)), desc="importing", unit="file",
                                             disable=not config.progress)):
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            try:
                info, error = probe(path), None
            except UnreadableImage as exc:
                info, error = None, str(exc)
                suffix = path.suffix.lower()
                if "identify" in error and suffix not in IMAGE_EXTENSIONS:
                    counts["skipped"] += 1
                    continue
                if "identify" in error and suffix in UNREADABLE_EXTENSIONS:
                    error = f"unsupported format {suffix}: convert it to JPEG, PNG or TIFF"
                failures.append((rel, error))
                counts["failed"] += 1
            row = meta.get(rel, {})
            outcome = _upsert(session, config, rel, path, row, data, sha, info, error)
            if info is not None:
                counts[outcome] += 1
            if n % COMMIT_EVERY == COMMIT_EVERY - 1:
                session.commit()
    return ImportSummary(files=len(paths), unmatched_metadata=unmatched, failures=failures, **counts)


def _upsert(session, config: ImportConfig, rel: str, path: Path, row: dict, data: bytes, sha: str, info, error) -> str:
    date_text = row.get("date") or row.get("year")
    estimate = parse_date(date_text)
    fields = {
        "title": row.get("title"), "place": row.get("place"), "holder": row.get("holder"),
        "description": row.get("description"), "date_raw": date_text, "year": estimate.year,
        "year_min": estimate.year_min, "year_max": estimate.year_max, "date_precision": estimate.precision,
    }
    content_hash = hashlib.sha256(json.dumps([fields, sha], sort_keys=True).encode()).hexdigest()
    source_id = row.get("source_id") or rel
    record = session.scalars(select(Record).where(Record.source == config.source, Record.source_id == source_id)).first()
    if record is not None and record.content_hash == content_hash:
        return "unchanged"
    outcome = "added" if record is None else "updated"
    if record is None:
        record = Record(source=config.source, source_id=source_id)
        session.add(record)
    url = path.resolve().as_uri()
    for key, value in fields.items():
        setattr(record, key, value)
    record.image_url, record.content_hash, record.status, record.error = url, content_hash, "ok", None
    image = next((im for im in record.images if im.url == url), None)
    if image is None:
        image = Image(url=url)
        record.images.append(image)
    image.sha256, image.bytes, image.fetched_at = sha, len(data), utcnow()
    if info is None:
        image.path, image.width, image.height, image.format = None, None, None, None
        image.status, image.error = "failed", error
    else:
        image.path = str(_store(data, sha, info.format, config.images_dir))
        image.width, image.height, image.format = info.width, info.height, info.format
        image.status, image.error = "ok", None
    return outcome


def format_summary(summary: ImportSummary, folder: Path) -> str:
    """The lines `cli.py import` prints: counts, then each unreadable file with its reason."""
    lines = [f"Imported {summary.files} files from {folder}: {summary.added} added, {summary.updated} updated, "
             f"{summary.unchanged} unchanged, {summary.failed} unreadable, {summary.skipped} not pictures (skipped)."]
    lines += [f"  unreadable: {rel}: {reason}" for rel, reason in summary.failures]
    if summary.unmatched_metadata:
        lines.append(f"  {len(summary.unmatched_metadata)} metadata rows name no file in the folder: "
                     + ", ".join(summary.unmatched_metadata[:10]))
    return "\n".join(lines)
