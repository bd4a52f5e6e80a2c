"""The fix plan: every fix the findings carry, in order, de-duplicated; and running it on request."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Callable

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, acts_on, shown
from dldoctor.model import Finding, Fix, Severity


@dataclass(frozen=True)
class Step:
    fix: Fix
    codes: tuple[str, ...]  # the findings this step answers
    commands: tuple[Command, ...] = field(default=())  # what is left to run (duplicates removed)
    runnable: bool = False  # --apply may run it: automatic, and every command names the judged env


def plan(findings: list[Finding], facts: Facts | None = None) -> list[Step]:
    """Steps for findings of warning and error severity, worst first; a command appears once.

    A step is runnable only when its fix is automatic and each of its commands acts on the
    judged environment by name (``commands.acts_on``); without ``facts`` none is.
    """
    steps: list[Step] = []
    seen: set[Command] = set()
    for finding in findings:
        if finding.severity.rank < Severity.WARNING.rank:
            continue
        for fix in finding.fixes:
            commands = tuple(c for c in fix.commands if c not in seen)
            if fix.commands and not commands:
                continue  # every command already planned by another finding
            seen.update(commands)
            runnable = (
                fix.automatic
                and bool(commands)
                and facts is not None
                and all(acts_on(c, facts) for c in commands)
            )
            steps.append(Step(fix, (finding.code,), commands, runnable))
    return steps


def apply(
    steps: list[Step], echo: Callable[[str], None], run: Callable[[Command], int] | None = None
) -> int:
    """Run the runnable steps' commands in order; stop at the first that fails. Exit status."""
    runner = run or _run
    for step in steps:
        if not step.runnable:
            continue
        for command in step.commands:
            echo(f"$ {shown(command)}")
            status = runner(command)
            if status != 0:
                echo(f"dldoctor: `{shown(command)}` exited with {status}; stopping here.")
                return 1
    return 0


def _run(command: Command) -> int:
    """One argument vector, no shell: nothing in it is parsed, expanded or substituted."""
    try:
        return subprocess.run(list(command), shell=False, check=False).returncode
    except OSError as exc:  # the program is missing or not executable
        return 127 if isinstance(exc, FileNotFoundError) else 126
