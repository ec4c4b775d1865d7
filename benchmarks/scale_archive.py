"""The scale benchmark's archive: records made on request by index, served over OAI-PMH, and small pictures.

Nothing here holds the archive in memory: record `i` of an archive of `size` comes from a generator
seeded with (seed, i), so a ListRecords page is built from its offset alone and the server's memory is
the same for 10,000 records as for 1,000,000. The Dublin Core carries no picture link (the harvest
measures metadata); `attach_pictures` then gives every tenth record a small real JPEG directly in the
database, as a crawl that fetched them would have stored them.

    server = LazyOaiServer(size=100_000, seed=0).start()   # server.base_url + "/oai"
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

ID_PREFIX = "oai:scale.local:"
PAGE_SIZE = 100  # records per ListRecords page (DSpace's default)
FIRST_DATESTAMP = datetime(2024, 1, 1)
PICTURE_EVERY = 10  # one record in PICTURE_EVERY gets a picture (100k of 1M, as issue 21 asks)
PICTURE_SIDE = 64  # pixels of the square pictures attached
TOWNS = ("Logroño", "Haro", "Calahorra", "Arnedo", "Alfaro", "Nájera", "Ezcaray", "Cervera del Río Alhama",
         "Santo Domingo de la Calzada", "Torrecilla en Cameros", "Briones", "San Asensio")
SUBJECTS = ("Plaza", "Vendimia", "Procesión", "Boda", "Escuela", "Puente", "Fiestas", "Mercado", "Estación",
            "Familia", "Retrato", "Iglesia", "Calle Mayor", "Bodega", "Rio Ebro", "Equipo de fútbol")
HOLDERS = 2000  # distinct holders: /records' holder filter picks one of them
# The profile the harvest uses: the replica's, minus the picture link (this archive's Dublin Core has none).
PROFILE = """name = "Scale benchmark archive"
source = "scale"
start_urls = ["/"]
required = ["source_id", "title", "holder"]
[selectors]
record_links = "a::attr(href)"
next_page = "a.next::attr(href)"
image = "img::attr(src)"
fields_container = "body"
[labels]
"Identificador" = "source_id"
[oai]
holder = ["creator"]
identifier_prefix = "oai:scale.local:"
"""


@dataclass(frozen=True)
class ScaleRecord:
    source_id: str  # "SC-0000042"
    title: str  # "Plaza de Haro"
    description: str | None  # one record in three has one
    holder: str  # "Estudio 0042"
    place: str  # a town
    date: str  # "1923", "hacia 1920", "1920-1930" or "s.f." (undated, one in twenty)


def record(index: int, seed: int) -> ScaleRecord:
    """Record `index` of the archive made with `seed` (the same every time it is asked for)."""
    rng = random.Random(seed * 10_000_019 + index)
    year = rng.randint(1860, 1990)
    kind = rng.random()
    date = "s.f." if kind < 0.05 else f"hacia {year}" if kind < 0.10 else \
        f"{year}-{year + rng.randint(1, 12)}" if kind < 0.15 else str(year)
    place = rng.choice(TOWNS)
    return ScaleRecord(
        source_id=f"SC-{index:07d}", title=f"{rng.choice(SUBJECTS)} de {place}",
        description=f"Fotografía {index} de la colección, {place}." if rng.random() < 1 / 3 else None,
        holder=f"Estudio {rng.randrange(HOLDERS):04d}", place=place, date=date)


def _dublin_core(r: ScaleRecord) -> str:
    parts = [f"<dc:title>{escape(r.title)}</dc:title>"]
    if r.description:
        parts.append(f"<dc:description>{escape(r.description)}</dc:description>")
    parts += [f"<dc:creator>{escape(r.holder)}</dc:creator>", f"<dc:date>{escape(r.date)}</dc:date>",
              f"<dc:coverage>{escape(r.place)}</dc:coverage>", "<dc:type>Image</dc:type>",
              f"<dc:identifier>{r.source_id}</dc:identifier>"]
    return ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">' + "".join(parts) + "</oai_dc:dc>")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def oai_answer(query: str, size: int, seed: int, base_url: str) -> bytes:
    """The XML body for GET /oai?query on an archive of `size` records (Identify, ListMetadataFormats, ListRecords)."""
    args = {k: v[0] for k, v in parse_qs(query).items()}
    verb = args.get("verb", "")
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<responseDate>{_stamp(datetime.now(timezone.utc))}</responseDate>"
            f'<request verb="{escape(verb)}">{escape(base_url)}/oai</request>')
    if verb == "Identify":
        inner = (f"<Identify><repositoryName>Scale</repositoryName><baseURL>{base_url}/oai</baseURL>"
                 "<protocolVersion>2.0</protocolVersion><adminEmail>scale@localhost</adminEmail>"
                 f"<earliestDatestamp>{_stamp(FIRST_DATESTAMP)}</earliestDatestamp>"
                 "<deletedRecord>no</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>")
    elif verb == "ListMetadataFormats":
        inner = ("<ListMetadataFormats><metadataFormat><metadataPrefix>oai_dc</metadataPrefix><schema>x</schema>"
                 "<metadataNamespace>http://www.openarchives.org/OAI/2.0/oai_dc/</metadataNamespace>"
                 "</metadataFormat></ListMetadataFormats>")
    elif verb == "ListRecords":
        token = args.get("resumptionToken")
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        items = []
        for i in range(offset, min(size, offset + PAGE_SIZE)):
            r = record(i, seed)
            items.append(f"<record><header><identifier>{ID_PREFIX}{r.source_id}</identifier><datestamp>"
                         f"{_stamp(FIRST_DATESTAMP + timedelta(seconds=i))}</datestamp></header>"
                         f"<metadata>{_dublin_core(r)}</metadata></record>")
        following = offset + PAGE_SIZE
        if following < size:
            value = base64.urlsafe_b64encode(str(following).encode()).decode()
            items.append(f'<resumptionToken completeListSize="{size}" cursor="{offset}">{value}</resumptionToken>')
        elif offset:
            items.append(f'<resumptionToken completeListSize="{size}" cursor="{offset}"/>')
        inner = f"<ListRecords>{''.join(items)}</ListRecords>"
    else:
        inner = f'<error code="badVerb">{escape(verb)}</error>'
    return (head + inner + "</OAI-PMH>").encode()


class LazyOaiServer:
    """An OAI-PMH repository of `size` generated records on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LazyOaiServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                if url.path == "/robots.txt":
                    body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
                elif url.path == "/oai":
                    body, kind = oai_answer(url.query, owner.size, owner.seed, owner.base_url), "text/xml; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def fill_records(db_url: str, size: int, seed: int) -> int:
    """Insert the archive's records straight into the database (no OAI-PMH): the fields a harvest stores.

    For sizes whose harvest would not fit the time there is (the harvest is measured at the smaller sizes).
    """
    from sqlalchemy import insert

    from db.dates import parse_date
    from db.models import Record
    from db.session import make_engine

    engine = make_engine(db_url)
    stamp = datetime(2024, 1, 1)
    with engine.begin() as conn:
        for start in range(0, size, 5000):
            batch = []
            for i in range(start, min(size, start + 5000)):
                r = record(i, seed)
                d = parse_date(r.date)
                batch.append({"source": "scale", "source_id": r.source_id, "title": r.title, "holder": r.holder,
                              "place": r.place, "description": r.description, "date_raw": r.date, "year": d.year,
                              "year_min": d.year_min, "year_max": d.year_max, "date_precision": d.precision,
                              "status": "ok", "first_seen": stamp, "last_seen": stamp})
            conn.execute(insert(Record), batch)
    engine.dispose()
    return size


