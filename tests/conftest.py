"""Shared fixtures: db_url and fresh_db (a temporary SQLite file, or PostgreSQL under `backends`), replica, tiny_export."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from db.session import make_engine

# Tests never reach the internet: timm/huggingface_hub fail fast instead of retrying a download for a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _real_photos_dir() -> Path:
    """The 200 public-domain photographs with exact years (read-only): $FOTOFECHA_REAL_PHOTOS, else
    ../shared/real-photos beside the checkout, else /work/shared/real-photos. Tests needing them skip without."""
    if os.environ.get("FOTOFECHA_REAL_PHOTOS"):
        return Path(os.environ["FOTOFECHA_REAL_PHOTOS"])
    beside = Path(__file__).resolve().parents[2] / "shared" / "real-photos"
    return beside if beside.is_dir() else Path("/work/shared/real-photos")


REAL_PHOTOS = _real_photos_dir()


# Test modules (or single tests) marked `@pytest.mark.backends("sqlite", "postgresql")` run once per backend
# through `db_url`/`fresh_db`; unmarked tests run on SQLite only.
BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "db_backend" in metafunc.fixturenames:
        unknown = set(marker.args) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"backends marker names {sorted(unknown)}; expected some of {BACKENDS}")
        metafunc.parametrize("db_backend", marker.args)


@pytest.fixture
def db_backend() -> str:
    """The database backend of this test: sqlite unless the test is marked `backends(...)`."""
    return "sqlite"


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the session (tests/pg_server.py). Skips where the server binaries or
    the driver are absent, but fails under CI (CI=true): there the PostgreSQL half must run."""
    from pg_server import PostgresServer, find_bindir, missing_reason

    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the PostgreSQL tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer(find_bindir()).start()
    yield server
    server.stop()


@pytest.fixture
def make_db_url(db_backend: str, tmp_path: Path, request):
    """make_db_url() -> the URL of a new, empty database of this test's backend (call it again for another)."""
    counter = iter(range(1, 1000))

    def make() -> str:
        if db_backend == "sqlite":
            n = next(counter)
            return f"sqlite:///{tmp_path / ('archive.db' if n == 1 else f'archive{n}.db')}"
        return request.getfixturevalue("pg_server").new_database()

    return make


@pytest.fixture
def db_url(make_db_url) -> str:
    """An empty database of this test's backend: tmp_path/archive.db, or a new PostgreSQL database."""
    return make_db_url()


@pytest.fixture
def fresh_db(db_url: str):
    """An engine on a new, migrated database (SQLite file, or PostgreSQL under `backends`)."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


# Size and seed of the replica archive the `replica` fixtures serve: big enough for every fault,
# the three markups, ~5% duplicates and 3 listing pages; small enough to crawl in seconds.
REPLICA_RECORDS = 60
REPLICA_SEED = 0


@pytest.fixture(scope="session")
def replica_archive():
    """The small replica archive (60 records, seed 0) with its ground truth; shared, read-only."""
    from crawler.replica import build_archive

    return build_archive(REPLICA_RECORDS, seed=REPLICA_SEED)


@pytest.fixture
def replica(replica_archive):
    """A ReplicaServer over `replica_archive` on 127.0.0.1 (free port), fresh hit and fault counters."""
    from crawler.replica import ReplicaServer

    with ReplicaServer(replica_archive) as server:
        yield server


@pytest.fixture(scope="session")
def app_run_dir(tiny_export: Path, tmp_path_factory) -> Path:
    """A real run directory for the web app: timm's tiny test_efficientnet trained 1 epoch at 64 px on tiny_export."""
    import torch

    from modeling.training.config import TrainConfig
    from modeling.training.train import train

    torch.set_num_threads(1)
    config = TrainConfig(data=tiny_export, out=tmp_path_factory.mktemp("app_run") / "run", arch="test_efficientnet",
                         pretrained=False, img_size=64, epochs=1, batch_size=16, lr=1e-3, workers=0, device="cpu",
                         channels_last=False)
    return train(config, show=False).run_dir


# Catalogued years of the records with a stored photo in `app_archive_db`.
APP_ARCHIVE_YEARS = (1870, 1905, 1931, 1958, 1966, 1984)


@pytest.fixture
def app_archive_db(fresh_db, db_url: str, tmp_path: Path) -> str:
    """The web app's records: 6 dated records with stored JPEGs (render_photo(year, seed=i)), then 4 whose
    image is corrupt, missing on disk, failed to download, or absent. Returns the DB URL."""
    import io

    from crawler.replica.photos import render_photo
    from db.models import Image, Record
    from db.session import session_scope

    def add(session, source_id: str, year: int | None, image: dict | None) -> None:
        record = Record(source="replica", source_id=source_id, title=f"Foto {source_id}",
                        date_raw=str(year) if year else "s.f.", year=year)
        if image is not None:
            record.images.append(Image(url=f"http://127.0.0.1/{source_id}.jpg", **image))
        session.add(record)

    with session_scope(fresh_db) as session:
        for i, year in enumerate(APP_ARCHIVE_YEARS):
            buffer = io.BytesIO()
            render_photo(year, i, (160, 120)).save(buffer, format="JPEG", quality=85)
            path = tmp_path / f"img{i}.jpg"
            path.write_bytes(buffer.getvalue())
            add(session, f"LRM-{i:06d}", year, {"path": str(path), "status": "ok", "format": "JPEG"})
        corrupt = tmp_path / "corrupt.jpg"
        corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        add(session, "LRM-000100", 1950, {"path": str(corrupt), "status": "ok"})
        add(session, "LRM-000101", 1950, {"path": str(tmp_path / "gone.jpg"), "status": "ok"})
        add(session, "LRM-000102", 1950, {"path": None, "status": "failed", "error": "HTTP 404"})
        add(session, "LRM-000103", None, None)
    return db_url


