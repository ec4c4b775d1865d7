"""Property: `cli.py import` never raises on files of random bytes named as pictures; each is a row or a skip."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dataset.imageio import IMAGE_EXTENSIONS
from dataset.importer import ImportConfig, run_import
from db.models import Image, Record
from db.session import make_engine, session_scope

# Real signatures, so decoders get past identification and meet the garbage behind it.
MAGIC = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP",
         b"P6\n4 4\n255\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x02\x00\x00\x00"]
picture_files = st.lists(
    st.tuples(st.sampled_from(sorted(IMAGE_EXTENSIONS)), st.sampled_from(MAGIC), st.binary(max_size=2048)),
    min_size=1, max_size=6,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow on garbage TIFF headers
@given(files=picture_files)
def test_import_never_raises_on_random_bytes_with_picture_extensions(files):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scans"
        root.mkdir()
        for k, (ext, magic, tail) in enumerate(files):
            (root / f"f{k}{ext}").write_bytes(magic + tail)
        engine = make_engine("sqlite:///:memory:")
        try:
            summary = run_import(engine, ImportConfig(root, images_dir=Path(tmp) / "store", progress=False))
            with session_scope(engine) as s:
                statuses = dict(s.execute(select(Record.source_id, Image.status).join(Image)).all())
        finally:
            engine.dispose()
    assert summary.files == len(files)
    assert summary.added + summary.failed + summary.skipped == len(files)
    assert len(statuses) == summary.added + summary.failed  # every picture-named file is a row, none dropped
    assert sorted(statuses.values()).count("failed") == summary.failed
