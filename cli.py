"""fotofecha: date old photographs. One command per pipeline stage (defined in commands/, by stage).

Each command maps its options onto a config, calls one library function and renders the result.
Domain errors (db.errors.PipelineError) become one clean line and exit code 1; so does a database
failure in the middle of a command (db.session.database_error words it, naming the --db URL).
"""

from __future__ import annotations

import click

from commands import curate, harvest, model
from commands.options import ARGV_KEY, DB_URL_KEY
from db.errors import PipelineError


class PipelineGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)  # the command as typed, for messages that repeat it
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            from db.session import database_error, resolve_url

            url = resolve_url(ctx.meta.get(DB_URL_KEY))
            raise click.ClickException(str(database_error(url, exc))) from None


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fotofecha")
def main() -> None:
    """Date old photographs: harvest an archive, curate a dataset, train and serve models.

    \b
    The stages, in order (each command's --help has an example):
      harvest:  replica, crawl, probe
                an archive's records and photographs into the database
      curate:   import, dedupe, detect, balance-report, export, db info, db copy
                your own scans in, near-duplicates out, people found, a dataset with no photograph in two splits
      model:    train, lr-find, learning-curve, evaluate, predict, date-undated, compare, serve
                fit, score and compare models; date photographs; the web app
    \b
    A first run:  replica -> crawl -> dedupe -> balance-report -> export -> train -> evaluate -> serve
    """


for stage in (harvest, curate, model):
    for command in stage.COMMANDS:
        main.add_command(command)


if __name__ == "__main__":
    main()
