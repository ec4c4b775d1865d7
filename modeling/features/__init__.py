"""Frozen-feature training: pooled backbone embeddings (cached), linear heads fitted in seconds, K-fold CV, learning curves."""
