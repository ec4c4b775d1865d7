"""fotofecha: date old photographs. One command per pipeline stage.

Each command maps its options onto a config, calls one library function and renders the result.
Domain errors (db.errors.PipelineError) become one clean line and exit code 1.
"""

from __future__ import annotations

import click

from db.errors import PipelineError
from db.session import DB_URL_ENV, DEFAULT_DB_URL


class PipelineGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from None


db_option = click.option(
    "--db",
    "db_url",
    envvar=DB_URL_ENV,
    default=DEFAULT_DB_URL,
    show_default=True,
    help=f"SQLAlchemy database URL (or set ${DB_URL_ENV}).",
)


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fotofecha")
def main() -> None:
    """Date old photographs: harvest an archive, curate a dataset, train and serve models.

    \b
    Pipeline:  replica -> crawl -> dedupe -> balance-report -> export -> train -> evaluate -> serve
    """


# --- harvest stage (crawler/, db/) ---


# --- curation stage (dataset/) ---


# --- modeling stage (modeling/) ---


# --- app (modeling/app) ---


if __name__ == "__main__":
    main()