def _sources(real_photos: Path) -> list:
    """The real photographs, decoded once at 160 px (the crops come from these)."""
    from PIL import Image as PILImage

    pictures = []
    for path in sorted(real_photos.rglob("*.jpg")):
        with PILImage.open(path) as img:
            img.draft("RGB", (160, 160))
            img = img.convert("RGB")
            img.thumbnail((160, 160))
            pictures.append(img.copy())
    if not pictures:
        raise SystemExit(f"No JPEG under {real_photos}: expected the real photographs (see its README).")
    return pictures


def attach_pictures(db_url: str, size: int, seed: int, images_dir: Path, real_photos: Path) -> int:
    """Give every PICTURE_EVERY-th record a PICTURE_SIDE-pixel JPEG cropped from a real photograph; returns how many.

    Crops differ in place and size, so most pictures are distinct to a perceptual hash; a few repeat a crop
    exactly (a duplicate for dedupe to find). Rows are inserted in batches; the files are content-addressed.
    """
    from sqlalchemy import insert, select

    from db.models import Image, Record
    from db.session import make_engine

    sources = _sources(real_photos)
    engine = make_engine(db_url)
    wanted = [f"SC-{i:07d}" for i in range(0, size, PICTURE_EVERY)]
    attached = 0
    with engine.begin() as conn:
        ids = dict(conn.execute(select(Record.source_id, Record.id).where(Record.source == "scale")).all())
        batch = []
        for n, source_id in enumerate(wanted):
            rng = random.Random(seed * 7_000_003 + (n if n % 50 else 0))  # every 50th repeats crop 0: duplicates
            base = sources[rng.randrange(len(sources))]
            side = rng.randint(PICTURE_SIDE, min(base.size))
            x, y = rng.randint(0, base.width - side), rng.randint(0, base.height - side)
            crop = base.crop((x, y, x + side, y + side)).resize((PICTURE_SIDE, PICTURE_SIDE))
            buffer = io.BytesIO()
            crop.save(buffer, "JPEG", quality=85)
            data = buffer.getvalue()
            sha = hashlib.sha256(data).hexdigest()
            path = images_dir / sha[:2] / f"{sha}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            batch.append({"record_id": ids[source_id], "url": f"http://127.0.0.1/{source_id}.jpg", "path": str(path),
                          "sha256": sha, "width": PICTURE_SIDE, "height": PICTURE_SIDE, "format": "JPEG",
                          "bytes": len(data), "status": "ok", "fetched_at": datetime(2024, 1, 1)})
            if len(batch) == 2000:
                conn.execute(insert(Image), batch)
                attached += len(batch)
                batch = []
        if batch:
            conn.execute(insert(Image), batch)
            attached += len(batch)
    engine.dispose()
    return attached


