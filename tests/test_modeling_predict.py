"""load_image on awkward files, Predictor per the run-directory contract, and `cli.py predict`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cli import main
from modeling.errors import ImageTooLarge, UnreadableImage
from modeling.inference.predict import Predictor, load_image

torch.set_num_threads(1)


def _photo(size=(48, 36)) -> Image.Image:
    gradient = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3).astype(np.uint8)
    return Image.fromarray(gradient, "RGB")


def _bytes(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


@pytest.fixture
def awkward_files(tmp_path: Path) -> dict[str, Path]:
    """One file per awkward case, in a folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 30))
    cases = {
        "photo.png": _bytes(_photo(), "PNG"),
        "rgba.png": _bytes(rgba, "PNG"),
        "gray.jpg": _bytes(_photo().convert("L"), "JPEG"),
        "gray16.png": _bytes(Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16)), "PNG"),
        "palette.png": _bytes(_photo().convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0),
        "photo.webp": _bytes(_photo(), "WEBP"),
        "photo.tiff": _bytes(_photo(), "TIFF"),
        "corrupt.jpg": b"this is not an image at all, just text",
        "truncated.jpg": _bytes(_photo((200, 150)), "JPEG")[:400],
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def test_load_image_handles_modes_and_formats(awkward_files):
    for name in ("photo.png", "rgba.png", "gray.jpg", "gray16.png", "palette.png", "photo.webp", "photo.tiff"):
        image = load_image(awkward_files[name])
        assert image.mode == "RGB", name
    rgba = load_image(awkward_files["rgba.png"])
    assert rgba.getpixel((35, 15)) == (255, 255, 255)  # transparent -> white, not black or red
    assert rgba.getpixel((5, 15)) == (0, 0, 255)
    assert load_image(awkward_files["gray16.png"]).getpixel((0, 0)) == (156, 156, 156)  # 40000/65535*255
    assert load_image(awkward_files["photo.png"].read_bytes()).size == (48, 36)


def test_load_image_applies_exif_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = _bytes(_photo((60, 40)), "JPEG", exif=exif.tobytes())
    assert load_image(data).size == (40, 60)


def test_large_jpeg_decodes_at_draft_size():
    data = _bytes(_photo((4000, 3000)), "JPEG", quality=70)
    image = load_image(data, min_side=224)
    assert image.mode == "RGB" and 224 <= min(image.size) < 600


def test_unreadable_and_oversized_images_raise_clear_errors(awkward_files):
    with pytest.raises(UnreadableImage, match=r"^not an image Pillow can identify$"):
        load_image(awkward_files["corrupt.jpg"])
    with pytest.raises(UnreadableImage, match=r"^cannot (open|decode): Truncated File Read"):
        load_image(awkward_files["truncated.jpg"])
    with pytest.raises(ImageTooLarge) as info:
        load_image(awkward_files["photo.png"], max_pixels=1000)
    assert str(info.value) == ("48x36 = 1,728 pixels is over the limit of 1,000; downscale the file first, "
                               "or raise --max-pixels")
    assert isinstance(info.value, UnreadableImage)  # callers that skip unreadable files skip these too


def test_predictor_follows_the_contract(tiny_run):
    predictor = Predictor.from_run_dir(tiny_run)
    result = predictor.predict(_photo(), top_k=3)
    json.dumps(result)
    assert set(result) == {"top", "year", "interval", "year_bin", "unsure", "task"} and result["task"] == "classify"
    assert result["year_bin"] in predictor.labels and isinstance(result["unsure"], bool)
    probabilities = [t["probability"] for t in result["top"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
    assert result["top"][0]["bin"] in predictor.labels
    assert result["interval"]["level"] == 0.8
    assert 1860 <= result["interval"]["low"] <= result["year"] <= result["interval"]["high"] <= 2000
    description = predictor.describe()
    assert description["arch"] == "test_efficientnet" and description["img_size"] == 32
    assert "balanced_accuracy" in description["metrics"] and len(description["labels"]) == 7


def test_cli_predict_reports_bad_files_and_goes_on(tiny_run, awkward_files):
    result = CliRunner().invoke(main, ["predict", "--model", str(tiny_run), str(awkward_files["photo.png"].parent),
                                       "--format", "json", "--top", "2"])
    assert result.exit_code == 1, result.output  # every row printed, but a script must see that some failed
    assert result.stderr.strip().splitlines()[-1] == (f"2 of {len(awkward_files)} file(s) could not be read "
                                                      "(see the error column).")
    rows = json.loads(result.stdout)
    by_name = {Path(row["file"]).name: row for row in rows}
    assert len(rows) == len(awkward_files)
    assert set(by_name["corrupt.jpg"]) == {"file", "error"}
    assert by_name["truncated.jpg"]["error"] == "cannot open: Truncated File Read"
    assert len(by_name["gray16.png"]["top"]) == 2 and isinstance(by_name["photo.tiff"]["year"], int)
    good = CliRunner().invoke(main, ["predict", "--model", str(tiny_run), str(awkward_files["photo.png"])])
    assert good.exit_code == 0 and "could not be read" not in good.stderr


def test_cli_predict_with_a_missing_model_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["predict", "--model", str(tmp_path / "nope"), str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: No run directory at {tmp_path / 'nope'}. Train one with 'cli.py train --data DIR --out RUN_DIR', "
        "or pass --model RUN_DIR of a finished run."]
