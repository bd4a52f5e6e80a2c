"""Golden renderings of recorded facts: the terminal and Markdown views, compared exactly.

These tests only compare; regenerating is a separate step (see tests/report/golden.py).
"""

from __future__ import annotations

import io

import jsonschema
import pytest

from dldoctor.document.schema import report_schema
from dldoctor.report import terminal
from tests.report.golden import (
    GOLDEN,
    SCENARIOS,
    compare,
    markdown_view,
    renderings,
    report_for,
    terminal_view,
)


@pytest.mark.parametrize("name", SCENARIOS)
def test_terminal_view(name, matrix):
    compare(terminal_view(name, matrix), GOLDEN / f"{name}.txt")


def test_terminal_colour_and_wrapping_on_a_narrow_terminal(matrix):
    out = io.StringIO()
    terminal.render(report_for("h100_cpu_stack", matrix), terminal.Out(out, color=True, width=60))
    lines = out.getvalue().splitlines()
    assert "\033[31m✗\033[0m" in out.getvalue()  # errors in red
    commands = [ln for ln in lines if "$ /work/venv/bin/python -m pip install torch==" in ln]
    assert len(commands) == 1 and len(commands[0]) > 60  # a command is never broken
    prose = [ln for ln in lines if "$ " not in ln and "\033" not in ln]
    assert prose and all(len(ln) <= 60 for ln in prose)


@pytest.mark.parametrize("name", SCENARIOS)
def test_markdown_view(name, matrix):
    compare(markdown_view(name, matrix), GOLDEN / f"{name}.md")


@pytest.mark.parametrize("name", SCENARIOS)
def test_recorded_reports_are_valid_against_the_schema(name, matrix):
    jsonschema.validate(report_for(name, matrix).to_dict(), report_schema())


def test_exit_code_is_1_for_errors_and_2_for_a_crashed_check(matrix):
    report = report_for("h100_cpu_stack", matrix)
    assert report.exit_code() == 1
    from dataclasses import replace

    from dldoctor.model import CheckOutcome, Status

    crashed = replace(
        report, outcomes=(*report.outcomes, CheckOutcome("DD999", "x", Status.CRASHED))
    )
    assert crashed.exit_code() == 2


def test_comparing_never_regenerates(tmp_path, monkeypatch, matrix):
    """The old switch is gone: a stale golden file fails and stays as it was."""
    monkeypatch.setenv("DLDOCTOR_REGEN_GOLDEN", "1")
    stale = tmp_path / "stale.txt"
    stale.write_text("old rendering\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"python -m tests\.report\.golden"):
        compare(terminal_view("h100_cpu_stack", matrix), stale)
    assert stale.read_text(encoding="utf-8") == "old rendering\n"


def test_every_golden_file_is_one_regeneration_writes(matrix):
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(p.name for p in renderings(matrix))
