"""`cli.py probe` against hostile pages (issue 17 item 6): printed commands survive a shell, page text
cannot drive the terminal, drafted profiles stay valid TOML, and pages are capped as the crawl caps them."""

from __future__ import annotations

import shlex

import pytest
import tomllib
from click.testing import CliRunner

from cli import main
from crawler.probe import ProbeFailed, format_suggestion, probe, suggest_profile
from crawler.profile import load_profile
from crawler.suggest import Suggestion, render_toml
from tests.hostile import TinyServer
from tests.test_crawl_limits import profile_file

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m\x9b1m\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\\x07\x00"
INJECTED = "/rec/1;touch${IFS}x;echo${IFS}"
HTML = "text/html; charset=utf-8"


def record_page(title: str) -> bytes:
    return (f'<html><body><div class="ficha-detalle"><dl><dt>Identificador</dt><dd>LRM-1</dd>'
            f"<dt>Título</dt><dd>{title}</dd><dt>Fecha</dt><dd>1940</dd></dl></div></body></html>").encode()


def test_probe_output_carries_no_terminal_escapes(tmp_path):
    with TinyServer({"/foto/1": (200, HTML, record_page(f"Plaza{ESCAPES} Mayor"))}) as archive:
        result = CliRunner().invoke(main, ["probe", f"{archive.base_url}/foto/1", "--profile", "replica"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x9b" not in result.output and "\x07" not in result.output
    title = next(line for line in result.output.splitlines() if line.split()[:1] == ["title"])
    assert title.split("<-")[0].split(None, 1)[1].strip() == "Plazalink Mayor"


def test_suggested_commands_survive_a_shell(tmp_path):
    listing = "".join(f'<li><a class="r" href="{INJECTED}{n}">R{n}</a></li>' for n in range(3))
    routes = {"/fotos": (200, HTML, f'<ul id="lista">{listing}</ul>'.encode())}
    routes.update({f"{INJECTED}{n}": (200, HTML, record_page(f"R{n}")) for n in range(3)})
    with TinyServer(routes) as archive:
        out = tmp_path / "draft $(touch y).toml"
        suggestion = suggest_profile(f"{archive.base_url}/fotos", out)
    printed = format_suggestion(suggestion, out).splitlines()[-1]
    command = printed.split("record page:", 1)[1]
    assert shlex.split(command) == ["cli.py", "probe", f"{archive.base_url}{INJECTED}0", "--profile", str(out)]
    assert load_profile(str(out)).labels["Título"] == "title"


def test_the_printed_harvest_command_quotes_the_endpoint(tmp_path):
    with TinyServer() as archive:
        archive.oai([])
        endpoint = f"{archive.base_url}/oai"
        archive.routes["/oai;'x'"] = archive.routes["/oai"]
        result = CliRunner().invoke(main, ["probe", f"{endpoint};'x'", "--profile", "replica"])
    assert result.exit_code == 0, result.output
    command = next(line for line in result.output.splitlines() if "cli.py crawl --oai" in line)
    assert shlex.split(command) == ["cli.py", "crawl", "--oai", f"{endpoint};'x'", "--profile", "replica"]


HOSTILE_LABELS = ['Fecha"\n[x]\nname = "y', "Año\\", "Lugar\x7f", "Título\x00\x1b[2J", "Título'''", "Des\ud800c"]


def test_a_draft_profile_is_valid_toml_whatever_the_labels_hold(tmp_path):
    suggestion = Suggestion(
        url="http://h/fotos\n[oops]", source="h", start_url="http://h/fotos\x7f", record_links="a::attr(href)",
        next_page=None, image=None,
        labels={**{label: "title" for label in HOSTILE_LABELS}, "Identificador\n": "source_id"},
        unmapped=tuple(HOSTILE_LABELS), record_urls=("http://h/r/1\n[x]\x00",),
    )
    data = tomllib.loads(render_toml(suggestion))
    assert set(data) == {"name", "source", "start_urls", "required", "selectors", "labels"}
    assert list(data["labels"]) == [*HOSTILE_LABELS[:5], "Des?c", "Identificador\n"]
    assert data["start_urls"] == ["http://h/fotos\x7f"]


def test_probe_caps_the_page_as_the_crawl_does(tmp_path):
    small = profile_file(tmp_path, tables="[limits]\nmax_page_mb = 0.01\n")
    big = record_page("x" * 20_000)
    with TinyServer({"/foto/1": (200, HTML, big)}) as archive:
        with pytest.raises(ProbeFailed, match=r"/foto/1 is larger than 0.01 MB, the profile's max_page_mb"):
            probe(f"{archive.base_url}/foto/1", small)
        assert probe(f"{archive.base_url}/foto/1", "replica").fields["source_id"] == "LRM-1"


def test_a_deeply_nested_json_page_is_probed_as_a_page_not_a_traceback():
    with TinyServer({"/m": (200, "application/json", b"[" * 100_000 + b"]" * 100_000)}) as archive:
        result = probe(f"{archive.base_url}/m", "replica")
    assert result.iiif_document is None and result.fields == {}
