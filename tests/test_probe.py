"""`cli.py probe` and `cli.py crawl` from the command line: output, exit codes, error lines."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from crawler.extract import normalize_label
from crawler.probe import probe


def test_probe_reports_fields_and_misses(replica, replica_archive):
    (truth,) = [r for r in replica_archive.records if r.source_id == "LRM-000045"]  # missing_fields: no Titular
    assert "missing_fields" in truth.faults and "Descripción" not in truth.fields  # as most records: not required
    result = probe(f"{replica.base_url}{truth.page_path}", "replica")
    assert result.fields["source_id"] == "LRM-000045" and result.fields["title"] == truth.fields["Título"]
    assert result.missing == ("holder", "description") and result.required_missing == ("holder",)
    assert result.image_url == replica.base_url + truth.image_path
    assert normalize_label(result.field_labels["title"]) == "titulo"


def test_probe_command_prints_fields_and_misses(replica):
    result = CliRunner().invoke(main, ["probe", f"{replica.base_url}/foto/LRM-000045", "--profile", "replica"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # the standard ways in come first: the replica answers OAI-PMH at /oai
    assert lines[0].startswith(f"OAI-PMH: The site has an OAI-PMH endpoint: {replica.base_url}/oai (")
    assert lines[2] == f"  cli.py crawl --oai {replica.base_url}/oai --profile replica"
    assert lines[3] == "IIIF: no manifest linked from this page"
    assert lines[4] == f"Probed {replica.base_url}/foto/LRM-000045 (HTTP 200) with profile 'replica'"
    assert any(line.split()[:2] == ["source_id", "LRM-000045"] for line in lines)
    assert "missing: holder, description" in lines
    assert "required but missing (the record would be incomplete): holder" in lines
    assert replica.hits["/foto/LRM-000045"] == 1


def test_probe_follows_redirects(replica):
    result = CliRunner().invoke(main, ["probe", f"{replica.base_url}/ficha.php?id=LRM-000028", "--profile", "replica"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[4].startswith(f"Probed {replica.base_url}/foto/LRM-000028 (HTTP 200)")


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/privado/foto/LRM-000029", "Error: robots.txt of {base}/privado/foto/LRM-000029 disallows it for our "
                                     "User-Agent: the crawler would not fetch it either."),
        ("/foto/NOPE", "Error: {base}/foto/NOPE answered HTTP 404 Not Found: expected 200. Is it a record page?"),
    ],
)
def test_probe_errors_are_one_line(replica, path, line):
    result = CliRunner().invoke(main, ["probe", replica.base_url + path, "--profile", "replica"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [line.format(base=replica.base_url)]


def test_probe_unreachable_and_unknown_profile():
    result = CliRunner().invoke(main, ["probe", "http://127.0.0.1:9/foto/1", "--profile", "replica"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: Could not fetch http://127.0.0.1:9/foto/1: [Errno 111] Connection refused. "
        "Check the address (is the archive up?)."
    )
    result = CliRunner().invoke(main, ["probe", "http://127.0.0.1:9/foto/1", "--profile", "nope"])
    assert result.exit_code == 1 and result.output.startswith("Error: No site profile 'nope': expected one of ")


def test_crawl_unreachable_start_url_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["crawl", "--profile", "replica", "--start-url", "http://127.0.0.1:9/",
                                       "--db", f"sqlite:///{tmp_path / 'a.db'}", "--images-dir", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: Cannot connect to 127.0.0.1:9 for the start page http://127.0.0.1:9/fotos: Connection refused. "
        "Check the address (is the archive up?) or pass another --start-url."
    ]


def test_crawl_start_page_404_is_one_line(tmp_path, replica):
    result = CliRunner().invoke(main, ["crawl", "--profile", "replica", "--start-url", f"{replica.base_url}/nada",
                                       "--db", f"sqlite:///{tmp_path / 'a.db'}", "--images-dir", str(tmp_path / "i"),
                                       "--no-autothrottle", "--delay", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: Could not read the start page {replica.base_url}/nada: listing_http_404: HTTP 404 from "
        f"{replica.base_url}/nada. Check the address (is the archive up?) or pass another --start-url."
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--limt", "3"], "Error: No such option '--limt'. (Did you mean one of: '--limit', '--quiet'?)"),
        (["--concurrency", "0"], "Error: Invalid value for '--concurrency': 0 is not in the range 1<=x<=64."),
        (["--profile", "nope", "--start-url", "http://127.0.0.1:9/"], None),
        (["--profile", "replica"], "Error: Profile 'replica' gives relative start URLs ['/fotos']: pass --start-url "
                                   "with the archive's address, e.g. --start-url http://127.0.0.1:8000."),
    ],
)
def test_crawl_option_mistakes_name_the_problem(tmp_path, args, line):
    result = CliRunner().invoke(main, ["crawl", "--db", f"sqlite:///{tmp_path / 'a.db'}", *args])
    assert result.exit_code in (1, 2)  # 2: click's usage errors (the shared group's convention)
    errors = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    if line:
        assert errors[0] == line


def test_crawl_command_prints_the_summary(tmp_path, replica):
    result = CliRunner().invoke(main, ["crawl", "--profile", "replica", "--start-url", replica.base_url,
                                       "--db", f"sqlite:///{tmp_path / 'a.db'}", "--images-dir", str(tmp_path / "i"),
                                       "--no-autothrottle", "--delay", "0", "--concurrency", "8", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "  records: 5 new, 0 updated, 0 unchanged, 0 already complete (not fetched), 0 incomplete" in result.output
    assert "  failed by reason: none" in result.output


def test_scrapy_log_is_quiet_unless_verbose(tmp_path, replica):
    args = ["crawl", "--profile", "replica", "--start-url", replica.base_url, "--images-dir", str(tmp_path / "i"),
            "--no-autothrottle", "--delay", "0", "--limit", "2"]
    quiet = CliRunner().invoke(main, [*args, "--db", f"sqlite:///{tmp_path / 'q.db'}"])
    assert quiet.exit_code == 0 and "[scrapy" not in quiet.output
    verbose = CliRunner().invoke(main, [*args, "--db", f"sqlite:///{tmp_path / 'v.db'}", "--verbose"])
    assert verbose.exit_code == 0 and "[scrapy.core.engine] DEBUG: Crawled (200)" in verbose.output


def test_probe_recognises_an_oai_endpoint_and_prints_the_harvest_command(replica, replica_archive):
    from crawler.replica.oai import town_set

    towns = len({town_set(r) for r in replica_archive.records} - {None})
    result = CliRunner().invoke(main, ["probe", f"{replica.base_url}/oai", "--profile", "replica"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"OAI-PMH: This URL is an OAI-PMH endpoint: {replica.base_url}/oai (La Rioja en la memoria (réplica); "
        f"formats oai_dc; {towns} sets; granularity YYYY-MM-DDThh:mm:ssZ)",
        "  Harvest it (Dublin Core, no selectors; later runs are incremental):",
        f"  cli.py crawl --oai {replica.base_url}/oai --profile replica",
    ]
    assert not [path for path in replica.hits if path.startswith("/foto/")]  # an endpoint is not probed as a page


def test_probe_recognises_a_iiif_manifest(replica, replica_archive):
    from crawler.replica.iiif import iiif_link

    number, truth = next((i, r) for i, r in enumerate(replica_archive.records) if iiif_link(r, i))
    result = CliRunner().invoke(main, ["probe", replica.base_url + iiif_link(truth, number), "--profile", "replica"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"OAI-PMH: The site has an OAI-PMH endpoint: {replica.base_url}/oai")
    assert lines[3] == ("IIIF: this URL is a IIIF Presentation manifest: records whose image link points at such "
                        "documents get the picture")


def test_iiif_links_on_saved_platform_pages():
    from pathlib import Path

    from crawler.detect import iiif_links

    html = (Path(__file__).parent / "data" / "html" / "omeka_s_item.html").read_text(encoding="utf-8")
    links = iiif_links(html, "https://memoria.example.org/s/fotos/item/77")
    assert [link.url for link in links] == ["https://memoria.example.org/iiif/3/77/manifest"]
    assert links[0].kind == "iiif_manifest"
