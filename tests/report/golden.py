"""Golden renderings of recorded inputs, and the one way to regenerate their files.

The tests only compare. After an intended change to a rendering, regenerate in a separate,
explicit step and read the diff before committing:

    PYTHONPATH=. python -m tests.report.golden      # writes tests/data/golden/*, lists changes
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from dldoctor.checks.registry import run_checks
from dldoctor.document.report import Report
from dldoctor.document.upgrade import upgrade_facts
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix, load
from dldoctor.profilers import gate, rules
from dldoctor.profilers.report import ProfileReport
from dldoctor.report import markdown, profile_terminal, terminal
from tests.profilers import golden_findings
from tests.profilers.synthetic import make

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden"
SCENARIOS = ["h100_cpu_stack", "driver470_cpu_stack"]


def report_for(name: str, matrix: Matrix) -> Report:
    # The recorded facts were written under schema 1.0: read them as --from reads a 1.0 report.
    recorded = json.loads((DATA / "facts" / f"{name}.json").read_text())
    facts = Facts.from_dict(upgrade_facts(recorded, "1.0"))
    return Report(
        "dldoctor check", "2026-11-23T00:00:00+00:00", 0.25, facts, tuple(run_checks(facts, matrix))
    )


def terminal_view(name: str, matrix: Matrix) -> str:
    out = io.StringIO()
    terminal.render(report_for(name, matrix), terminal.Out(out))
    return out.getvalue()


def markdown_view(name: str, matrix: Matrix) -> str:
    text = markdown.render(report_for(name, matrix))
    return text.split("<details>")[0]  # the folded facts are the fixture itself


def profile_report() -> ProfileReport:
    profile = make()
    conditions = [gate.parse("input-bound")]
    return ProfileReport(
        command="dldoctor profile --fail-if input-bound train.py --epochs 3",
        created="2026-11-23T12:00:00+00:00",
        duration_s=75.2,
        profile=profile,
        findings=tuple(rules.judge(profile)),
        gates=tuple(c.evaluate(profile) for c in conditions),
    )


def profile_view() -> str:
    stream = io.StringIO()
    profile_terminal.render(profile_report(), terminal.Out(stream))
    return stream.getvalue()


def renderings(matrix: Matrix) -> dict[Path, str]:
    """Every golden file and what it must hold."""
    files = {GOLDEN / f"{n}.txt": terminal_view(n, matrix) for n in SCENARIOS}
    files.update({GOLDEN / f"{n}.md": markdown_view(n, matrix) for n in SCENARIOS})
    files[GOLDEN / "profile_input_bound.txt"] = profile_view()
    files[golden_findings.GOLDEN] = golden_findings.rendering()
    return files


def compare(actual: str, golden: Path) -> None:
    """Exact comparison; never writes (regenerating is this module's ``main``)."""
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{golden.name} differs; if the change is intended, run "
        "`PYTHONPATH=. python -m tests.report.golden` and review the diff"
    )


def main() -> int:
    for path, text in renderings(load()).items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
            print(f"regenerated {path.relative_to(DATA.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
