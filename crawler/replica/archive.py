"""The replica archive's records and their ground truth, generated deterministically from a seed.

Building an archive only draws the catalogue (text, years, faults); the picture of a record is
rendered and encoded the first time its bytes are asked for, and kept in a bounded cache, so an
8,000-record archive is built in well under a second.

>>> archive = build_archive(60, seed=0)
>>> archive.records[0].source_id
'LRM-000001'
"""

from __future__ import annotations

import bisect
import io
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

from crawler.replica.catalogue import (
    NO_DATE,
    UNPARSEABLE,
    RecordText,
    date_string,
    first_catalogue_draws,
    record_text,
)
from crawler.replica.holders import Holder, assign_holders
from crawler.replica.photos import mount_print, render_photo

FAULTS = (
    "missing_fields", "unparseable_date", "no_date", "image_404", "image_html", "image_truncated",
    "page_500_transient", "page_429", "redirect", "robots_disallowed",
)
# Share of records given each fault; every fault gets at least one record when the archive has
# MIN_RECORDS_FOR_ALL_FAULTS records or more.
FAULT_RATES = {
    "missing_fields": 0.03, "unparseable_date": 0.02, "no_date": 0.04, "image_404": 0.01,
    "image_html": 0.01, "image_truncated": 0.01, "page_500_transient": 0.01, "page_429": 0.01,
    "redirect": 0.02, "robots_disallowed": 0.01,
}
MIN_RECORDS_FOR_ALL_FAULTS = 20
MARKUPS = ("dl", "table", "li")
DUPLICATE_RATE = 0.05  # share of records that re-catalogue another record's photograph
PNG_RATE = 0.10  # share of images served as PNG
# How the n-th duplicate differs from its original besides size and JPEG quality, in turn: a plain
# copy, an orientation, the print on a card mount or on a scanner bed.
VARIANTS = (
    "copy", "mirror", "card", "rot90", "bed", "copy", "rot180", "flip", "card", "rot270", "transpose", "bed",
    "transverse", "copy", "mirror", "bed",
)
# Pillow's operation per orientation, named as dataset/orientations.py names them (the crawler does
# not import the dataset stage; tests/test_replica.py checks that the two agree).
TRANSPOSE = {
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT, "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rot90": Image.Transpose.ROTATE_90, "rot180": Image.Transpose.ROTATE_180, "rot270": Image.Transpose.ROTATE_270,
    "transpose": Image.Transpose.TRANSPOSE, "transverse": Image.Transpose.TRANSVERSE,
}
# Decade -> relative share of photographs, shaped like the study's archive: a handful before
# 1900, most in the 1950s-60s, none after 1989.
DECADE_WEIGHTS = {
    1860: 1.0, 1870: 1.0, 1880: 1.5, 1890: 2.0, 1900: 4.0, 1910: 5.0, 1920: 7.0, 1930: 7.0,
    1940: 9.0, 1950: 22.0, 1960: 21.0, 1970: 12.0, 1980: 7.0,
}
YEAR_MAX = 1989  # the latest year a photograph in the archive shows
# Photo sizes (width, height) and their shares: mostly landscape 4:3, some portrait.
SIZES = (((320, 240), 0.7), ((240, 320), 0.15), ((320, 213), 0.1), ((300, 300), 0.05))
# Catalogue fields, in page order.
LABELS = ("Identificador", "Título", "Titular", "Fecha", "Lugar", "Descripción")
# The ones a missing_fields record lacks (1 or 2 of them; a lone "Descripción" becomes "Lugar", since a
# record without a description is an ordinary one: most have none).
OPTIONAL_LABELS = ("Titular", "Lugar", "Descripción")
TRUNCATE_AT = 0.6  # an image_truncated JPEG keeps this share of its bytes
IMAGE_CACHE_SIZE = 512  # encoded images kept in memory (regenerated identically when evicted)


