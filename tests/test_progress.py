"""Progress bars (db/progress.py): plain lines into logs, silence under --quiet and TQDM_DISABLE."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from crawler.replica import render_photo
from db import progress as progress_module
from db.progress import QUIET_ENV, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_quiet_env(monkeypatch):
    monkeypatch.delenv(QUIET_ENV, raising=False)


def test_a_bar_into_a_file_writes_plain_lines_and_a_last_one(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)
    log = io.StringIO()
    for _ in progress(range(5), desc="exporting", unit="img", file=log, mininterval=0):
        pass
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("exporting: 0/5 (0%)") and lines[-1].startswith("exporting: 5/5 (100%)")
    assert text.endswith("\n")


def test_a_log_gets_one_line_per_interval_not_one_per_step():
    log = io.StringIO()
    for _ in progress(range(1000), desc="hashing", file=log, mininterval=0):
        pass
    assert len(log.getvalue().splitlines()) == 2  # the first and the last: 30 s never passed


def test_a_terminal_still_gets_the_redrawn_bar():
    screen = Terminal()
    for _ in progress(range(3), desc="x", file=screen, mininterval=0):
        pass
    assert "\r" in screen.getvalue()


@pytest.mark.parametrize(("value", "silent"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_tqdm_disable_silences_every_bar(monkeypatch, value, silent):
    monkeypatch.setenv(QUIET_ENV, value)
    log = Terminal()
    assert list(progress(range(3), desc="x", file=log, mininterval=0)) == [0, 1, 2]
    assert (log.getvalue() == "") is silent


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    root.mkdir()
    for k in range(3):
        render_photo(1920 + k, k, (48, 40)).save(root / f"p{k}.jpg", "JPEG")
    return root


def test_quiet_silences_a_commands_bar_and_is_put_back_after(tmp_path):
    root = _folder(tmp_path)
    args = ["import", str(root), "--db", f"sqlite:///{tmp_path / 'a.db'}", "--images-dir", str(tmp_path / "store")]
    loud = CliRunner().invoke(main, args)
    assert loud.exit_code == 0, loud.output
    assert "importing: " in loud.stderr and "\r" not in loud.stderr  # CliRunner's stderr is no terminal
    quiet = CliRunner().invoke(main, [*args, "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and quiet.stdout.startswith("Imported 3 files")
    assert QUIET_ENV not in os.environ


@pytest.mark.parametrize("command", ["crawl", "import", "dedupe", "export", "train", "lr-find", "learning-curve",
                                     "evaluate", "predict", "serve"])
def test_every_command_with_a_bar_takes_quiet(command):
    assert "--quiet" in CliRunner().invoke(main, [command, "--help"]).output
