"""docs/cli.md's examples run, and print what the page shows.

The page is read top to bottom in one fresh working tree (the current directory, with no
``MLTRAIL_*`` variable set): each ```` ```python ```` block runs (they log the pipeline the
examples ask about), and each ```` ```console ```` block is a shell session: a line
``$ mltrail ARGS`` runs ``mltrail ARGS`` through click's runner, tables drawn 100 columns wide;
the lines after it, up to the next ``$`` line, are what it must print (stdout, then stderr),
compared as doctest compares: ``...`` stands for any text, runs of whitespace are equal. A
command whose expected output starts with ``error:`` must exit 1, any other must exit 0. A
session line ``$ export NAME=VALUE`` sets a variable for the commands after it in that file.
"""

from __future__ import annotations

import doctest
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltrail.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
FENCE = re.compile(r"^```(python|console)([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
CHECKER = doctest.OutputChecker()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Step:
    line: int
    kind: str  # "python", "command" or "export"
    text: str
    expected: str = ""


def steps(text: str) -> list[Step]:
    found: list[Step] = []
    for match in FENCE.finditer(text):
        kind, flags, body = match.group(1), match.group(2).split(), match.group(3)
        line = text.count("\n", 0, match.start(3)) + 1
        if "no-run" in flags:
            continue
        if kind == "python":
            found.append(Step(line, "python", "\n" * (line - 1) + body))
            continue
        current: list[str] = []
        for offset, row in enumerate(body.splitlines()):
            if row.startswith("$ "):
                if current:
                    found.append(_command(current))
                current = [f"{line + offset}", row[2:]]
            else:
                assert current, f"cli.md:{line + offset}: output before any $ line"
                current.append(row)
        if current:
            found.append(_command(current))
    return found


def _command(rows: list[str]) -> Step:
    line, command, *output = rows
    kind = "export" if command.startswith("export ") else "command"
    return Step(int(line), kind, command, "\n".join(output).strip() + "\n")


def test_the_page_has_examples_of_every_kind() -> None:
    found = steps(DOC.read_text(encoding="utf-8"))
    kinds = {step.kind for step in found}
    assert {"python", "command"} <= kinds
    assert sum(step.kind == "command" for step in found) >= 10


def test_the_examples_run_and_print_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    for name in ("MLTRAIL_STORE", "MLTRAIL_TOKEN", "MLTRAIL_CACHE"):
        monkeypatch.delenv(name, raising=False)
    env: dict[str, str | None] = {"COLUMNS": "100", "NO_COLOR": "1"}
    namespace: dict[str, object] = {"__name__": "__cli_docs__"}
    for step in steps(DOC.read_text(encoding="utf-8")):
        if step.kind == "python":
            exec(compile(step.text, str(DOC), "exec"), namespace)
            continue
        if step.kind == "export":
            name, _, value = step.text.removeprefix("export ").partition("=")
            env[name.strip()] = value.strip()
            continue
        args = shlex.split(step.text)
        assert args[0] == "mltrail", f"cli.md:{step.line}: only mltrail commands run here"
        result = CliRunner().invoke(main, args[1:], env=env)
        printed = result.stdout + result.stderr
        wanted = 1 if step.expected.startswith("error:") else 0
        assert result.exit_code == wanted, (
            f"cli.md:{step.line}: `{step.text}` exited {result.exit_code}\n{printed}"
        )
        assert CHECKER.check_output(step.expected, printed, FLAGS), (
            f"cli.md:{step.line}: `{step.text}` printed\n{printed}\nthe page shows\n{step.expected}"
        )
