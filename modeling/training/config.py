"""Training configuration: one frozen dataclass, defaults in one place (cli.py maps options onto it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

TASKS = ("classify", "regress")
EVIDENCE = ("all", "all+people", "picture")  # what a head-only run with --cv dates from (modeling/evidence)
LOSSES = {"classify": ("ce", "soft"), "regress": ("l1", "huber", "ridge")}  # ridge: --head-only
# Fields that may differ between a killed run and its --resume (they do not change the result).
RESUME_FREE_FIELDS = ("resume", "workers", "device", "out", "data")


@dataclass(frozen=True)
class TrainConfig:
    data: Path  # export directory (manifest.csv + export.json)
    out: Path  # run directory to write
    task: str = "classify"  # classify (bins) | regress (normalised year)
    arch: str = "tf_efficientnet_lite0"  # any timm model name; lite0-2 have ImageNet weights offline
    pretrained: bool = True  # start from ImageNet weights (hub, or lite0's bundled file)
    weights: Path | None = None  # local state_dict for the backbone; overrides the hub
    img_size: int = 224  # square input side in pixels
    epochs: int = 10  # passes over the training split
    batch_size: int = 32  # images per optimisation step
    lr: float | None = None  # peak learning rate of the head; None = LR range test (--lr auto)
    backbone_lr_mult: float = 0.1  # backbone LR = lr * this when fine-tuning pretrained weights
    freeze_epochs: int = 1  # epochs with a frozen backbone when fine-tuning
    weight_decay: float = 0.05  # AdamW decoupled weight decay
    warmup_frac: float = 0.1  # share of all steps spent warming up linearly
    schedule: str = "cosine"  # cosine (after warm-up) | onecycle
    sampler: str = "natural"  # natural | balanced (every bin drawn equally often)
    loss: str | None = None  # ce | soft (classify), l1 | huber (regress); None = ce / l1
    label_smoothing: float = 0.1  # cross-entropy label smoothing (classify)
    soft_sigma: float = 1.0  # width in bins of the Gaussian soft labels (--loss soft)
    class_weights: bool = False  # weight the loss by inverse bin frequency
    augment: str = "light"  # none | light | strong
    augment_rare: bool = False  # strong augmentation for bins rarer than the median
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (autocast); auto = bf16 on CUDA / AMX CPUs
    channels_last: bool = True  # NHWC memory format (faster convolutions)
    workers: int = 2  # DataLoader worker processes
    seed: int = 0  # seeds init, sampling and augmentation
    resume: bool = False  # continue from RUN_DIR/checkpoint.pt
    head_only: bool = False  # fit a linear head on frozen, cached backbone features (modeling/features)
    head_l2: float = 0.1  # head-only: L2 penalty on the head (standardised features; ridge: times N)
    head_select: bool = False  # head-only: choose task and head_l2 by inner CV on the train split (--head-l2 auto)
    cv: int = 0  # head-only: K-fold cross-validation over every exported image (0 = none)
    feature_cache: Path | None = None  # head-only: feature cache directory; None = DATA/.features
    evidence: str = "all"  # head-only --cv: all (picture + catalogue) | all+people (and who is in it) | picture

    @property
    def loss_name(self) -> str:
        return self.loss or LOSSES[self.task][0]

    @property
    def fine_tune(self) -> bool:
        return self.pretrained or self.weights is not None

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