@dataclass(frozen=True)
class ReplicaRecord:
    source_id: str  # "LRM-000123"
    page_path: str  # canonical record page, "/foto/LRM-000123"
    markup: str  # "dl" | "table" | "li": how the record page lays out its fields
    fields: dict[str, str]  # canonical label -> value exactly as served (unescaped text)
    date_raw: str | None  # the Fecha/Año value as served; None when the page has no date field
    true_year: int  # the year the picture shows (ground truth), whatever the catalogue says
    catalogued_year: int | None  # the year the date string was written around; None when no usable date
    image_path: str  # "/media/LRM-000123.jpg" or ".png"
    image_format: str  # "JPEG" | "PNG" (PIL format name of the bytes served)
    faults: tuple[str, ...]  # injected faults, from FAULTS
    duplicate_of: str | None  # source_id of the record whose photograph this one re-catalogues
    listed_path: str  # the href the listing shows for this record
    date_label: str  # "Fecha" or "Año": the label the page uses for the date
    image_size: tuple[int, int]  # (width, height) of the served picture
    photo_seed: int  # render_photo seed of the picture (the original's, for a duplicate)
    jpeg_quality: int  # quality the JPEG was encoded at (unused for PNG)
    variant: str = ""  # a duplicate's change besides size: one of VARIANTS ("" for an original)
    # where the print lies in a mounted duplicate's picture (left, top, right, bottom); None when not mounted
    print_box: tuple[int, int, int, int] | None = None
    # the holder drawn for the picture's year (its "Titular", even where a missing_fields fault hides it)
    holder: Holder | None = None
    # the title, place and description drawn, with the dates they name (crawler/replica/catalogue.py)
    text: RecordText | None = None

    @property
    def title(self) -> str:
        return self.fields["Título"]


class ReplicaArchive:
    """The records of one replica archive, and the exact bytes of their images."""

    def __init__(self, records: list[ReplicaRecord], seed: int):
        self.records = records
        self.seed = seed
        self._by_id = {r.source_id: r for r in records}
        self._cache: OrderedDict[str, bytes | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.records)

    def record(self, source_id: str) -> ReplicaRecord:
        """The record with this identifier; KeyError if the archive has none."""
        return self._by_id[source_id]

    def find(self, source_id: str) -> ReplicaRecord | None:
        return self._by_id.get(source_id)

    def holders(self) -> dict[str, Holder]:
        """Every holder with at least one record, by name."""
        return {r.holder.name: r.holder for r in self.records if r.holder is not None}

    def image_bytes(self, source_id: str) -> bytes | None:
        """The exact bytes served at the record's image URL; None for an image_404 / image_html fault."""
        with self._lock:
            if source_id in self._cache:
                self._cache.move_to_end(source_id)
                return self._cache[source_id]
        data = self._encode(self.record(source_id))
        with self._lock:
            self._cache[source_id] = data
            while len(self._cache) > IMAGE_CACHE_SIZE:
                self._cache.popitem(last=False)
        return data

    def _encode(self, record: ReplicaRecord) -> bytes | None:
        if "image_404" in record.faults or "image_html" in record.faults:
            return None
        if record.duplicate_of is not None:
            original = self.record(record.duplicate_of)
            picture = render_photo(original.true_year, original.photo_seed, original.image_size)
            picture = _vary(picture, record)
        else:
            picture = render_photo(record.true_year, record.photo_seed, record.image_size)
        buffer = io.BytesIO()
        if record.image_format == "PNG":
            picture.save(buffer, format="PNG", compress_level=1)
        else:
            picture.save(buffer, format="JPEG", quality=record.jpeg_quality)
        data = buffer.getvalue()
        if "image_truncated" in record.faults:
            data = data[: int(len(data) * TRUNCATE_AT)]
        return data


