"""Item pipelines, one per file, in order: dates (100), validate (200), images (300), store (800)."""
