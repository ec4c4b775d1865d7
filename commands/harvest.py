"""The harvest stage's commands (crawler/): replica, crawl, probe."""

from __future__ import annotations

from pathlib import Path

import click

from commands.options import db_option, max_pixels_option, quiet_option


@click.command()
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option("--records", default=200, show_default=True, type=click.IntRange(1, 100_000), help="Records in the archive.")
@click.option("--seed", default=0, show_default=True, type=int, help="Generator seed: the same seed serves the same archive.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on (nothing else is allowed).")
@click.option(
    "--url-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the base URL to this file once serving (removed on exit); used by 'make demo'.",
)
@click.option("--chaos", "chaos_spec", is_flag=False, flag_value="", default=None, metavar="[SPEC]",
              help="Fail requests at random to test a crawler: alone, 20% HTTP 500, 5% dropped connections, "
                   "10% answers 0.5 s late; or a SPEC such as 500=0.3,drop=0.1,slow=0.2,delay=1,seed=2 "
                   "(keys left out keep those defaults).")
def replica(port: int, records: int, seed: int, host: str, url_file: Path | None, chaos_spec: str | None) -> None:
    """Serve a local replica of the photo archive until Ctrl-C (or SIGTERM).

    \b
    A deterministic fake "La Rioja en la memoria": paginated listing /fotos, record pages in
    three markups, JPEG/PNG era-cued photos, duplicates and injected faults.
    Example:  cli.py replica --port 8765 --records 500
    Example:  cli.py replica --chaos            (a flaky archive: errors, drops, slow answers)
    """
    from crawler.replica import ReplicaConfig, serve_replica
    from crawler.replica.chaos import describe_chaos, parse_chaos

    chaos = parse_chaos(chaos_spec) if chaos_spec is not None else None
    config = ReplicaConfig(records=records, seed=seed, host=host, port=port, url_file=url_file, chaos=chaos)
    serve_replica(config, announce=lambda url: click.echo(
        f"Replica archive ({records} records, seed {seed}) at {url}{describe_chaos(chaos)}"))
    click.echo("Replica stopped.", err=True)


@click.command()
@click.option("--start-url", default=None, help="First listing page (replaces the profile's); a bare origin joins the profile's paths.")
@click.option("--profile", default="larioja", show_default=True, help="Site profile: a name in crawler/profiles/ or a TOML file.")
@db_option
@click.option("--images-dir", type=click.Path(file_okay=False), default="data/images", show_default=True,
              help="Where image files go, content-addressed (<sha[:2]>/<sha>.<ext>).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Fetch at most N record pages this run.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Requests in flight per domain [default: 2, from crawler/settings.py].")
@click.option("--delay", type=click.FloatRange(0), default=None,
              help="Seconds between requests to a domain [default: 1.0, from crawler/settings.py].")
@click.option("--autothrottle/--no-autothrottle", default=True, show_default=True,
              help="Adapt the delay to the server's latency.")
@click.option("--refresh", is_flag=True, help="Refetch pages and images already stored; count updated/unchanged.")
@click.option("--oai", "oai_url", default=None,
              help="Harvest this OAI-PMH base URL (oai_dc) instead of the HTML listings; later runs are incremental.")
@click.option("--set", "oai_set", default=None, help="With --oai: harvest only this setSpec.")
@click.option("--image-size", default="max", show_default=True,
              help="IIIF pictures: 'max' or the long side in pixels (e.g. 2048); other images are stored as served.")
@click.option("--verbose", is_flag=True, help="Show Scrapy's own log on stderr.")
@max_pixels_option
@quiet_option
def crawl(start_url: str | None, profile: str, db_url: str, images_dir: str, limit: int | None,
          concurrency: int | None, delay: float | None, autothrottle: bool, refresh: bool, oai_url: str | None,
          oai_set: str | None, image_size: str, verbose: bool, max_pixels: int) -> None:
    """Harvest an archive's records and images into the database, politely and resumably.

    \b
    Obeys robots.txt, throttles itself and honours Retry-After. Killed, it continues where it
    stopped when rerun with the same command; pages and images stored complete are not fetched
    again unless --refresh. Every fault is stored as a row with its reason.
    With --oai it harvests an OAI-PMH repository's Dublin Core (and IIIF images) instead.
    Example:  cli.py crawl --profile replica --start-url http://127.0.0.1:8765
    Example:  cli.py crawl --profile replica --oai http://127.0.0.1:8765/oai
    """
    from crawler.iiif import parse_size
    from crawler.run import CrawlConfig, format_summary, run_crawl

    try:
        parse_size(image_size)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--image-size'") from None
    config = CrawlConfig(profile=profile, start_url=start_url, db_url=db_url, images_dir=images_dir, limit=limit,
                         concurrency=concurrency, delay=delay, autothrottle=autothrottle, refresh=refresh,
                         oai=oai_url, oai_set=oai_set, iiif_size=image_size, verbose=verbose, max_pixels=max_pixels)
    summary = run_crawl(config)
    click.echo(format_summary(summary))
    if summary.interrupted:
        raise SystemExit(130)  # the shell's convention for a run stopped by Ctrl-C
    if summary.unfinished:
        raise click.ClickException(f"The harvest is not complete: {summary.unfinished}")


@click.command()
@click.argument("url")
@click.option("--profile", default="larioja", show_default=True, help="Site profile: a name in crawler/profiles/ or a TOML file.")
@click.option("--suggest", is_flag=True, help="Write a draft profile from this listing or record page instead.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("profile-draft.toml"),
              show_default=True, help="With --suggest: where the draft profile goes (never overwritten).")
def probe(url: str, profile: str, suggest: bool, out: Path) -> None:
    """Find the archive's way in (OAI-PMH, IIIF) and check a profile against one record page.

    \b
    Prints the crawl command for an OAI-PMH endpoint or IIIF manifest it finds, then the fields
    the profile extracts from the page and the ones it misses. --suggest drafts a profile.
    Example:  cli.py probe https://archive.example/foto/123 --profile larioja
    Example:  cli.py probe --suggest https://archive.example/fotos --out my-archive.toml
    """
    from crawler.probe import format_probe, format_suggestion, suggest_profile
    from crawler.probe import probe as run_probe

    if suggest:
        click.echo(format_suggestion(suggest_profile(url, out), out))
    else:
        click.echo(format_probe(run_probe(url, profile)))


COMMANDS = (replica, crawl, probe)  # what cli.py adds to its group
