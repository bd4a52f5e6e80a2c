"""What the terminal view claims of a paste: health only where something was seen and judged."""

from __future__ import annotations

import io

from dldoctor.report.terminal import Out, render
from tests.checks.scenarios import make_facts
from tests.triage.test_pastes import MATRIX, triaged


def _lines(report) -> list[str]:
    out = io.StringIO()
    render(report, Out(out))
    return out.getvalue().splitlines()


def _glyph(lines: list[str], label: str) -> str:
    (line,) = [line for line in lines if line.startswith("[") and f"] {label}:" in line]
    return line[1]


def test_an_area_the_paste_never_showed_is_not_called_healthy():
    _, report = triaged("nvidia_smi_q_and_csv_h100.txt")  # nvidia-smi, and a few pip lines
    lines = _lines(report)
    assert _glyph(lines, "NVIDIA") == "✓"  # read, and judged
    for label in ("System", "Python", "Environment"):  # nothing of them in the paste
        assert _glyph(lines, label) == "?", label
    # Packages: torch 2.1.2 and its triton 2.1.0 are in it, and judged (DD528).
    assert (
        lines[-1]
        == "No issues found in what is known; not judged: System, Python, CUDA, Environment."
    )


def test_an_area_shown_by_the_paste_is_judged_by_it():
    _, report = triaged("collect_env_2_5_linux_cpu_wsl.txt")  # the OS and CPU are in it
    lines = _lines(report)
    assert _glyph(lines, "System") == "✓" and _glyph(lines, "NVIDIA") == "?"
    assert "not judged: NVIDIA, CUDA, Environment." in lines[-1]


def test_a_machine_seen_whole_is_plainly_healthy():
    from dldoctor.checks.registry import run_checks
    from dldoctor.document.report import Report

    facts = make_facts()  # every section gathered, nothing wrong
    report = Report("dldoctor check", "2026-12-01T00:00:00+00:00", 0.0, facts,
                    tuple(run_checks(facts, MATRIX)))  # fmt: skip
    lines = _lines(report)
    assert lines[-1] == "No issues found."
    assert {_glyph(lines, label) for label in ("System", "Python", "Packages")} == {"✓"}


def test_the_markdown_view_says_the_same():
    from dldoctor.report.markdown import render as markdown

    _, seen_in_part = triaged("nvidia_smi_q_and_csv_h100.txt")
    assert "No issues found in what is known; not judged: System, Python, CUDA, Environment." in (
        markdown(seen_in_part)
    )
    assert "No issues found.\n" not in markdown(seen_in_part)
