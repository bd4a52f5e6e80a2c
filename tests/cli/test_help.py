"""`--help` reads as prose: the docstrings' paragraphs are reflowed to the terminal's width."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest

from dldoctor.cli import app


def _commands() -> list[tuple[str, str]]:
    return [(name, inspect.getdoc(func) or "") for name, func in app.commands.items()]


@pytest.mark.parametrize(("name", "doc"), _commands())
def test_each_paragraph_of_a_command_help_is_one_line_on_a_wide_terminal(
    name: str, doc: str
) -> None:
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "TERM": "dumb"}
    run = subprocess.run(
        [sys.executable, "-m", "dldoctor", name, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    lines = [" ".join(line.strip(" │").split()) for line in run.stdout.splitlines()]
    for paragraph in doc.split("\n\n"):
        words = " ".join(paragraph.replace("`", "").split())
        assert any(words in line for line in lines), (name, words)
