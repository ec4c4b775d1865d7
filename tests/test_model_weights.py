"""--weights files: timm's own names load strictly (the head stays fresh); files in another naming, or with a
tensor of another shape, are refused with one line that names what does not fit."""

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


def test_a_file_in_timms_names_loads_its_body_and_keeps_a_fresh_head(tmp_path):
    torch.manual_seed(1)
    source = timm.create_model(ARCH, pretrained=False)  # 1000-class head, as a pretrained file has
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    loaded = create_model(ARCH, 4, weights=tmp_path / "weights.pth")
    heads = head_prefixes(loaded)
    theirs = source.state_dict()
    body = [k for k in loaded.state_dict() if not k.startswith(heads)]
    assert len(body) > 20
    for key in body:
        assert torch.equal(loaded.state_dict()[key], theirs[key]), key
    assert loaded.get_classifier().out_features == 4


def test_a_file_in_other_names_or_shapes_is_refused_with_what_does_not_fit(tmp_path):
    state = timm.create_model(ARCH, pretrained=False).state_dict()
    torch.save(_renamed(state), tmp_path / "renamed.pth")
    with pytest.raises(WeightsUnavailable, match=r"renamed\.pth does not fit test_efficientnet: missing conv_stem\.weight, "
                                                 r"bn1\.weight, bn1\.bias, unexpected layer000\.param"):
        create_model(ARCH, 4, weights=tmp_path / "renamed.pth")
    state["conv_stem.weight"] = state["conv_stem.weight"][:, :1]  # a one-channel stem
    torch.save(state, tmp_path / "grey.pth")
    with pytest.raises(WeightsUnavailable, match=r"grey\.pth does not fit test_efficientnet: conv_stem\.weight has shape "
                                                 r"\(\d+, 1, 3, 3\), the model expects \(\d+, 3, 3, 3\)"):
        create_model(ARCH, 4, weights=tmp_path / "grey.pth")
