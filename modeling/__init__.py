"""Modeling stage: train, evaluate, predict and serve photo-dating models."""
