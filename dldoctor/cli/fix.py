"""`dldoctor fix`: the plan that fixes what `check` finds, and --apply."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dldoctor.cli.app import app
from dldoctor.cli.common import gather_facts, load_matrix


@app.command()
def fix(
    apply_fixes: bool = typer.Option(
        False, "--apply", help="Run the automatic fixes, after asking."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what --apply would run; run nothing."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="With --apply: do not ask for confirmation."
    ),
    python: Optional[str] = typer.Option(
        None, "--python", help="Fix another interpreter's environment."
    ),
    from_report: Optional[Path] = typer.Option(
        None, "--from", help="Plan from an earlier JSON report."
    ),
) -> None:
    """Print the plan that fixes what `dldoctor check` finds; --apply runs it after confirmation.

    Exit codes: 0 nothing to fix or every command succeeded, 1 something is left to fix or a
    command failed, 2 usage or internal error.
    """
    from dldoctor.checks.registry import run_checks
    from dldoctor.fixes.plan import apply, plan
    from dldoctor.model import Finding

    matrix = load_matrix()
    facts, _ = gather_facts(matrix, python, 5.0, from_report)
    findings: list[Finding] = sorted(
        (f for o in run_checks(facts, matrix) for f in o.findings), key=lambda f: -f.severity.rank
    )
    steps = plan(findings)
    if not steps:
        typer.echo("Nothing to fix.")
        raise typer.Exit(0)
    for number, step in enumerate(steps, 1):
        how = "automatic" if step.fix.automatic and step.commands else "by hand"
        typer.echo(f"{number}. [{', '.join(step.codes)}] {step.fix.summary} ({how})")
        for command in step.commands:
            typer.echo(f"     $ {command}")
        if step.fix.notes:
            typer.echo(f"     {step.fix.notes}")
    runnable = [s for s in steps if s.fix.automatic and s.commands]
    if not apply_fixes or dry_run:
        hint = "--apply would run the automatic steps" if runnable else "every step is by hand"
        typer.echo(f"\n{'Dry run: nothing was run.' if dry_run else 'Nothing was run.'} ({hint})")
        raise typer.Exit(1)
    if not runnable:
        typer.echo("\nNo step can run automatically; do the steps above by hand.")
        raise typer.Exit(1)
    if not yes and not typer.confirm(
        f"\nRun the {len(runnable)} automatic step(s) now?", default=False
    ):
        typer.echo("Nothing was run.")
        raise typer.Exit(1)
    raise typer.Exit(apply(runnable, typer.echo))
