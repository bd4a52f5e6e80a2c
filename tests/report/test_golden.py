"""Golden renderings of recorded facts: the terminal and Markdown views, compared exactly.

Regenerate after an intended change with DLDOCTOR_REGEN_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import jsonschema
import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document.report import Report
from dldoctor.document.schema import report_schema
from dldoctor.facts.model import Facts
from dldoctor.report import markdown, terminal

DATA = Path(__file__).resolve().parent.parent / "data"
SCENARIOS = ["h100_cpu_stack", "driver470_cpu_stack"]


def report_for(name: str, matrix) -> Report:
    facts = Facts.from_dict(json.loads((DATA / "facts" / f"{name}.json").read_text()))
    return Report(
        "dldoctor check", "2026-11-23T00:00:00+00:00", 0.25, facts, tuple(run_checks(facts, matrix))
    )


def compare(actual: str, golden: Path) -> None:
    if os.environ.get("DLDOCTOR_REGEN_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SCENARIOS)
def test_terminal_view(name, matrix):
    out = io.StringIO()
    terminal.render(report_for(name, matrix), terminal.Out(out))
    compare(out.getvalue(), DATA / "golden" / f"{name}.txt")


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
    text = markdown.render(report_for(name, matrix))
    head = text.split("<details>")[0]  # the folded facts are the fixture itself
    compare(head, DATA / "golden" / f"{name}.md")


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
