"""Drive the web app with a real headless Chromium (Debian's /usr/bin/chromium through Playwright).

Shared by the browser test (tests/test_app_browser.py) and the screenshot script (scripts/screenshots.py),
so the pictures in docs/images/ come from the same driver the test trusts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 900}  # the size of the screenshots in docs/images/


@contextmanager
def chromium(profile: Path) -> Iterator[object]:
    """A Playwright browser context on a fresh profile folder; closed (and Playwright stopped) on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT)
        try:
            yield context
        finally:
            context.close()
