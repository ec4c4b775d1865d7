"""Domain errors of the modeling stage; cli.py turns each into one `Error: ...` line."""

from __future__ import annotations

from dataset.imageio import ImageTooLarge, UnreadableImage  # noqa: F401  (one decoder's errors)
from db.errors import PipelineError


class NoExport(PipelineError):
    """The export directory is missing or does not follow the export contract."""


class NoRun(PipelineError):
    """The run directory is missing, incomplete or unreadable."""


class WeightsUnavailable(PipelineError):
    """Pretrained weights were asked for but cannot be had (offline hub, bad --weights file)."""


class BadTrainingSetup(PipelineError):
    """The training options do not fit the data (e.g. no training images, an unknown architecture)."""


class NoImages(PipelineError):
    """The paths given to predict hold no image files."""


class MixedExports(PipelineError):
    """`compare` was given runs validated on different exports: their numbers are not comparable."""
