"""Ingest a local folder of photographs (and a CSV of their metadata) into the archive store.

Files land in the same tables as the crawler's, stored the same way (content-addressed under the
images dir, original bytes, absolute Image.path). A record is keyed by (source, source id); the source
id is the file's path relative to the folder unless the CSV gives one. Unreadable or unsupported
pictures, broken links and link loops become rows with status "failed" and the reason; files that are
not pictures at all (notes, the CSV itself) are counted and skipped after reading their first bytes only;
links leaving the folder are skipped and reported unless asked for. Files are hashed and copied in
chunks, never read whole. Re-importing the same folder adds nothing twice.
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import json
import os
import posixpath
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from dataset.imageio import IMAGE_EXTENSIONS, SUPPORTED_FORMATS, ImageInfo, UnreadableImage, probe
from db.dates import DateEstimate, parse_date, says_undated
from db.errors import PipelineError
from db.models import Image, Record, utcnow
from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import progress
from db.session import session_scope

# CSV header (lower-cased, accents dropped) -> Record field. The first column found for a field wins.
CSV_COLUMNS = {
    "file": "file", "filename": "file", "file_name": "file", "path": "file", "archivo": "file", "fichero": "file",
    "source_id": "source_id", "id": "source_id", "identificador": "source_id",
    "date": "date", "fecha": "date", "date_raw": "date", "year": "year", "ano": "year",
    "title": "title", "titulo": "title", "place": "place", "lugar": "place",
    "holder": "holder", "titular": "holder", "description": "description", "descripcion": "description",
}
# Columns read only when the CSV has none of CSV_COLUMNS for that field: who took a photograph stands for
# who holds it (a photographer, like a studio, covers a span of years).
CSV_FALLBACK_COLUMNS = {
    "photographer": "holder", "fotografo": "holder", "creator": "holder", "autor": "holder", "author": "holder",
}
COMMIT_EVERY = 200
# Picture formats Pillow does not read without plugins: named as unsupported rather than corrupt.
NOT_A_PICTURE = "not a picture"
UNREADABLE_EXTENSIONS = {".heic", ".heif", ".avif", ".jxl", ".cr2", ".nef", ".dng", ".arw", ".orf", ".raf", ".psd", ".svg"}


class BadImportSource(PipelineError):
    """The folder or the metadata CSV cannot be used."""


@dataclass(frozen=True)
class ImportConfig:
    folder: Path  # folder searched recursively for pictures
    metadata: Path | None = None  # CSV: file -> date/year, title, place, holder (or photographer), description, source_id
    source: str = "local"  # records.source for everything imported
    images_dir: Path = Path("data/images")  # content-addressed store, as the crawler's --images-dir
    progress: bool = True  # tqdm bar on stderr
    follow_links: bool = False  # import links whose target lies outside the folder (else skip and report them)
    encoding: str | None = None  # the CSV's encoding; None detects UTF-8 (with or without BOM), else cp1252
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures become failed rows (db.pixels)


# Why a stored picture has no year, in the order the summary lists them.
UNDATED_REASONS = {
    "no_metadata": "imported without --metadata",
    "no_row": "with no row in the CSV",
    "empty_date": "with an empty date in the CSV",
    "marked_undated": "catalogued as undated (e.g. 's.f.')",
    "unreadable_date": "with a date that could not be read (listed below)",
}


@dataclass(frozen=True)
class ImportSummary:
    files: int  # files looked at
    added: int  # new records
    updated: int  # records whose metadata or file changed
    unchanged: int  # records already imported as they are
    failed: int  # records whose picture is unreadable or unsupported (image status "failed")
    skipped: int  # files that are not pictures (not imported; links leaving the folder are in links_outside)
    unmatched_metadata: list[str] = field(default_factory=list)  # CSV rows naming no file in the folder
    failures: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)
    links_outside: list[tuple[str, str]] = field(default_factory=list)  # (relative path, target) skipped links
    unreadable_dates: list[tuple[str, str]] = field(default_factory=list)  # (relative path, date text) stored undated
    # pictures stored without a year, by why: one of UNDATED_REASONS' keys -> count
    undated: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # things the user should know (e.g. the CSV's guessed encoding)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().strip().lower().replace(" ", "_")


def decode_metadata(path: Path, raw: bytes, encoding: str | None) -> tuple[str, str | None]:
    """The CSV's text and a note when its encoding was guessed: UTF-8 (BOM or not), else Windows-1252.

    >>> decode_metadata(Path("m.csv"), "año".encode("cp1252"), None)[0]
    'año'
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise BadImportSource(f"Unknown --encoding {encoding!r}: expected e.g. utf-8, cp1252 or latin-1.") from None
        try:
            return raw.decode(encoding), None
        except UnicodeDecodeError as exc:
            raise BadImportSource(f"Metadata {path} is not {encoding} (byte {raw[exc.start]:#04x} at offset "
                                  f"{exc.start}): pass the CSV's real --encoding.") from None
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise BadImportSource(f"Metadata {path} is neither UTF-8 nor Windows-1252 (byte {raw[exc.start]:#04x} at "
                              f"offset {exc.start}): pass its --encoding, or save it as UTF-8.") from None
    return text, f"Metadata {path} is not UTF-8: read it as Windows-1252 (cp1252). Pass --encoding to choose another."


