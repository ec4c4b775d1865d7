"""Spiders: one, `archive`, driven by a site profile."""
