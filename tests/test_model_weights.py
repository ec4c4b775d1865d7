"""--weights files whose keys do not match timm's names are mapped in order (as lite0's package is), checked."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import timm
import torch

from modeling.errors import WeightsUnavailable
from modeling.models import create_model, head_prefixes

ARCH = "test_efficientnet"


def _renamed(state: dict) -> OrderedDict:
    """The same tensors under other names (as another library would save them), in the same order."""
    return OrderedDict((f"layer{i:03d}.param", tensor) for i, tensor in enumerate(state.values()))


def test_a_file_with_other_key_names_is_mapped_in_order(tmp_path):
    torch.manual_seed(1)
    source = timm.create_model(ARCH, pretrained=False)  # 1000-class head, as a pretrained file has
    torch.save(_renamed(source.state_dict()), tmp_path / "renamed.pth")
    loaded = create_model(ARCH, 4, weights=tmp_path / "renamed.pth")
    heads = head_prefixes(loaded)
    theirs = source.state_dict()
    body = [k for k in loaded.state_dict() if not k.startswith(heads)]
    assert len(body) > 20
    for key in body:
        assert torch.equal(loaded.state_dict()[key], theirs[key]), key
    classifier = loaded.get_classifier()
    assert classifier.out_features == 4 and not classifier.weight.any() and not classifier.bias.any()


def test_in_order_mapping_refuses_a_tensor_that_does_not_fit(tmp_path):
    state = _renamed(timm.create_model(ARCH, pretrained=False).state_dict())
    first, second = list(state)[:2]
    state[first], state[second] = state[second], state[first]  # two tensors of different shapes swapped
    torch.save(state, tmp_path / "swapped.pth")
    with pytest.raises(WeightsUnavailable, match=r"layer000\.param \(.*\) does not fit conv_stem\.weight"):
        create_model(ARCH, 4, weights=tmp_path / "swapped.pth")
    shorter = OrderedDict(list(_renamed(timm.create_model(ARCH, pretrained=False).state_dict()).items())[:-1])
    torch.save(shorter, tmp_path / "short.pth")
    with pytest.raises(WeightsUnavailable, match=r"does not fit test_efficientnet: missing conv_stem\.weight"):
        create_model(ARCH, 4, weights=tmp_path / "short.pth")