def read_metadata(path: Path, encoding: str | None = None) -> tuple[list[dict[str, str]], str | None]:
    """CSV rows as {field: value} using CSV_COLUMNS (needs a file column), and a note on a guessed encoding."""
    if not path.is_file():
        raise BadImportSource(f"Metadata file {path} not found: expected a CSV with a 'file' column. Check --metadata.")
    text, note = decode_metadata(path, path.read_bytes(), encoding)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    header = next(reader, [])
    columns: dict[int, str] = {}
    for names in (CSV_COLUMNS, CSV_FALLBACK_COLUMNS):
        for k, name in enumerate(header):
            target = names.get(_fold(name))
            if target and target not in columns.values():
                columns[k] = target
    if "file" not in columns.values():
        raise BadImportSource(
            f"Metadata {path} has columns {', '.join(header) or '(none)'}: expected a 'file' column naming each "
            "image (plus date or year, title, place...)."
        )
    rows = [{columns[k]: v.strip() for k, v in enumerate(row) if k in columns and v.strip()} for row in reader if row]
    return rows, note


def _match_metadata(rows: list[dict[str, str]], files: list[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """relative path -> metadata row, matching the CSV's file by relative path, else by base name.

    Each step is tried in turn and only taken when exactly one file fits: the relative path, the base
    name, then both again ignoring case (a row `photo-011.jpg` names `PHOTO-011.JPG`, as Windows and
    macOS folders do). A base name matches only when the CSV's path has no parent reference ("..")
    and is not absolute: "../../etc/good.jpg" names no file here.
    """
    exact_names: dict[str, list[str]] = {}
    folded_paths: dict[str, list[str]] = {}
    folded_names: dict[str, list[str]] = {}
    for rel in files:
        base = rel.rsplit("/", 1)[-1]
        exact_names.setdefault(base, []).append(rel)
        folded_paths.setdefault(rel.casefold(), []).append(rel)
        folded_names.setdefault(base.casefold(), []).append(rel)
    known = set(files)
    matched: dict[str, dict[str, str]] = {}
    by_base_name: list[tuple[str, dict[str, str]]] = []
    unmatched = []
    for row in rows:
        raw = row["file"].replace("\\", "/")
        name = posixpath.normpath(raw)
        base = name.rsplit("/", 1)[-1]
        local = ".." not in name.split("/") and not raw.startswith("/")
        if name in known:
            matched[name] = row
            continue
        for candidates in (exact_names.get(base, []) if local else [], folded_paths.get(name.casefold(), []),
                           folded_names.get(base.casefold(), []) if local else []):
            if len(candidates) == 1:
                by_base_name.append((candidates[0], row))
                break
        else:
            unmatched.append(row["file"])
    for rel, row in by_base_name:
        if rel in matched:
            unmatched.append(row["file"])  # the file's own path has a row already
        else:
            matched[rel] = row
    return matched, unmatched


def _list_files(folder: Path, exclude: str | None, follow_links: bool) -> list[Path]:
    """Files under `folder`, sorted, hidden ones left out; linked folders are entered only with follow_links."""
    found, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=follow_links):
        real = os.path.realpath(root)
        if real in seen:  # a folder link loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and (exclude is None or os.path.realpath(path) != exclude):
                found.append(path)
    return found


def _link_problem(path: Path, folder_real: str, follow_links: bool) -> tuple[str, str] | None:
    """("failed", reason) for a broken link or loop, ("outside", target) for a link leaving the folder."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except FileNotFoundError:
        return "failed", f"broken link: {os.readlink(path)} does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "failed", "broken link: it points back to itself (a link loop)"
        return "failed", f"cannot follow link: {exc.strerror}"
    target = os.path.realpath(path)
    if not follow_links and os.path.commonpath([target, folder_real]) != folder_real:
        return "outside", target
    return None


def _sha256_file(path: Path) -> tuple[str, int]:
    """sha256 hex and size, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _store(source: Path, sha: str, fmt: str, images_dir: Path) -> Path:
    dest = images_dir / sha[:2] / f"{sha}.{SUPPORTED_FORMATS[fmt]}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(dest.suffix + ".part")
        shutil.copyfile(source, partial)
        partial.replace(dest)
    return dest.resolve()


def run_import(engine: Engine, config: ImportConfig) -> ImportSummary:
    """Import every picture under config.folder; returns what was added, updated, failed or skipped."""
    if not config.folder.is_dir():
        raise BadImportSource(f"Folder {config.folder} not found: expected a directory of photographs.")
    rows, note = read_metadata(config.metadata, config.encoding) if config.metadata else ([], None)
    exclude = os.path.realpath(config.metadata) if config.metadata else None
    paths = _list_files(config.folder, exclude, config.follow_links)
    rels = [p.relative_to(config.folder).as_posix() for p in paths]
    meta, unmatched = _match_metadata(rows, rels) if config.metadata else ({}, [])
    folder_real = os.path.realpath(config.folder)
    counts = {"added": 0, "updated": 0, "unchanged": 0, "failed": 0, "skipped": 0}
    failures: list[tuple[str, str]] = []
    links_outside: list[tuple[str, str]] = []
    unreadable_dates: list[tuple[str, str]] = []
    undated: dict[str, int] = {}
    with session_scope(engine) as session:
        for n, (path, rel) in enumerate(progress(list(zip(paths, rels, strict=True)), desc="importing", unit="file",
                                                 enabled=config.progress)):
            problem = _link_problem(path, folder_real, config.follow_links)
            if problem is not None and problem[0] == "outside":
                links_outside.append((rel, problem[1]))
                continue
            info, error, sha, size = _read(path, config.max_pixels) if problem is None else (None, problem[1], None, None)
            if error == NOT_A_PICTURE:
                counts["skipped"] += 1
                continue
            if error is not None:
                failures.append((rel, error))
                counts["failed"] += 1
            row = meta.get(rel, {})
            fields, estimate = _record_fields(row)
            if fields["date_raw"] and estimate.precision == "unknown" and not says_undated(fields["date_raw"]):
                unreadable_dates.append((rel, fields["date_raw"]))
            if info is not None and estimate.year is None:
                reason = _undated_reason(config.metadata is not None, rel in meta, fields["date_raw"])
                undated[reason] = undated.get(reason, 0) + 1
            source_id = row.get("source_id") or rel
            outcome = _upsert(session, config, source_id, path, fields, size, sha, info, error)
            if info is not None:
                counts[outcome] += 1
            if n % COMMIT_EVERY == COMMIT_EVERY - 1:
                session.commit()
    return ImportSummary(files=len(paths), unmatched_metadata=unmatched, failures=failures,
                         links_outside=links_outside, unreadable_dates=unreadable_dates,
                         undated={key: undated[key] for key in UNDATED_REASONS if key in undated},
                         notes=[note] if note else [], **counts)


def _undated_reason(has_metadata: bool, has_row: bool, date_text: str | None) -> str:
    """Why a picture got no year: a key of UNDATED_REASONS."""
    if not has_metadata:
        return "no_metadata"
    if not has_row:
        return "no_row"
    if not (date_text or "").strip():
        return "empty_date"
    return "marked_undated" if says_undated(date_text) else "unreadable_date"


def _read(path: Path, max_pixels: int) -> tuple[ImageInfo | None, str | None, str | None, int | None]:
    """(info, error, sha256, size) of one file; error NOT_A_PICTURE means skip it, any other is a failed row's
    reason. Pillow identifies a file from its first bytes, so a large non-picture is never read."""
    try:
        info, error = probe(path, max_pixels), None
    except UnreadableImage as exc:
        info, error = None, str(exc)
        suffix = path.suffix.lower()
        if "identify" in error and suffix not in IMAGE_EXTENSIONS:
            return None, NOT_A_PICTURE, None, None
        if "identify" in error and suffix in UNREADABLE_EXTENSIONS:
            error = f"unsupported format {suffix}: convert it to JPEG, PNG or TIFF"
    try:
        sha, size = _sha256_file(path)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}", None, None
    return info, error, sha, size


