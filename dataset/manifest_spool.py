"""export's manifest lines, spooled to a file in catalog order and read back in the manifest's row order.

A million-picture manifest is written in an order (split, bin, source_id) that is not the order the catalog
streams pictures in (image id). Holding a million rows to sort them took about half a kilobyte each; instead
each picture's line goes to a spool file as it is read, with its offset kept in compact arrays, and the
manifest is then assembled by reading the lines back (os.pread) in row order. The split is the one cell a
line cannot know when it is spooled (export's single pass decides it at the end), so a line is kept as a
head (the cells before `split`) and a tail (the cells after it), joined around the split when read back.

    spool = ManifestSpool(building / ".lines", people=False)
    spool.add(k, candidate, file, (width, height), None, labels, None)   # k: the picture's index, in order
    spool.close()
    spool.line(k, "train")  # -> the manifest line's bytes, newline included
"""

from __future__ import annotations

import io
import os
from array import array
from pathlib import Path

from dataset.catalog import Candidate
from dataset.people_counts import NOT_EXAMINED, ImagePeople
from db import csvsafe


class ManifestSpool:
    def __init__(self, path: Path, people: bool) -> None:
        self.path = path  # the spool file (removed by close_and_remove)
        self.people = people  # lines carry the people columns (dataset.export.PEOPLE_MANIFEST_COLUMNS)
        self.offset = array("q")  # k -> where its head starts in the file
        self.head = array("l")  # k -> bytes of its head, comma included
        self.length = array("l")  # k -> bytes of head and tail; 0 when the picture is not in the manifest
        self.source_of = array("l")  # k -> index into `sources`
        self.sources: list[str] = []  # records.source values met, in order of first appearance
        self.failed: list[dict] = []  # {"image_id", "error"} for the pictures that could not be written or listed
        self.images = 0  # pictures with a line
        self._source_index: dict[str, int] = {}
        self._at = 0
        self._out = path.open("wb")
        self._buffer = io.StringIO()
        # The manifest's own line end, so that a cell holding one is quoted alike; _csv drops it from each line.
        # Every text cell a spreadsheet could run as a formula gets its quote there (db/csvsafe.py).
        self._writer = csvsafe.writer(self._buffer, lineterminator="\n")
        self._reader: int | None = None

    def _csv(self, cells: list) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()[:-1].encode("utf-8")

    def _pad(self, k: int) -> None:
        missing = k - len(self.offset)
        if missing > 0:
            for column in (self.offset, self.head, self.length, self.source_of):
                column.extend(array(column.typecode, [0]) * missing)

    def add(self, k: int, c: Candidate, file: str, size: tuple[int, int] | None, error: str | None,
            labels: tuple[str, ...], people: dict[int, ImagePeople] | None) -> None:
        """Spool picture k's line (k grows by at least one per call), or note why it has none (`size` None)."""
        self._pad(k)
        if size is None:
            self.failed.append({"image_id": c.image_id, "error": error})
            self._pad(k + 1)
            return
        head = [c.record_id, c.source_id, c.image_id, file, c.year, c.year_min, c.year_max, labels[c.bin_index],
                c.bin_index]
        tail = [c.cluster_id, size[0], size[1], c.group_id, c.source, c.title, c.description, c.holder, c.place]
        if self.people:
            found = (people or {}).get(c.image_id)
            tail += ["", "", "", NOT_EXAMINED] if found is None else [found.people, found.faces, found.figures,
                                                                       found.category]
        if "\0" in c.source_id or "\0" in file:  # the split's place cannot be marked with a NUL: two writes
            before = self._csv([*head, ""])
            cut, data = len(before), before + self._csv(tail) + b"\n"
        else:  # one write, a NUL where the split goes (csv writes it as it is), cut out with its comma
            marked = self._csv([*head, "\0", *tail])
            cut = marked.index(b"\0")
            data = marked[:cut] + marked[cut + 2:] + b"\n"
        self.offset.append(self._at)
        self.head.append(cut)
        self.length.append(len(data))
        self.source_of.append(self._source_index.setdefault(c.source, len(self._source_index)))
        self._out.write(data)
        self._at += len(data)
        self.images += 1

    def close(self, pictures: int) -> None:
        """No more lines: `pictures` is how many k there are."""
        self._pad(pictures)
        self._out.close()
        self.sources = list(self._source_index)
        self.failed.sort(key=lambda f: f["image_id"])
        self._reader = os.open(self.path, os.O_RDONLY)

    def line(self, k: int, split: str) -> bytes:
        """Picture k's manifest line with its split; b"" when it has none."""
        length = self.length[k]
        if not length:
            return b""
        data = os.pread(self._reader, length, self.offset[k])
        head = self.head[k]
        return data[:head] + split.encode() + b"," + data[head:]

    def close_and_remove(self) -> None:
        if not self._out.closed:
            self._out.close()
        if self._reader is not None:
            os.close(self._reader)
            self._reader = None
        self.path.unlink(missing_ok=True)
