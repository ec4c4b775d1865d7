"""Meta-tests: every command has help text, answers --help, and is shown in the README."""

from pathlib import Path

import click
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


def _leaf_commands(group=main, prefix=()):
    """(words, command) for every command a person can run, group subcommands included ('db info')."""
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


LEAVES = list(_leaf_commands())


@pytest.mark.parametrize(("words", "command"), LEAVES, ids=[" ".join(words) for words, _ in LEAVES])
def test_every_option_has_help_and_every_command_an_example(words, command):
    undocumented = [option.opts[0] for option in command.params
                    if isinstance(option, click.Option) and not (option.help or "").strip()]
    assert not undocumented, f"cli.py {' '.join(words)}: options without help: {undocumented}"
    result = CliRunner().invoke(main, [*words, "--help"], terminal_width=120)
    assert "Example:" in result.output or "Examples:" in result.output, f"cli.py {' '.join(words)} shows no example"


def test_top_level_help_names_every_stage_and_its_commands():
    result = CliRunner().invoke(main, ["--help"], terminal_width=120)
    overview = result.output.split("Options:")[0]
    for words, _ in LEAVES:
        assert f" {' '.join(words)}" in overview, f"the overview above Options: does not name {' '.join(words)}"
    for stage in ("harvest", "curate", "model"):
        assert stage in overview.lower()


def test_learning_curve_shows_only_options_that_apply():
    names = {option.opts[0] for option in main.commands["learning-curve"].params if isinstance(option, click.Option)}
    assert not names & {"--sampler", "--augment", "--augment-rare", "--label-smoothing", "--class-weights",
                        "--precision", "--workers", "--epochs", "--lr", "--schedule"}
    assert {"--data", "--arch", "--img-size", "--head-l2", "--feature-cache", "--cv", "--sizes"} <= names


def test_readme_examples_use_a_run_folder_not_runs_demo():
    for words, command in LEAVES:
        assert "--model runs/demo " not in (command.help or "") + " ", f"cli.py {' '.join(words)}"