def _record_fields(row: dict[str, str]) -> tuple[dict, DateEstimate]:
    date_text = row.get("date") or row.get("year")
    estimate = parse_date(date_text)
    fields = {
        "title": row.get("title"), "place": row.get("place"), "holder": row.get("holder"),
        "description": row.get("description"), "date_raw": date_text, "year": estimate.year,
        "year_min": estimate.year_min, "year_max": estimate.year_max, "date_precision": estimate.precision,
    }
    return fields, estimate


def _upsert(session, config: ImportConfig, source_id: str, path: Path, fields: dict, size: int | None,
            sha: str | None, info: ImageInfo | None, error: str | None) -> str:
    content_hash = hashlib.sha256(json.dumps([fields, sha], sort_keys=True).encode()).hexdigest()
    record = session.scalars(select(Record).where(Record.source == config.source, Record.source_id == source_id)).first()
    if record is not None and record.content_hash == content_hash:
        return "unchanged"
    outcome = "added" if record is None else "updated"
    if record is None:
        record = Record(source=config.source, source_id=source_id)
        session.add(record)
    url = Path(os.path.realpath(path)).as_uri()  # realpath, unlike resolve(), survives a link loop
    for key, value in fields.items():
        setattr(record, key, value)
    record.image_url, record.content_hash, record.status, record.error = url, content_hash, "ok", None
    image = next((im for im in record.images if im.url == url), None)
    if image is None:
        image = Image(url=url)
        record.images.append(image)
    image.sha256, image.bytes, image.fetched_at = sha, size, utcnow()
    if info is None:
        image.path, image.width, image.height, image.format = None, None, None, None
        image.status, image.error = "failed", error
    else:
        image.path = str(_store(path, sha, info.format, config.images_dir))
        image.width, image.height, image.format = info.width, info.height, info.format
        image.status, image.error = "ok", None
    return outcome


