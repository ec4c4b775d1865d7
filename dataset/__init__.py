"""Curation stage: hash, dedupe, bin, balance, split and export the archive as a dataset."""
