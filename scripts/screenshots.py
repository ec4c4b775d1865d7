"""Regenerate the README's screenshots of the web app: docs/images/app.png and docs/images/records.png.

    python -m scripts.screenshots                      # after `make demo`: its head-only run and archive
    python -m scripts.screenshots --model RUN --db URL --out docs/images

It serves the app on a free port of 127.0.0.1, waits until the archive is dated, and drives it with the
browser test's headless Chromium (scripts/browser.py): the upload page in English with one dated
photograph (a replica photograph of 1928, as the demo model knows only those), then /records sorted by
disagreement. Rerun it whenever a page changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from crawler.replica.photos import render_photo
from modeling.app.runner import background_server
from modeling.app.server import AppConfig, create_app
from scripts.browser import CHROMIUM, chromium

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "runs" / "demo" / "lite0-head-20y"
# As make demo wrote it (relative to the project folder): the app then shows the run's out-of-fold estimates,
# which it uses only for the database the export came from.
DEMO_DB = "sqlite:///data/demo/archive.db"
PHOTO_YEAR, PHOTO_SEED = 1928, 1  # the photograph uploaded for app.png (the browser test's first one)
DATING_TIMEOUT_S = 900  # the archive is dated before /records is shot (about 25 s for the demo's, quiet)


def take(model: Path, db_url: str, out: Path) -> list[Path]:
    """Shoot app.png and records.png into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    app = create_app(AppConfig(run_dir=model, db_url=db_url, precompute_records=True, dating_progress_bar=False))
    with tempfile.TemporaryDirectory(prefix="fotofecha-shots-") as scratch:
        photo = Path(scratch) / f"photo-{PHOTO_YEAR}.jpg"
        render_photo(PHOTO_YEAR, PHOTO_SEED, (480, 360)).save(photo, format="JPEG", quality=88)
        with background_server(app) as server, chromium(Path(scratch) / "profile") as context:
            page = context.new_page()
            page.goto(server.base_url + "/?lang=en")
            page.set_input_files("#file-input", str(photo))
            page.wait_for_selector("#result-year, #result-interval")
            page.screenshot(path=str(out / "app.png"))
            if not app.state.dater.join(timeout=DATING_TIMEOUT_S):
                raise SystemExit(f"The archive was not dated within {DATING_TIMEOUT_S} s; run again on a quieter machine.")
            page.goto(server.base_url + "/records?lang=en&sort=disagreement")
            page.wait_for_selector("#records-table")
            page.screenshot(path=str(out / "records.png"))
    return [out / "app.png", out / "records.png"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEMO_MODEL, help="run directory [default: make demo's head-only run]")
    parser.add_argument("--db", default=DEMO_DB, help="archive for /records [default: make demo's]")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for the PNGs")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # the default run and archive are make demo's, named from the project folder
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is absent: apt-get install chromium.", file=sys.stderr)
        return 2
    if not (args.model / "config.json").is_file():
        print(f"No run at {args.model}: run 'make demo' first, or pass --model.", file=sys.stderr)
        return 2
    for path in take(args.model, args.db, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
