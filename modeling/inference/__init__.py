"""Inference: predict new photographs, evaluate a run on an export, compare runs, render reports."""
