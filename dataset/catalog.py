"""The images a dataset can use: binned by their record's date, with dedupe verdicts and reasons for the rest.

Shared by balance-report and export so that both count the same way. The unit is an image (a
record with two images counts twice); records without a usable image are counted as records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Engine, exists, func, null, select

from dataset.bins import Bins, parse_bins
from db.models import Image, ImageDuplicate, Record
from db.session import session_scope

# Why an image (or a record without one) is not in any bin, in report order.
LEFT_OUT_REASONS = {
    "withdrawn": "records the archive has withdrawn (OAI-PMH deleted)",
    "no_image": "records without a stored image",
    "unreadable_image": "image could not be decoded (see dedupe)",
    "no_date": "no usable date",
    "open_date": "open-ended date (before/after a year)",
    "spans_bins": "date range spans two bins",
    "outside_bins": "date outside the bins",
}


class Candidate(NamedTuple):
    """One binned image. A NamedTuple, not a dataclass: export makes a million per pass, ten times cheaper so."""

    image_id: int  # images.id
    record_id: int  # records.id
    source_id: str  # the archive's identifier
    path: str  # absolute path of the stored file
    year: int | None  # best estimate of the record's date
    year_min: int  # earliest year the catalogued date allows
    year_max: int  # latest year the catalogued date allows
    bin_index: int  # index into Bins
    cluster_id: int  # kept image of its duplicate cluster (itself if unique or not deduped)
    group_id: int  # near-duplicate component; splits never cut one
    excluded: bool  # a duplicate left out in favour of its cluster's kept image
    width: int | None  # stored pixels
    height: int | None  # stored pixels
    format: str | None  # PIL format name
    source: str = ""  # records.source: which archive or import the photograph came from
    title: str = ""  # records.title, "" when none: the text and explicit-date evidence read it
    description: str = ""  # records.description, "" when none
    holder: str = ""  # records.holder (photographer, studio or donor), "" when none
    place: str = ""  # records.place, "" when none


@dataclass(frozen=True)
class Catalog:
    bins: Bins  # the bins images were sorted into
    items: list[Candidate]  # binned, readable images, excluded duplicates included (flagged), by image id
    left_out: dict[str, int]  # LEFT_OUT_REASONS key -> count
    not_deduped: int  # binned images without a dedupe verdict yet


def _date_range(year: int | None, year_min: int | None, year_max: int | None) -> tuple[int | None, int | None]:
    lo = year_min if year_min is not None else (year if year_max is None else None)
    hi = year_max if year_max is not None else (year if year_min is None else None)
    return lo, hi


# Rows fetched from the database per round trip while the catalog streams the archive's images.
CHUNK_ROWS = 5000


def load_catalog(engine: Engine, bins_spec: str, origin: int, with_text: bool = True) -> Catalog:
    """Sort every ok image into a bin of `bins_spec`; Ny bins run from `origin` to the latest dated year.

    Records without a stored image are counted by the database, not read: at a million records of which a
    tenth have pictures, only the pictures' rows come into memory, streamed CHUNK_ROWS at a time.
    `with_text=False` leaves title, description, holder and place empty (balance-report needs only counts).
    """
    stream = CatalogStream(engine, bins_spec, origin, with_text)
    items = list(stream)
    return Catalog(stream.bins, items, stream.reasons(), stream.not_deduped)


class CatalogStream:
    """load_catalog's pass as an iterator of Candidates, by image id, none of them kept here.

    The bins and the imageless records' counts are read when it is made; iterating streams the pictures' rows
    (CHUNK_ROWS per round trip) and counts, as it goes, the images left out and those without a dedupe verdict:
    `left_out` and `not_deduped` are complete once the iteration ends. Each iteration reads the archive again.
    """

    def __init__(self, engine: Engine, bins_spec: str, origin: int, with_text: bool = True) -> None:
        self.engine = engine
        self.with_text = with_text  # False: title, description, holder and place left empty
        withdrawn = Record.status == "deleted"
        has_stored = exists().where(Image.record_id == Record.id, _STORED)
        with session_scope(engine) as session:
            year_max = session.scalar(select(func.max(Record.year)).where(
                Record.year.is_not(None), Record.year_max.is_not(None), ~withdrawn))
            self.bins = parse_bins(bins_spec, origin=origin, year_max=year_max if year_max is not None else origin)
            # A withdrawn record counts once per stored image, or once if it has none (as a row of the archive).
            self._counted = Counter({
                "withdrawn": (session.scalar(select(func.count()).select_from(Record).where(withdrawn, ~has_stored))
                              + session.scalar(select(func.count()).select_from(Image).join(Record)
                                               .where(withdrawn, _STORED))),
                "no_image": session.scalar(select(func.count()).select_from(Record).where(~withdrawn, ~has_stored)),
            })
        self.left_out: Counter[str] = Counter(self._counted)  # LEFT_OUT_REASONS key -> count, so far
        self.not_deduped = 0  # binned images without a dedupe verdict, so far
        self.read = 0  # rows read so far by the iteration

    def stored_count(self) -> int:
        """How many rows an iteration reads (every stored picture of a record not withdrawn): a progress bar's total."""
        with session_scope(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Image).join(Record, Image.record_id == Record.id)
                                  .where(_STORED, Record.status != "deleted"))

    def reasons(self) -> dict[str, int]:
        """left_out in report order, without zeros."""
        return {k: self.left_out[k] for k in LEFT_OUT_REASONS if self.left_out[k]}

    def __iter__(self) -> Iterator[Candidate]:
        self.left_out, self.not_deduped, self.read = Counter(self._counted), 0, 0
        bins, left_out = self.bins, self.left_out
        bin_of: dict[tuple[int, int], int | None] = {}  # (year_min, year_max) -> bins.index_of_range
        text_columns = (Record.title, Record.description, Record.holder, Record.place) if self.with_text else \
            (null(), null(), null(), null())
        # Core rows, not the ORM's: at a million pictures the ORM's per-row loading was a third of export's time.
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=CHUNK_ROWS).execute(
                select(
                    Record.id, Record.source_id, Record.source, Record.year, Record.year_min, Record.year_max,
                    *text_columns, Image.id, Image.path, Image.width, Image.height, Image.format,
                    ImageDuplicate.cluster_id, ImageDuplicate.group_id, ImageDuplicate.excluded, ImageDuplicate.role,
                )
                .select_from(Image)
                .join(Record, Image.record_id == Record.id)
                .outerjoin(ImageDuplicate, ImageDuplicate.image_id == Image.id)
                .where(_STORED, Record.status != "deleted")
                .order_by(Image.id)
            )
            for chunk in rows.partitions():  # fetchmany, not a call per row
                self.read += len(chunk)
                for r in chunk:
                    (record_id, source_id, source, year, year_min, year_max, title, description, holder, place, image_id,
                     path, width, height, fmt, cluster_id, group_id, excluded, role) = r
                    if role == "unreadable":
                        left_out["unreadable_image"] += 1
                        continue
                    lo, hi = _date_range(year, year_min, year_max)
                    if lo is None and hi is None:
                        left_out["no_date"] += 1
                        continue
                    if lo is None or hi is None:
                        left_out["open_date"] += 1
                        continue
                    index = bin_of.get((lo, hi), -1)
                    if index == -1:  # a range not met yet (an archive has a few thousand)
                        index = bin_of[lo, hi] = bins.index_of_range(lo, hi)
                    if index is None:
                        inside = bins.index_of(lo) is not None or bins.index_of(hi) is not None
                        left_out["spans_bins" if inside or lo < bins.edges[0] <= hi else "outside_bins"] += 1
                        continue
                    if role is None:
                        self.not_deduped += 1
                    yield Candidate(  # positional: a million per pass
                        image_id, record_id, source_id, path, year, lo, hi, index,
                        cluster_id if cluster_id is not None else image_id, group_id if group_id is not None else image_id,
                        bool(excluded), width, height, fmt, source, title or "", description or "", holder or "", place or "",
                    )


_STORED = (Image.status == "ok") & Image.path.is_not(None)  # an image with a file to read