def format_summary(summary: ImportSummary, folder: Path) -> str:
    """The lines `cli.py import` prints: counts, then each unreadable file with its reason."""
    outside = f", {len(summary.links_outside)} link(s) leaving the folder (skipped)" if summary.links_outside else ""
    lines = [f"Imported {summary.files} files from {folder}: {summary.added} added, {summary.updated} updated, "
             f"{summary.unchanged} unchanged, {summary.failed} unreadable, {summary.skipped} not pictures "
             f"(skipped){outside}."]
    lines += [f"  note: {note}" for note in summary.notes]
    lines += [f"  unreadable: {rel}: {reason}" for rel, reason in summary.failures]
    lines += [f"  link leaves the folder (--follow-links imports it): {rel} -> {target}"
              for rel, target in summary.links_outside]
    if summary.undated:
        n = sum(summary.undated.values())
        why = "; ".join(f"{count} {UNDATED_REASONS[key]}" for key, count in summary.undated.items())
        lines.append(f"  {n} picture{' went' if n == 1 else 's went'} in undated (no year, so export and training "
                     f"leave {'it' if n == 1 else 'them'} out): {why}.")
    if summary.unreadable_dates:
        n = len(summary.unreadable_dates)
        lines.append(f"  {n} date{' was' if n == 1 else 's were'} not readable (stored without a year): "
                     + ", ".join(f"{rel} {text!r}" for rel, text in summary.unreadable_dates[:10]))
    if summary.unmatched_metadata:
        lines.append(f"  {len(summary.unmatched_metadata)} metadata rows name no file in the folder: "
                     + ", ".join(summary.unmatched_metadata[:10]))
    return "\n".join(lines)
