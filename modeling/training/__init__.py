"""Training: the export as tensors, augmentation, the loop, optimiser and schedule, the LR range test."""