POOL_FILES = 4000  # distinct picture files that `fill_pictures` reuses by path
NEAR_EVERY = 50  # fill_pictures: every NEAR_EVERY-th picture joins its predecessor's near-duplicate group


def fill_pictures(db_url: str, images_dir: Path, real_photos: Path, seed: int, pool_files: int = POOL_FILES) -> int:
    """Give every record one stored picture, cheaply, with a dedupe verdict; returns how many.

    A million distinct JPEGs would take hours to write and dedupe on two cores, and export's manifest does not
    read pixels: each image row points at one of `pool_files` real 64 px crops (written once, reused by path),
    with its own synthetic sha256, and gets a dedupe verdict directly: unique, every NEAR_EVERY-th one in its
    predecessor's near-duplicate group (two kept clusters), so splits still have groups to keep whole. Rows are inserted in
    batches, read from the records in id order, never all held.
    """
    from sqlalchemy import insert, select

    from db.models import Image, ImageDuplicate, Record
    from db.session import make_engine

    sources = _sources(real_photos)
    paths = []
    for n in range(pool_files):
        rng = random.Random(seed * 7_000_003 + n)
        base = sources[rng.randrange(len(sources))]
        side = rng.randint(PICTURE_SIDE, min(base.size))
        x, y = rng.randint(0, base.width - side), rng.randint(0, base.height - side)
        buffer = io.BytesIO()
        base.crop((x, y, x + side, y + side)).resize((PICTURE_SIDE, PICTURE_SIDE)).save(buffer, "JPEG", quality=85)
        path = images_dir / "pool" / f"{n:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        paths.append((str(path), len(buffer.getvalue())))
    engine = make_engine(db_url)
    stamp = datetime(2024, 1, 1)
    attached, after = 0, 0
    with engine.begin() as conn:
        next_id = (conn.execute(select(Image.id).order_by(Image.id.desc()).limit(1)).scalar() or 0) + 1
        while True:
            ids = conn.execute(select(Record.id).where(Record.id > after).order_by(Record.id).limit(5000)).scalars().all()
            if not ids:
                break
            images, verdicts = [], []
            for record_id in ids:
                image_id, n = next_id, attached
                path, size = paths[n % pool_files]
                images.append({"id": image_id, "record_id": record_id, "url": f"http://127.0.0.1/p/{record_id}.jpg",
                               "path": path, "sha256": hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest(),
                               "width": PICTURE_SIDE, "height": PICTURE_SIDE, "format": "JPEG", "bytes": size,
                               "status": "ok", "fetched_at": stamp})
                near = n % NEAR_EVERY == 1
                verdicts.append({"image_id": image_id, "cluster_id": image_id, "excluded": False, "role": "unique",
                                 "group_id": image_id - 1 if near else image_id, "distance": None, "transform": None,
                                 "algorithm": "phash", "threshold": 8, "decided_at": stamp})
                next_id += 1
                attached += 1
            conn.execute(insert(Image), images)
            conn.execute(insert(ImageDuplicate), verdicts)
            after = ids[-1]
    engine.dispose()
    return attached