def _vary(picture: Image.Image, record: ReplicaRecord) -> Image.Image:
    """The original's picture resized, then turned or mounted as the duplicate's `variant` says."""
    if record.print_box is not None:
        left, top, right, bottom = record.print_box
        printed = picture.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
        width, height = record.image_size
        margins = (left, top, width - right, height - bottom)
        return mount_print(printed, record.variant, margins, record.photo_seed)
    if record.variant in TRANSPOSE:
        turned = picture.transpose(TRANSPOSE[record.variant])
        return turned.resize(record.image_size, Image.Resampling.LANCZOS)
    return picture.resize(record.image_size, Image.Resampling.LANCZOS)


def _variant_geometry(variant: str, size: tuple[int, int], rng: random.Random) -> tuple[tuple[int, int], tuple | None]:
    """(served size, print box) of a duplicate whose print is `size` before turning or mounting."""
    w, h = size
    if variant in ("card", "bed"):
        side = min(w, h)
        if variant == "card":
            margins = [round(side * rng.uniform(0.06, 0.12)) for _ in range(3)]
            bottom = margins[1] + round(h * rng.uniform(0.03, 0.1))  # the studio's imprint strip
        else:  # a scanner bed: uneven, the print laid down off-centre
            margins = [round(side * rng.uniform(0.02, 0.2)) for _ in range(3)]
            bottom = round(side * rng.uniform(0.02, 0.2))
        left, top, right = margins
        return (w + left + right, h + top + bottom), (left, top, left + w, top + h)
    if variant in ("rot90", "rot270", "transpose", "transverse"):
        return (h, w), None
    return (w, h), None


def _stratified_years(count: int, rng: random.Random) -> list[int]:
    """Years drawn from DECADE_WEIGHTS by stratified sampling, so small archives keep the shape."""
    decades = sorted(DECADE_WEIGHTS)
    total = sum(DECADE_WEIGHTS.values())
    cumulative, running = [], 0.0
    for decade in decades:
        running += DECADE_WEIGHTS[decade] / total
        cumulative.append(running)
    years = []
    for k in range(count):
        u = min((k + rng.random()) / count, 1.0 - 1e-9)
        i = bisect.bisect_right(cumulative, u)
        start = cumulative[i - 1] if i else 0.0
        within = (u - start) / (cumulative[i] - start)
        years.append(decades[i] + min(9, int(within * 10)))
    rng.shuffle(years)
    return years


def _fault_plan(n: int) -> list[str]:
    """One fault per faulted record, in a fixed order (the rarest first, so tiny archives keep them)."""
    plan = []
    for fault in FAULTS:
        count = round(FAULT_RATES[fault] * n)
        plan += [fault] * max(count, 1 if n >= MIN_RECORDS_FOR_ALL_FAULTS else 0)
    return plan


def _listed_path(source_id: str, faults: tuple[str, ...]) -> str:
    if "redirect" in faults:
        return f"/ficha.php?id={source_id}"
    if "robots_disallowed" in faults:
        return f"/privado/foto/{source_id}"
    return f"/foto/{source_id}"


