"""The fix plan: every fix the findings carry, in order, de-duplicated; and running it on request."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Callable

from dldoctor.model import Finding, Fix, Severity


@dataclass(frozen=True)
class Step:
    fix: Fix
    codes: tuple[str, ...]  # the findings this step answers
    commands: tuple[str, ...] = field(default=())  # what is left to run (duplicates removed)


def plan(findings: list[Finding]) -> list[Step]:
    """Steps for findings of warning and error severity, worst first; a command appears once."""
    steps: list[Step] = []
    seen: set[str] = set()
    for finding in findings:
        if finding.severity.rank < Severity.WARNING.rank:
            continue
        for fix in finding.fixes:
            commands = tuple(c for c in fix.commands if c not in seen)
            if fix.commands and not commands:
                continue  # every command already planned by another finding
            seen.update(commands)
            steps.append(Step(fix, (finding.code,), commands))
    return steps


def apply(
    steps: list[Step], echo: Callable[[str], None], run: Callable[[str], int] | None = None
) -> int:
    """Run the automatic steps' commands in order; stop at the first that fails. Exit status."""
    runner = run or _run
    for step in steps:
        if not step.fix.automatic:
            continue
        for command in step.commands:
            echo(f"$ {command}")
            status = runner(command)
            if status != 0:
                echo(f"dldoctor: `{command}` exited with {status}; stopping here.")
                return 1
    return 0


def _run(command: str) -> int:
    return subprocess.run(command, shell=True, check=False).returncode
