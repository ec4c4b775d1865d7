"""Meta-tests: every command has help text, answers --help, and is shown in the README."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)


def test_there_are_commands():
    assert {"crawl", "balance-report", "export", "train"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help(name):
    command = main.commands[name]
    assert (command.help or "").strip(), f"{name} has no help text"
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_readme(name):
    assert f"cli.py {name}" in README, f"README.md does not show `cli.py {name}`"


def test_unknown_option_is_one_clear_line():
    result = CliRunner().invoke(main, ["crawl", "--no-such-option"])
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "--no-such-option" in error_lines[0]
