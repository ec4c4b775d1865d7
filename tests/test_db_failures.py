"""Every database failure is one line naming the URL (password masked) and the fix; reading never creates."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

NO_SERVER = "postgresql://nobody:s3cret@127.0.0.1:1/x"  # nothing listens on port 1


def _args(command: str, tmp_path: Path, request) -> list[str]:
    if command == "import":
        (tmp_path / "scans").mkdir(exist_ok=True)
        return ["import", str(tmp_path / "scans"), "--images-dir", str(tmp_path / "store")]
    if command == "export":
        return ["export", "--out", str(tmp_path / "out")]
    if command == "crawl":
        replica = request.getfixturevalue("replica")
        return ["crawl", "--profile", "replica", "--start-url", replica.base_url, "--images-dir", str(tmp_path / "store")]
    if command == "serve":
        return ["serve", "--model", str(request.getfixturevalue("app_run_dir")), "--port", "0"]
    return [command]


def _expected(url: str, tmp_path: Path) -> str:
    if url == NO_SERVER:
        return ('Error: Cannot open database postgresql://nobody:***@127.0.0.1:1/x: connection failed: connection to '
                'server at "127.0.0.1", port 1 failed: Connection refused. Is the database server running and '
                'reachable? Check host, port, user and password in --db (or $FOTOFECHA_DB).')
    if url == "foo://bar":
        return ("Error: Unknown database kind 'foo' in foo://bar: expected e.g. sqlite:///data/archive.db or "
                "postgresql://user@host/db.")
    return (f"Error: Cannot open database {url}: cannot create its folder {tmp_path / 'a-file'} (File exists). "
            "Pass a --db in a writable folder.")


@pytest.mark.parametrize("command", ["import", "dedupe", "balance-report", "export", "crawl", "serve"])
@pytest.mark.parametrize("kind", ["no server", "unknown kind", "unopenable sqlite"])
def test_database_failures_are_one_line(command, kind, tmp_path, request):
    (tmp_path / "a-file").write_text("not a folder")
    url = {"no server": NO_SERVER, "unknown kind": "foo://bar",
           "unopenable sqlite": f"sqlite:///{tmp_path / 'a-file' / 'archive.db'}"}[kind]
    if command in ("dedupe", "balance-report", "export", "serve") and kind == "unopenable sqlite":
        pytest.skip("a read-only command says 'no archive' first (see below)")
    result = CliRunner().invoke(main, [*_args(command, tmp_path, request), "--db", url])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == _expected(url, tmp_path)
    assert "Traceback" not in result.output and "s3cret" not in result.output


@pytest.mark.parametrize("command", ["dedupe", "balance-report", "export"])
def test_reading_commands_never_create_an_archive(command, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'typo' / 'archive.db'}"
    result = CliRunner().invoke(main, [*_args(command, tmp_path, request), "--db", url])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: No archive at {url}: expected a database made by 'cli.py crawl' or "
                                     "'cli.py import'. Check --db (or $FOTOFECHA_DB).")
    assert not (tmp_path / "typo").exists()


def test_serve_without_an_archive_says_so_and_creates_nothing(app_run_dir, tmp_path, caplog):
    from fastapi.testclient import TestClient

    from modeling.app.server import AppConfig, create_app

    url = f"sqlite:///{tmp_path / 'typo' / 'archive.db'}"
    with TestClient(create_app(AppConfig(run_dir=app_run_dir, db_url=url))) as client:
        page = client.get("/records?lang=en").text
    assert f"This server has no archive to show yet (it looks for one at {url})." in page
    assert f"No archive at {url}" in caplog.text and not (tmp_path / "typo").exists()


def test_masked_hides_passwords_even_in_unparseable_urls():
    from db.session import masked

    assert masked("postgresql://me:pa55@db.example:5432/photos") == "postgresql://me:***@db.example:5432/photos"
    assert masked("not a url://me:pa55@x") == "not a url://me:***@x"


def test_a_failure_in_the_middle_of_a_command_is_one_line_too(tmp_path):
    """The archive opens (read-only), then the first write fails: still one line, naming the URL."""
    from crawler.replica import render_photo
    from db.session import make_engine

    make_engine(f"sqlite:///{tmp_path / 'archive.db'}").dispose()
    (tmp_path / "scans").mkdir()
    render_photo(1930, 1, (64, 48)).save(tmp_path / "scans" / "a.jpg")
    url = f"sqlite:///file:{tmp_path / 'archive.db'}?mode=ro&uri=true"
    result = CliRunner().invoke(main, ["import", str(tmp_path / "scans"), "--db", url,
                                       "--images-dir", str(tmp_path / "store")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: Cannot open database {url}: attempt to write a readonly database. "
                                     "Check that the file is an SQLite database and its folder is writable, "
                                     "or pass another --db.")
