"""The README's commands against the code, so the steps cannot drift from what runs (seconds, no network).

Every `cli.py` command in a ```console or ```bash block is parsed by the real CLI (command, options,
choices, required options); within one `##` section every command reads the same database, so steps that
import into one archive and serve another cannot come back; the run folders the README serves or evaluates
are ones that `make demo` or a README step writes; the outputs that name a schema version name today's.
`scripts/readme_run.py` runs the "Dating your own photographs" steps for real and compares their outputs.
"""

from __future__ import annotations

import re

import click
import pytest
from sqlalchemy.engine import make_url

from cli import main
from db.migrations import latest_version
from db.session import DB_URL_ENV, DEFAULT_DB_URL
from scripts.readme import README as README_PATH
from scripts.readme import ROOT, Step, readme_steps

README = README_PATH.read_text(encoding="utf-8")
DEMO = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")


STEPS = readme_steps()


def _parse(step: Step) -> tuple[click.Command, dict]:
    """The command a step runs and its parsed parameters (click validates options, choices and types)."""
    root = click.Context(main, info_name="cli.py")
    command, words = main, list(step.words)
    while isinstance(command, click.Group):
        command = command.commands[words.pop(0)]
    with command.make_context(command.name, words, parent=root, resilient_parsing=step.prose) as ctx:
        return command, dict(ctx.params)


def test_the_readme_has_steps_to_check():
    assert len(STEPS) > 30
    assert {"import", "dedupe", "export", "train", "serve", "db"} <= {step.words[0] for step in STEPS}


@pytest.mark.parametrize("step", STEPS, ids=[f"line{step.line}-{step.words[0]}" for step in STEPS])
def test_every_readme_command_parses_with_todays_cli(step, monkeypatch):
    for name, value in step.env:
        monkeypatch.setenv(name, value)
    _parse(step)


def _database(step: Step, params: dict) -> str | None:
    if "db_url" not in params:
        return None
    url = params["db_url"] if "--db" in step.words else dict(step.env).get(DB_URL_ENV, DEFAULT_DB_URL)
    return make_url(url)._replace(password=None).render_as_string(hide_password=False)  # who logs in is no matter


def test_each_section_reads_one_database(monkeypatch):
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    by_section: dict[str, dict[str, list[int]]] = {}
    for step in STEPS:
        database = _database(step, _parse(step)[1])
        if database is not None:
            by_section.setdefault(step.section, {}).setdefault(database, []).append(step.line)
    mixed = {section: found for section, found in by_section.items() if len(found) > 1}
    assert not mixed, f"steps of one section read different databases (database -> README lines): {mixed}"


def _demo_runs() -> set[str]:
    variables = dict(re.findall(r"^(RUN|HEAD)=(\S+)$", DEMO, flags=re.M))
    return set(variables.values())


def test_run_folders_the_readme_uses_are_written_by_make_demo_or_a_readme_step():
    written = _demo_runs() | {str(_parse(step)[1]["out"]) for step in STEPS if step.words[0] == "train"}
    for step in STEPS:
        command, params = _parse(step)
        used = [params[key] for key in ("model", "run_dir") if params.get(key) is not None]
        used += list(params.get("runs", ())) if command.name == "compare" else []
        stray = [str(run) for run in used if str(run) not in written and not str(run).startswith("/tmp/")]
        assert not stray, f"README line {step.line} uses {stray}: no README step nor make demo writes it"


def test_serve_serves_the_model_make_demo_suggests():
    suggested = re.search(r"Try the app: +python cli\.py serve --model (\S+)", DEMO).group(1)
    head = dict(re.findall(r"^(RUN|HEAD)=(\S+)$", DEMO, flags=re.M))[suggested.strip("$")]
    served = {str(_parse(step)[1]["run_dir"]) for step in STEPS if step.words[0] == "serve"
              and step.section == "The pipeline, one command at a time"}
    assert served == {head}


def test_outputs_that_name_a_schema_version_name_todays():
    latest = latest_version()
    for found in re.findall(r"schema version (\d+)(?: \(this code knows up to (\d+)\))?", README):
        assert {int(n) for n in found if n} == {latest}, found
    assert re.search(r"schema version \d+ \(this code knows up to", README)
