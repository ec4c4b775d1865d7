"""Read the README's commands: every `cli.py` step (tests/test_readme.py parses them with the real CLI) and the
console blocks with the output each command printed (scripts/readme_run.py runs them and compares)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


@dataclass(frozen=True)
class Step:
    section: str  # the `##` heading it sits under
    line: int  # its line in README.md (the first, for a command continued with backslashes)
    words: tuple[str, ...]  # the words after `cli.py`
    env: tuple[tuple[str, str], ...]  # variables the section exported before it
    prose: bool = False  # quoted in a sentence (may leave out what the sentence says), not a block's command


@dataclass(frozen=True)
class Shown:
    section: str  # the `##` heading it sits under
    command: str  # as typed after `$ `, continuations joined
    output: tuple[str, ...]  # the lines the README shows under it
    first: int  # README line number (1-based) of the first output line
    last: int  # and of the last (first - 1 when there is none)


def _commands(text: str):
    """(section, line, command, env, block) for each command of each console/bash block, and env updates."""
    section, env, block, pending, start = "", {}, None, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if line.startswith("## "):
            section, env = line[3:].strip(), {}
        if stripped.startswith("```"):
            block = None if block else stripped[3:] or "text"
            continue
        if block is None:
            yield section, number, None, dict(env), line
            continue
        if block not in ("console", "bash"):
            continue
        if block == "console" and not (stripped.startswith("$ ") or pending):
            continue
        if not pending:
            start = number
            stripped = stripped[2:] if block == "console" else stripped
        command = pending + stripped
        if command.endswith("\\"):
            pending = command[:-1] + " "
            continue
        pending = ""
        words = shlex.split(command, comments=True)
        if words[:1] == ["export"]:
            env.update(word.split("=", 1) for word in words[1:] if "=" in word)
        yield section, start, command, dict(env), None


def readme_steps(text: str | None = None) -> list[Step]:
    """Every `cli.py` command in the README's console and bash blocks, and whole commands quoted in prose."""
    text = README.read_text(encoding="utf-8") if text is None else text
    steps = []
    for section, number, command, env, prose in _commands(text):
        if command is None:
            for span in re.findall(r"`(?:python )?cli\.py ([^`]*--[^`]*)`", prose):
                words = shlex.split(span)
                if not re.search(r"\.\.\.|\||[A-Z]{3,}|<", span) and not words[-1].startswith("--"):
                    steps.append(Step(section, number, tuple(words), tuple(env.items()), prose=True))
            continue
        words = shlex.split(command, comments=True)
        if "cli.py" in words and "..." not in words:
            steps.append(Step(section, number, tuple(words[words.index("cli.py") + 1:]), tuple(env.items())))
    return steps


def console_blocks(section: str, text: str | None = None) -> list[Shown]:
    """Each `$ command` of the section's console blocks with the output lines shown under it."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    shown, current, block, here = [], None, None, ""
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            here = line[3:].strip()
        if line.strip().startswith("```"):
            if block and current:
                shown.append(current)
                current = None
            block = None if block else line.strip()[3:] or "text"
            continue
        if block != "console" or here != section:
            continue
        if line.startswith("$ ") or (current and current.command.endswith("\\") and not current.output):
            if current and not current.command.endswith("\\"):
                shown.append(current)
                current = None
            if current is None:
                current = Shown(here, line[2:], (), number + 1, number)
            else:
                current = Shown(here, current.command[:-1] + " " + line.strip(), (), number + 1, number)
            continue
        if current is not None:
            current = Shown(here, current.command, (*current.output, line), current.first, number)
    return shown
