"""`dldoctor fix`: the plan that fixes what `check` finds, and --apply."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from dldoctor.cli.app import EXIT_INTERRUPTED, Exit, Option, app, confirm, echo
from dldoctor.cli.common import fail, gather_and_probe, gather_facts, load_matrix

if TYPE_CHECKING:
    from dldoctor.fixes.plan import Step


@app.command()
def fix(
    apply_fixes: bool = Option(False, "--apply", help="Run the automatic fixes, after asking."),
    dry_run: bool = Option(False, "--dry-run", help="Show what --apply would run; run nothing."),
    yes: bool = Option(False, "--yes", "-y", help="With --apply: do not ask for confirmation."),
    python: Optional[str] = Option(
        None,
        "--python",
        help="Fix another interpreter's environment (with --from: the one the report is of).",
    ),
    from_report: Optional[Path] = Option(
        None, "--from", help="Plan from an earlier JSON report (--apply: only of this interpreter)."
    ),
    quick: bool = Option(
        False, "--quick", help="Import no framework: plan from static facts only."
    ),
    timeout_s: float = Option(
        60.0, "--timeout", min=0.1, help="Seconds each framework's probe may take."
    ),
    framework: Optional[str] = Option(
        None, "--framework", help="Probe only these frameworks (comma-separated: torch,jax)."
    ),
    keep_driver: bool = Option(
        False,
        "--keep-driver",
        help="When the driver is the issue: plan B, the newest builds the loaded driver runs.",
    ),
) -> None:
    """Print the plan that fixes what `dldoctor check` finds; --apply runs it after confirmation.

    The plan is check's: the same facts and runtime probes, judged the same way. --apply runs
    only commands that name the judged interpreter (or its environment) by absolute path, as
    argument lists without a shell; with --from, only when the report's interpreter is the one
    judged here (--python, else the one dldoctor runs in).

    When the driver is the issue, two plans: A upgrades it, then installs the builds the GPUs
    run best; B keeps it, with the newest releases it runs (--keep-driver applies B). --apply
    reads the driver again before any GPU build and refuses while it is still too old.

    Exit codes: 0 nothing to fix or every command succeeded, 1 something is left to fix or a
    command failed, 2 usage or internal error.
    """
    from dldoctor.checks.registry import run_checks
    from dldoctor.diagnosis import diagnose
    from dldoctor.fixes.alternatives import alternatives
    from dldoctor.fixes.plan import plan
    from dldoctor.fixes.target import foreign
    from dldoctor.model import Finding
    from dldoctor.report import plan_view

    if apply_fixes and not dry_run and not yes and not _interactive():
        fail("--apply asks before it runs anything, and stdin is not a terminal: add --yes")
    matrix = load_matrix()
    if from_report is not None:
        if quick or framework:
            fail(
                "--from plans from a report's facts as they are: --quick and --framework need a live run"
            )
        facts, _ = gather_facts(matrix, None, 5.0, from_report)
    else:
        facts, _ = gather_and_probe(
            matrix,
            python,
            min(5.0, timeout_s),
            (quick, False, framework, timeout_s, None),
            interpreter_timeout_s=min(60.0, max(5.0, timeout_s)),
            nvml_timeout_s=timeout_s,
        )
        if facts.runtime.get("interrupted"):  # Ctrl-C means stop: plan nothing from half the facts
            fail("interrupted: nothing was planned or run", EXIT_INTERRUPTED)
    # One finding per root cause, primary first: a folded consequence's fix ("reinstall") is not
    # a step when its cause has the real one.
    findings: list[Finding] = list(
        diagnose([f for o in run_checks(facts, matrix) for f in o.findings]).findings
    )
    steps = plan(findings, facts)
    if not steps:
        echo("Nothing to fix.")
        raise Exit(0)
    choices = alternatives(findings, facts, matrix)
    if choices:
        echo("The NVIDIA driver is the issue; two plans:\n")
        for number, choice in enumerate(choices):
            echo(("\n" if number else "") + "\n".join(plan_view.alternative_lines(choice)))
        if keep_driver and len(choices) < 2:
            fail("--keep-driver: no build of the installed frameworks runs on the loaded driver")
        steps = choices[1].steps if keep_driver else choices[0].steps
    else:
        echo("\n".join(plan_view.steps_lines(steps)))
    runnable = [s for s in steps if s.runnable]
    if not apply_fixes or dry_run:
        hint = "--apply would run the automatic steps" if runnable else "every step is by hand"
        if choices and runnable:
            hint = f"--apply would run plan {'B' if keep_driver else 'A'}'s automatic steps"
        echo(f"\n{'Dry run: nothing was run.' if dry_run else 'Nothing was run.'} ({hint})")
        raise Exit(1)
    if from_report is not None:
        why = foreign(facts, python)
        if why:
            fail(f"--apply fixes only the interpreter judged here, and {why}")
    run_plan(steps, yes)


def run_plan(steps: list[Step], yes: bool) -> None:
    """--apply: ask (unless --yes), then run the automatic steps once their prerequisites hold."""
    from dldoctor.fixes.driver_now import loaded_driver
    from dldoctor.fixes.plan import apply
    from dldoctor.report.clean import clean

    if not yes and not _interactive():
        fail("--apply asks before it runs anything, and stdin is not a terminal: add --yes")
    runnable = [s for s in steps if s.runnable]
    if not runnable:
        echo("\nNo step can run automatically; do the steps above by hand.")
        raise Exit(1)
    if not yes and not _confirm(f"\nRun the {len(runnable)} automatic step(s) now?"):
        echo("Nothing was run.")
        raise Exit(1)
    raise Exit(apply(steps, lambda line: echo(clean(line)), driver_now=loaded_driver))


def _interactive() -> bool:
    """A person can answer: stdin is open and a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed
        return False


def _confirm(question: str) -> bool:
    try:
        return confirm(question)  # no, unless the answer is yes; a closed stdin: no
    except KeyboardInterrupt:  # Ctrl-C at the question
        return False
