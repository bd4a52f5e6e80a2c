"""The command line: the only module that parses arguments, prints and exits."""

from __future__ import annotations

import enum
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from dldoctor import __version__

if TYPE_CHECKING:
    from collections.abc import Callable

    from dldoctor.compat_matrix import Matrix
    from dldoctor.facts.model import Facts
    from dldoctor.probes.probe import ProbeEvent
    from dldoctor.report.progress import Progress

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="A doctor for deep-learning machines: frameworks, NVIDIA driver, CUDA and GPUs, judged.",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


class OutputFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"dldoctor: error: {message}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dldoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Run `dldoctor check` right after setting up a machine."""


@app.command()
def check(
    output_format: OutputFormat = typer.Option(
        OutputFormat.terminal, "--format", "-f", help="What to print on stdout."
    ),
    json_path: Optional[Path] = typer.Option(
        None, "--json", help="Also write the JSON report to this file."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show the evidence and skipped checks."
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
    python: Optional[str] = typer.Option(
        None, "--python", help="Judge another interpreter (a venv's or conda env's python)."
    ),
    timeout_s: float = typer.Option(
        60.0,
        "--timeout",
        min=0.1,
        help="Seconds each framework's probe may take (external commands: at most 5).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Import no framework: static facts only (well under a second)."
    ),
    full: bool = typer.Option(
        False, "--full", help="Also the slow smoke tests (torch.compile, export, all-reduce)."
    ),
    framework: Optional[str] = typer.Option(
        None, "--framework", help="Probe only these frameworks (comma-separated: torch,jax)."
    ),
    memory_limit_gib: Optional[float] = typer.Option(
        None, "--memory-limit", min=0.1, help="GiB each probe child may use (default: half of RAM)."
    ),
    redact_private: bool = typer.Option(
        False, "--redact", help="Replace home paths, user and host names, GPU UUIDs."
    ),
    from_report: Optional[Path] = typer.Option(
        None, "--from", help="Judge the facts of an earlier JSON report with today's matrix."
    ),
) -> None:
    """Inspect this machine and Python environment, judge them, and print what to fix.

    Exit codes: 0 healthy (warnings allowed), 1 an error was found (or a warning, with
    --strict), 2 usage error or dldoctor itself failed.
    """
    from dldoctor.checks.registry import run_checks
    from dldoctor.report.report import Report

    started = time.perf_counter()
    matrix = _matrix()
    facts, source = _facts(matrix, python, min(5.0, timeout_s), from_report)
    if from_report is None:
        facts, probed = _runtime(
            facts, matrix, python, quick, full, framework, timeout_s, memory_limit_gib
        )
        source += probed
    elif full or framework:
        _fail("--from judges a report's facts as they are: --full and --framework need a live run")
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
    _emit(report, output_format, json_path, verbose)
    raise typer.Exit(report.exit_code(strict))


def _matrix() -> Matrix:
    from dldoctor.compat_matrix import MatrixError, load

    try:
        return load()
    except MatrixError as exc:
        _fail(f"the compatibility matrix is broken: {exc}")
        raise  # unreachable: _fail exits


def _facts(
    matrix: Matrix, python: Optional[str], timeout_s: float, from_report: Optional[Path]
) -> tuple[Facts, str]:
    """This machine's facts (or another interpreter's, or an old report's), and how they came."""
    from dldoctor.facts import GatherError, gather
    from dldoctor.facts.host import Host
    from dldoctor.report.load import ReportError, facts_from_report

    if from_report is not None:
        if python is not None:
            _fail("--from and --python cannot be combined: a report's facts are already gathered")
        try:
            return facts_from_report(from_report), f" --from {from_report.name}"
        except ReportError as exc:
            _fail(str(exc))
    try:
        facts = gather(matrix, Host(command_timeout_s=timeout_s), python=python)
    except GatherError as exc:
        _fail(str(exc))
    return facts, f" --python {python}" if python else ""


def _runtime(
    facts: Facts,
    matrix: Matrix,
    python: Optional[str],
    quick: bool,
    full: bool,
    framework: Optional[str],
    timeout_s: float,
    memory_limit_gib: Optional[float],
) -> tuple[Facts, str]:
    """The facts with their runtime section: each framework probed in its own child process."""
    import dataclasses
    import os

    from dldoctor.probes.plan import UnknownFramework, normalise
    from dldoctor.probes.probe import ProbeOptions, run_probes, skipped

    if quick:
        if full or framework:
            _fail("--quick imports no framework: it cannot be combined with --full or --framework")
        return dataclasses.replace(
            facts, runtime=skipped("--quick: no framework imported")
        ), " --quick"
    try:
        wanted = normalise(framework.split(",")) if framework else None
    except UnknownFramework as exc:
        _fail(f"--framework: {exc}")
    options = ProbeOptions(
        python=os.path.abspath(python) if python else sys.executable,
        frameworks=wanted,
        full=full,
        timeout_s=timeout_s,
        memory_limit_bytes=int(memory_limit_gib * 2**30) if memory_limit_gib else None,
    )
    progress = _progress()
    try:
        runtime = run_probes(
            facts, matrix, options, on_event=_forward(progress) if progress else None
        )
    finally:
        if progress is not None:
            progress.close()
    flags = (" --full" if full else "") + (f" --framework {','.join(wanted)}" if wanted else "")
    return dataclasses.replace(facts, runtime=runtime), flags


def _progress() -> Optional[Progress]:
    """A live spinner block on a terminal's stderr; None (silence) anywhere else."""
    import os
    import shutil

    from dldoctor.probes.plan import PROBED
    from dldoctor.report.progress import Progress

    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        return None
    width = shutil.get_terminal_size().columns
    return Progress(sys.stderr, "NO_COLOR" not in os.environ, width, order=PROBED)


def _forward(progress: Progress) -> Callable[[ProbeEvent], None]:
    return lambda e: progress.event(e.kind, e.framework, e.detail, e.record)


def _emit(
    report: object, output_format: OutputFormat, json_path: Optional[Path], verbose: bool
) -> None:
    from dldoctor.report.report import Report

    assert isinstance(report, Report)
    document = report.to_dict()
    if report.redacted:
        from dldoctor.report.redact import redact

        document = redact(document)
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if json_path is not None:
        try:
            json_path.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write the report to {json_path}: {exc.strerror or exc}")
    if output_format is OutputFormat.json:
        sys.stdout.write(text)
    elif output_format is OutputFormat.markdown:
        from dldoctor.report import markdown
        from dldoctor.report.redact import redact

        body = markdown.render(report)
        sys.stdout.write(redact(body) if report.redacted else body)
    else:
        from dldoctor.report import terminal

        out = _terminal_out()
        assert isinstance(out, terminal.Out)
        terminal.render(report, out, verbose=verbose)
    if json_path is not None and output_format is not OutputFormat.json:
        typer.echo(f"Report written to {json_path}", err=True)


def _terminal_out() -> object:
    """Colour and wrapping on a terminal (NO_COLOR respected); plain, unwrapped lines elsewhere."""
    import os
    import shutil

    from dldoctor.report.terminal import Out

    if not sys.stdout.isatty():
        return Out(sys.stdout)
    color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    return Out(sys.stdout, color=color, width=shutil.get_terminal_size().columns)


@app.command("checks")
def list_checks(
    markdown_table: bool = typer.Option(
        False, "--markdown", help="Print the README's table of checks."
    ),
) -> None:
    """List every check: its code, name, area and what it looks for."""
    from dldoctor.checks.registry import all_checks
    from dldoctor.report.checks_table import checks_table, checks_text

    typer.echo(
        checks_table(all_checks()) if markdown_table else checks_text(all_checks()), nl=False
    )


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
    from dldoctor.report.model import Finding

    matrix = _matrix()
    facts, _ = _facts(matrix, python, 5.0, from_report)
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


@app.command("matrix")
def show_matrix(
    section: Optional[str] = typer.Argument(
        None, help="torch, tensorflow, jax, paddle, onnxruntime, keras, retired, cuda or gpus."
    ),
) -> None:
    """Print the compatibility matrix (or one framework's part of it) as tables, with sources."""
    from rich.console import Console
    from rich.table import Table

    from dldoctor.report.matrix_view import SECTIONS, tables

    try:
        found = tables(_matrix(), section)
    except KeyError:
        _fail(f"no matrix section {section!r}; choose from {', '.join(SECTIONS)}")
        raise
    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a file: whole rows, not wrapped at 80 columns
        console = Console(highlight=False, width=200)
    for title, header, rows in found:
        table = Table(title=title, title_justify="left", show_lines=False)
        for column in header:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print("Every row's source is in the data files under dldoctor/compat_matrix/.")


@app.command()
def schema() -> None:
    """Print the JSON Schema every report follows."""
    from dldoctor.report.schema import report_schema

    typer.echo(json.dumps(report_schema(), indent=2))


@app.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    },
)
def profile(
    target: str = typer.Argument(
        ..., metavar="SCRIPT", help="The training script (with -m: the module) to run."
    ),
    args: Optional[list[str]] = typer.Argument(
        None, metavar="[ARGS]...", help="The script's own arguments, passed on unchanged."
    ),
    module: bool = typer.Option(False, "-m", help="Run SCRIPT as a module, like `python -m`."),
    steps: Optional[int] = typer.Option(
        None, "--steps", min=1, help="Stop the script cleanly after this many training steps."
    ),
    duration_s: Optional[float] = typer.Option(
        None, "--duration", min=0.1, help="Stop the script cleanly this many seconds after start."
    ),
    rate_hz: float = typer.Option(
        10.0, "--rate", min=0.5, max=100.0, help="CPU/GPU samples per second."
    ),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the JSON report here."),
    trace_path: Optional[Path] = typer.Option(
        None, "--trace", help="Write a Chrome trace-event timeline here (opens in Perfetto)."
    ),
    fail_if: Optional[list[str]] = typer.Option(
        None,
        "--fail-if",
        help="Exit 1 if this holds, for CI: a verdict (input-bound) or a condition "
        "(data-wait>0.3, gpu-busy<50%). Repeatable.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the evidence."),
    redact_private: bool = typer.Option(
        False, "--redact", help="Replace home paths, user and host names, GPU UUIDs."
    ),
) -> None:
    """Run a training script unmodified and say where its time goes: waiting for data, the GPU,
    or the CPU, with what to change. Put dldoctor's options before SCRIPT.

    Exit codes: the script's own exit code when it fails (128+N if killed by signal N); else
    1 when a --fail-if condition holds; else 0 (also when --steps/--duration stopped it);
    2 for usage errors or when dldoctor itself fails. The summary goes to stderr.
    """
    import os

    from dldoctor.profile import gate
    from dldoctor.profile.report import build
    from dldoctor.profile.runner import Target
    from dldoctor.profile.session import Options, run

    started = time.perf_counter()
    try:
        conditions = [gate.parse(text) for text in fail_if or []]
    except gate.GateError as exc:
        _fail(str(exc))
    if not hasattr(os, "fork"):
        _fail("dldoctor profile needs Linux or macOS (it passes a pipe to the script)")
    if not module and not Path(target).is_file():
        _fail(f"can't open file {target!r}: no such file")
    run_target = Target(target, tuple(args or ()), module)
    options = Options(steps, duration_s, rate_hz, trace_path)
    try:
        session = run(run_target, options)
    except OSError as exc:
        _fail(f"cannot start {run_target.describe()}: {exc.strerror or exc}")
    from dldoctor.profile.analysis import safe_args

    words = (["-m"] if module else []) + [target, *safe_args(args or [])]
    command = "dldoctor profile " + " ".join(words)
    report = build(session, conditions, command, time.perf_counter() - started, redact_private)
    _emit_profile(report, json_path, trace_path, verbose)
    raise typer.Exit(report.exit_code())


def _emit_profile(
    report: object, json_path: Optional[Path], trace_path: Optional[Path], verbose: bool
) -> None:
    import os
    import shutil

    from dldoctor.profile.report import ProfileReport
    from dldoctor.report import profile_terminal
    from dldoctor.report.terminal import Out

    assert isinstance(report, ProfileReport)
    if json_path is not None:  # first: a closed stderr must not cost the report
        document = report.to_dict()
        if report.redacted:
            from dldoctor.report.redact import redact

            document = redact(document)
        try:
            json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write the report to {json_path}: {exc.strerror or exc}")
    if sys.stderr.isatty():
        color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        out = Out(sys.stderr, color=color, width=shutil.get_terminal_size().columns)
    else:
        out = Out(sys.stderr)
    try:
        out.line()
        profile_terminal.render(report, out, verbose=verbose)
        if json_path is not None:
            out.line(f"Report written to {json_path}")
        if trace_path is not None:
            out.line(f"Trace written to {trace_path} (open it in https://ui.perfetto.dev)")
        sys.stderr.flush()
    except BrokenPipeError:  # stderr piped into `head`: the summary is the reader's to cut
        pass


def main() -> None:
    app()
