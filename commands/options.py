"""Options more than one stage's commands take: --db (remembered for cli.py's database error line) and --max-pixels."""

from __future__ import annotations

import click

from db.pixels import DEFAULT_MAX_PIXELS
from db.progress import QUIET_ENV
from db.session import DB_URL_ENV, DEFAULT_DB_URL

DB_URL_KEY = "fotofecha.db_url"  # where --db leaves its value in click's shared ctx.meta
ARGV_KEY = "fotofecha.argv"  # where cli.py leaves the words it was called with (train's --resume hint)


def _remember_db_url(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta[DB_URL_KEY] = value
    return value


db_option = click.option(
    "--db",
    "db_url",
    envvar=DB_URL_ENV,
    default=DEFAULT_DB_URL,
    show_default=True,
    help=f"SQLAlchemy database URL (or set ${DB_URL_ENV}).",
    callback=_remember_db_url,
)
max_pixels_option = click.option(
    "--max-pixels",
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    type=click.IntRange(1),
    help="Largest picture decoded, in pixels (width x height); larger ones become failed rows.",
)


def _silence_bars(ctx: click.Context, _param: click.Parameter, quiet: bool) -> bool:
    # TQDM_DISABLE reaches every bar, library and worker processes alike; put back when the command ends.
    if quiet:
        import os

        before = os.environ.get(QUIET_ENV)
        os.environ[QUIET_ENV] = "1"
        ctx.call_on_close(lambda: os.environ.pop(QUIET_ENV) if before is None else os.environ.update(
            {QUIET_ENV: before}))
    return quiet


quiet_option = click.option(
    "--quiet", "-q",
    is_flag=True,
    expose_value=False,
    callback=_silence_bars,
    help=f"No progress bars (as ${QUIET_ENV}=1); results and errors are still printed.",
)