# Images per 20-year bin in the tiny export's archive (1860-1879 ... 1980-1999), skewed like the study.
TINY_EXPORT_BINS = {1860: 8, 1880: 8, 1900: 9, 1920: 10, 1940: 12, 1960: 14, 1980: 10}


def store_photo(session, images_dir: Path, source_id: str, img, date_raw: str | None = None,
                fmt: str = "JPEG", source: str = "tiny", data: bytes | None = None) -> int:
    """Add a record with one stored image (as the crawler stores them) and return the image id.

    `img` is a PIL image saved in `fmt`, or None with `data` given (raw bytes, e.g. a corrupt file).
    The date is parsed from `date_raw` with db.dates.parse_date.
    """
    import hashlib
    import io

    from db.dates import parse_date
    from db.models import Image, Record

    if data is None:
        buffer = io.BytesIO()
        img.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    path = images_dir / sha[:2] / f"{sha}.{'jpg' if fmt == 'JPEG' else fmt.lower()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    date = parse_date(date_raw)
    image = Image(url=f"http://127.0.0.1/{source_id}", path=str(path.resolve()), sha256=sha, format=fmt,
                  width=img.width if img else None, height=img.height if img else None, bytes=len(data), status="ok")
    session.add(Record(source=source, source_id=source_id, title=source_id, date_raw=date_raw, year=date.year,
                       year_min=date.year_min, year_max=date.year_max, date_precision=date.precision, images=[image]))
    session.flush()
    return image.id


@pytest.fixture
def add_photo(fresh_db, tmp_path: Path):
    """store_photo bound to fresh_db and tmp_path/images: add_photo("ID", pil_image, "1950") -> image id."""
    from db.session import session_scope

    def add(source_id: str, img, date_raw: str | None = None, **kwargs) -> int:
        with session_scope(fresh_db) as session:
            return store_photo(session, tmp_path / "images", source_id, img, date_raw, **kwargs)

    return add


def build_tiny_archive(engine, images_dir: Path) -> None:
    """Records with era-cued photos per TINY_EXPORT_BINS, plus 3 resized duplicates, 1 undated and 1 cross-bin record."""
    from crawler.replica import render_photo
    from db.session import session_scope

    photos = []  # (source_id, date_raw, PIL image)
    for start, count in TINY_EXPORT_BINS.items():
        for k in range(count):
            year = start + (k * 7) % 20
            photos.append((f"T-{year}-{k}", str(year), render_photo(year, k, (72, 96) if k % 4 == 3 else (96, 72))))
    for source_id, date_raw, img in photos[5:40:12]:
        photos.append((f"{source_id}-dup", date_raw, img.resize((img.width * 3 // 4, img.height * 3 // 4))))
    photos.append(("T-undated", "s.f.", render_photo(1950, 99, (96, 72))))
    photos.append(("T-span", "1915-1925", render_photo(1920, 98, (96, 72))))
    with session_scope(engine) as session:
        for source_id, date_raw, img in photos:
            store_photo(session, images_dir, source_id, img, date_raw)


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory) -> str:
    """URL of a deduplicated SQLite archive built by build_tiny_archive; shared, treat as read-only."""
    from dataset.dedupe import DedupeConfig, run_dedupe

    root = tmp_path_factory.mktemp("tiny_archive")
    url = f"sqlite:///{root / 'archive.db'}"
    engine = make_engine(url)
    build_tiny_archive(engine, root / "images")
    run_dedupe(engine, DedupeConfig(progress=False))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def tiny_export(tiny_archive: str, tmp_path_factory) -> Path:
    """A small real export (71 images, 64 px short side, 20y bins 1860-1999, seed 0) built by dataset.export."""
    from dataset.export import ExportConfig, run_export

    out = tmp_path_factory.mktemp("tiny_export") / "export"
    engine = make_engine(tiny_archive)
    run_export(engine, ExportConfig(out=out, bins="20y", image_size=64, seed=0, progress=False), tiny_archive)
    engine.dispose()
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_export, tmp_path_factory) -> Path:
    """A finished classify run (timm's tiny test_efficientnet, 32 px, 2 epochs) on tiny_export, for predict tests."""
    import torch

    from modeling.training.config import TrainConfig
    from modeling.training.train import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("tiny_run") / "run"
    train(TrainConfig(data=tiny_export, out=out, arch="test_efficientnet", pretrained=False, img_size=32, epochs=2,
                      batch_size=16, lr=1e-3, workers=0, precision="fp32"), show=False)
    return out
