"""`dldoctor check`: gather, probe, judge, render."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from dldoctor.cli.app import EXIT_INTERRUPTED, Exit, Option, app, echo
from dldoctor.cli.common import (
    OutputFormat,
    emit_report,
    ensure_writable,
    fail,
    gather_and_probe,
    gather_facts,
    load_matrix,
)


@app.command()
def check(
    output_format: OutputFormat = Option(
        OutputFormat.terminal, "--format", "-f", help="What to print on stdout."
    ),
    json_path: Optional[Path] = Option(
        None, "--json", help="Also write the JSON report to this file."
    ),
    verbose: bool = Option(False, "--verbose", "-v", help="Show the evidence and skipped checks."),
    strict: bool = Option(False, "--strict", help="Exit 1 on warnings too."),
    python: Optional[str] = Option(
        None, "--python", help="Judge another interpreter (a venv's or conda env's python)."
    ),
    timeout_s: float = Option(
        60.0,
        "--timeout",
        min=0.1,
        help="Seconds each framework's probe may take (NVML: 2 to 10, commands: at most 5).",
    ),
    quick: bool = Option(
        False, "--quick", help="Import no framework: static facts only (well under a second)."
    ),
    full: bool = Option(
        False, "--full", help="Also the slow smoke tests (torch.compile, export, all-reduce)."
    ),
    framework: Optional[str] = Option(
        None, "--framework", help="Probe only these frameworks (comma-separated: torch,jax)."
    ),
    memory_limit_gib: Optional[float] = Option(
        None, "--memory-limit", min=0.1, help="GiB each probe child may use (default: half of RAM)."
    ),
    redact_private: bool = Option(
        False,
        "--redact",
        help="Replace private values: user and host names, home paths, IP and MAC addresses, GPU UUIDs, serials, instance ids.",
    ),
    from_report: Optional[Path] = Option(
        None, "--from", help="Judge the facts of an earlier JSON report with today's matrix."
    ),
    build: bool = Option(
        False,
        "--build",
        help="Also judge whether this machine can build CUDA extensions for torch (nvcc, "
        "host compiler, CUDA_HOME, ninja, Python headers).",
    ),
    cluster: bool = Option(
        False, "--cluster", help="Judge every node of a torchrun or srun launch (run under it)."
    ),
    cluster_timeout_s: Optional[float] = Option(
        None, "--cluster-timeout", min=1.0, help="Seconds to wait for every rank (default 300)."
    ),
) -> None:
    """Inspect this machine and Python environment, judge them, and print what to fix.

    Exit codes: 0 healthy (warnings allowed), 1 an error was found (or a warning, with
    --strict), 2 usage error or dldoctor itself failed, 130 interrupted (Ctrl-C; the report of
    what was gathered until then is still written).
    """
    started = time.perf_counter()
    ensure_writable(json_path)
    matrix = load_matrix()
    if cluster_timeout_s is not None and not cluster:
        fail("--cluster-timeout needs --cluster")
    if cluster:
        if from_report is not None:
            fail("--cluster gathers live facts on every node: it cannot judge a --from report")
        from dldoctor.cli.cluster import run_cluster

        probe = (quick, full, framework, timeout_s, memory_limit_gib)
        wait_s = cluster_timeout_s or 300.0
        run_cluster(
            matrix, output_format, json_path, verbose, strict, python, probe, wait_s, redact_private
        )
    if from_report is not None and (full or framework):
        fail("--from judges a report's facts as they are: --full and --framework need a live run")
    interrupted = False
    try:
        # External commands get at most 5 s, NVML what --timeout says within 2-10 s, and the
        # gatherer in --python within 5-60 s (thousands of distributions on a slow disk).
        if from_report is not None:
            facts, source = gather_facts(matrix, python, 5.0, from_report)
        else:
            facts, source = gather_and_probe(
                matrix,
                python,
                min(5.0, timeout_s),
                (quick, full, framework, timeout_s, memory_limit_gib),
                interpreter_timeout_s=min(60.0, max(5.0, timeout_s)),
                nvml_timeout_s=timeout_s,
                meanwhile=_import_judges,  # while the probe children run, not before they start
            )
            interrupted = bool(facts.runtime.get("interrupted"))  # a report's own is history
    except KeyboardInterrupt:  # a second Ctrl-C, or one while reading a --from report
        fail("interrupted while gathering facts: no report written", EXIT_INTERRUPTED)
    if build and isinstance(facts.cuda.get("build_tools"), dict):
        facts.cuda["build_tools"]["requested"] = True  # a fact of this run: the build checks judge
    from dldoctor.checks.registry import run_checks
    from dldoctor.document.report import Report

    outcomes = tuple(run_checks(facts, matrix))
    command = "dldoctor check" + source
    report = Report(
        command=command,
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        duration_s=time.perf_counter() - started,
        facts=facts,
        outcomes=outcomes,
        redacted=redact_private,
    )
    emit_report(report, output_format, json_path, verbose)
    if interrupted:
        echo(
            "dldoctor: interrupted: what had not been gathered or probed by then is marked so",
            err=True,
        )
        raise Exit(EXIT_INTERRUPTED)
    raise Exit(report.exit_code(strict))


def _import_judges() -> None:
    """The checks (every check and fix module) and the report, imported ahead of their use."""
    import dldoctor.checks.registry
    import dldoctor.document.report  # noqa: F401