def build_archive(records: int = 200, seed: int = 0) -> ReplicaArchive:
    """A replica archive of `records` records, identical for identical (records, seed).

    Roles are dealt from one shuffle of the record indices: first the duplicates, then one
    record per planned fault, and the rest are clean (duplicates copy a clean record's photo).

    >>> len(build_archive(30, seed=1).records)
    30
    """
    if records < 1:
        raise ValueError(f"a replica archive needs at least 1 record, got {records}")
    rng = random.Random(seed)
    wanted_dups = round(DUPLICATE_RATE * records)
    plan = _fault_plan(records)[: records - wanted_dups]
    order = list(range(records))
    rng.shuffle(order)
    fault_of = dict(zip(order[wanted_dups : wanted_dups + len(plan)], plan, strict=True))
    clean = order[wanted_dups + len(plan) :]
    dup_slots = sorted(order[:wanted_dups])[: len(clean)]
    original_of = dict(zip(dup_slots, rng.sample(clean, len(dup_slots)), strict=True))
    # PNG for ~10% of the records that are neither duplicates nor truncated JPEGs.
    png_pool = [i for i in order if i not in original_of and fault_of.get(i) != "image_truncated"]
    png_slots = set(rng.sample(png_pool, min(len(png_pool), round(PNG_RATE * records))))
    # Some duplicates are catalogued with another year (at least one when there are any).
    miscatalogued = set(dup_slots[::3])
    years = _stratified_years(records - len(dup_slots), rng)
    sizes, size_weights = [s for s, _ in SIZES], [w for _, w in SIZES]
    # (true year, render seed, size) of every picture that is not a copy.
    pictures = {
        i: (years.pop(), rng.randrange(2**31), rng.choices(sizes, weights=size_weights)[0])
        for i in range(records)
        if i not in original_of
    }

    # Variants and the catalogue text come from their own generators, so adding them left every other
    # draw as it was. Holders are chosen to fit the year the picture shows, never the year to fit them.
    true_years = [pictures[original_of.get(i, i)][0] for i in range(records)]
    catalogue_rng = random.Random(f"catalogue-{seed}")
    holders = assign_holders(true_years, records, catalogue_rng)
    variant_of = {i: VARIANTS[k % len(VARIANTS)] for k, i in enumerate(dup_slots)}
    variant_rng = random.Random(f"variants-{seed}")
    built: list[ReplicaRecord] = []
    for i in range(records):
        source_id = f"LRM-{i + 1:06d}"
        fault = fault_of.get(i)
        faults = (fault,) if fault else ()
        original = original_of.get(i)
        true_year, photo_seed, (w, h) = pictures[i if original is None else original]
        print_box = None
        if original is not None:
            scale = rng.choice((0.6, 0.75, 0.8, 1.25))
            w, h = round(w * scale), round(h * scale)
            (w, h), print_box = _variant_geometry(variant_of[i], (w, h), variant_rng)
        catalogued = true_year
        if i in miscatalogued:
            shift = rng.randint(3, 15)
            catalogued = true_year + shift if true_year + shift <= YEAR_MAX else true_year - shift
        if fault == "no_date":
            date_raw, catalogued = rng.choice(NO_DATE), None
        elif fault == "unparseable_date":
            date_raw, catalogued = rng.choice(UNPARSEABLE), None
        else:
            date_raw = date_string(catalogued, rng)
        date_label = "Año" if rng.random() < 0.3 else "Fecha"
        first_catalogue_draws(rng)  # no longer served; drawn so the main stream goes on as it did
        text = record_text(true_year, holders[i].town, catalogue_rng)
        fields = {"Identificador": source_id, "Título": text.title, "Titular": holders[i].name,
                  date_label: date_raw, "Lugar": text.place}
        if text.description is not None:
            fields["Descripción"] = text.description
        if fault == "missing_fields":
            hidden = rng.sample(OPTIONAL_LABELS, rng.randint(1, 2))
            for label in ["Lugar"] if hidden == ["Descripción"] else hidden:
                fields.pop(label, None)
        built.append(
            ReplicaRecord(
                source_id=source_id,
                page_path=f"/foto/{source_id}",
                markup=MARKUPS[i % len(MARKUPS)],
                fields=fields,
                date_raw=date_raw,
                true_year=true_year,
                catalogued_year=catalogued,
                image_path=f"/media/{source_id}.{'png' if i in png_slots else 'jpg'}",
                image_format="PNG" if i in png_slots else "JPEG",
                faults=faults,
                duplicate_of=None if original is None else f"LRM-{original + 1:06d}",
                listed_path=_listed_path(source_id, faults),
                date_label=date_label,
                image_size=(w, h),
                photo_seed=photo_seed,
                # Duplicates are re-encoded harder, as copies passed between collections are.
                jpeg_quality=rng.randint(65, 80) if original is not None else rng.randint(78, 93),
                variant=variant_of.get(i, ""),
                print_box=print_box,
                holder=holders[i],
                text=text,
            )
        )
    return ReplicaArchive(built, seed)
