"""Spiders: `archive` (HTML listings, driven by a site profile) and `oai` (OAI-PMH Dublin Core)."""


def as_bool(value) -> bool:
    """A spider argument as a flag: Scrapy passes `-a refresh=1` as text, the crawl runner as a bool."""
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
