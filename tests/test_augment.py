"""The GPU feed's two halves: uint8 views from the workers, `finish` (jitter, grain, normalisation) on the device.

Everything here runs on the CPU; on CUDA the same functions run on the card (benchmarks/gpu_feed.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from modeling.tensors import eval_array, eval_view
from modeling.training.augment import NO_PHOTOMETRIC, augment_view, finish
from modeling.training.data import ExportRow, PhotoDataset
from modeling.training.engine import model_input

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def photo(seed: int = 0, size: tuple[int, int] = (100, 80)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_the_evaluation_view_equals_torchvision_normalize_and_the_predictor_input():
    view = eval_view(photo(), 64)
    finished = finish(torch.from_numpy(np.array(view))[None], torch.from_numpy(NO_PHOTOMETRIC)[None], MEAN, STD)[0]
    independent = TF.normalize(TF.to_tensor(view), MEAN, STD)  # torchvision's own path
    assert torch.allclose(finished, independent, atol=1e-6)
    assert np.array_equal(finished.numpy(), eval_array(photo(), 64, MEAN, STD))  # what predict feeds the model


def test_jitter_matches_a_hand_computation():
    grey = torch.full((1, 4, 4, 3), 102, dtype=torch.uint8)  # 102/255 = 0.4 everywhere
    params = torch.tensor([[1.0, 1.25, 0.5, 0.0, 0.0]])  # brightness 1.25, contrast 0.5, no grain
    # (x - mean) * contrast + mean * brightness = 0 * 0.5 + 0.4 * 1.25 = 0.5; normalised (0.5 - 0.5) / 0.25 = 0
    out = finish(grey, params, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert out.shape == (1, 3, 4, 4) and torch.allclose(out, torch.zeros_like(out), atol=1e-6)
    bright = finish(grey, torch.tensor([[1.0, 3.0, 1.0, 0.0, 0.0]]), (0.0,) * 3, (1.0,) * 3)
    assert torch.allclose(bright, torch.ones_like(bright))  # 0.4 * 3 = 1.2, clipped to 1


def test_grain_is_one_field_for_all_channels_and_follows_its_seed():
    grey = torch.full((2, 8, 8, 3), 128, dtype=torch.uint8)
    params = torch.tensor([[1.0, 1.0, 1.0, 0.05, 7.0], [1.0, 1.0, 1.0, 0.05, 8.0]], dtype=torch.float64)
    first, again = finish(grey, params, (0.0,) * 3, (1.0,) * 3), finish(grey, params, (0.0,) * 3, (1.0,) * 3)
    assert torch.equal(first, again)
    assert torch.equal(first[0, 0], first[0, 1]) and torch.equal(first[0, 0], first[0, 2])
    assert not torch.equal(first[0], first[1])  # another seed, another field
    assert 0.02 < float((first[0] - 128 / 255).std()) < 0.08  # sigma 0.05


def test_uint8_and_normalised_datasets_give_the_same_model_input(tmp_path):
    rows = []
    for i in range(4):
        photo(i).save(tmp_path / f"{i}.jpg", quality=90)
        rows.append(ExportRow(file=f"{i}.jpg", year=1950.0, bin_index=i % 2, split="train"))
    keys = [0, (1, 123), (2, 456), 3]  # plain keys are the evaluation view, (row, seed) keys are augmented
    normalised = PhotoDataset(tmp_path, rows, 32, MEAN, STD, "strong")
    raw = PhotoDataset(tmp_path, rows, 32, MEAN, STD, "strong", pixels="uint8")
    batch = torch.utils.data.default_collate([raw[k] for k in keys])
    pixels, params = batch[0]
    assert pixels.dtype == torch.uint8 and pixels.shape == (4, 32, 32, 3) and params.shape == (4, 5)
    on_device = model_input(batch[0], torch.device("cpu"), channels_last=True, normalisation=(MEAN, STD))
    assert on_device.is_contiguous(memory_format=torch.channels_last)
    expected = torch.stack([normalised[k][0] for k in keys])
    assert torch.allclose(on_device, expected, atol=1e-6)
    assert not torch.allclose(expected[1], normalised[1][0])  # the augmented view differs from the plain one


def test_a_uint8_batch_without_normalisation_is_refused():
    with pytest.raises(ValueError, match="mean, std"):
        model_input((torch.zeros(1, 4, 4, 3, dtype=torch.uint8), torch.zeros(1, 5)), torch.device("cpu"), False)


def test_augment_view_is_reproducible_per_seed():
    a = augment_view(photo(), 32, "strong", np.random.default_rng(5))
    b = augment_view(photo(), 32, "strong", np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[0].dtype == np.uint8
