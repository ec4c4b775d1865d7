"""Harvest stage: a Scrapy project that turns an archive's web pages into records and image files."""
