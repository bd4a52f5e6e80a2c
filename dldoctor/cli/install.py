"""`dldoctor install torch tensorflow jax …`: the releases and builds that work together here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from dldoctor.cli.app import Argument, Exit, Option, app, echo
from dldoctor.cli.common import fail, gather_facts, load_matrix


@app.command()
def install(
    frameworks: list[str] = Argument(
        ..., help="Frameworks to install: torch, tensorflow, jax, paddle, onnxruntime."
    ),
    apply_fixes: bool = Option(False, "--apply", help="Run the automatic steps, after asking."),
    dry_run: bool = Option(False, "--dry-run", help="Show what --apply would run; run nothing."),
    yes: bool = Option(False, "--yes", "-y", help="With --apply: do not ask for confirmation."),
    keep_driver: bool = Option(
        False, "--keep-driver", help="With --apply: plan B, the builds the loaded driver runs."
    ),
    python: Optional[str] = Option(None, "--python", help="Plan for another interpreter."),
    from_report: Optional[Path] = Option(
        None, "--from", help="Plan from an earlier JSON report's facts (print only)."
    ),
    json_output: bool = Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """For this machine (driver, GPUs, Python, installer): the releases and CUDA builds of these
    frameworks that work together, one set of NVIDIA wheels for them all (or why they cannot
    share one environment, and a plan for two), and the commands, in order.

    When the best builds need a newer driver, two plans: A upgrades the driver first, B keeps
    it. Exit codes: 0 planned (or applied), 1 a step failed or was refused, 2 usage error.
    """
    from dldoctor.fixes.alternatives import Alternative, install_alternatives
    from dldoctor.probes.plan import UnknownFramework, normalise
    from dldoctor.report import plan_view

    try:
        keys = [k for k in normalise(frameworks)]
    except UnknownFramework as exc:
        fail(str(exc).replace("no runtime probe for", "cannot plan"))
    if "keras" in keys:
        fail("keras has no GPU build of its own: name its backend (torch, tensorflow or jax)")
    from dldoctor.fixes.builds import CANDIDATES

    unplanned = [k for k in keys if k not in CANDIDATES]
    if unplanned:  # probed, but the matrix holds no build table to choose from
        fail(
            f"cannot plan {', '.join(unplanned)}: dldoctor plans "
            f"{', '.join(CANDIDATES)} (it probes {', '.join(unplanned)} but has no build table)"
        )
    if from_report is not None and apply_fixes:
        fail("--from plans from a report's facts: it prints the plan, --apply needs a live run")
    matrix = load_matrix()
    facts, _ = gather_facts(matrix, python, 5.0, from_report)
    plans: list[Alternative] = install_alternatives(keys, facts, matrix)
    if json_output:
        doc = {"frameworks": keys, "alternatives": [plan_view.alternative_json(a) for a in plans]}
        echo(json.dumps(doc, indent=2))
    else:
        for number, alternative in enumerate(plans):
            if number:
                echo("")
            for line in plan_view.alternative_lines(alternative):
                echo(line)
    if not apply_fixes or dry_run:
        raise Exit(0)
    from dldoctor.cli.fix import run_plan

    chosen = plans[1] if keep_driver and len(plans) > 1 else plans[0]
    if keep_driver and len(plans) < 2:
        fail(
            "--keep-driver: there is no plan B here (the loaded driver runs plan A, or is unknown)"
        )
    run_plan(chosen.steps, yes)
