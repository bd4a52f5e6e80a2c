"""The command line: the only module that parses arguments, prints and exits."""

from __future__ import annotations

import enum
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from dldoctor import __version__

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
        5.0, "--timeout", min=0.1, help="Seconds any external command (nvidia-smi, nvcc) may take."
    ),
    redact_private: bool = typer.Option(
        False, "--redact", help="Replace home paths, user and host names, GPU UUIDs."
    ),
) -> None:
    """Inspect this machine and Python environment, judge them, and print what to fix.

    Exit codes: 0 healthy (warnings allowed), 1 an error was found (or a warning, with
    --strict), 2 usage error or dldoctor itself failed.
    """
    from dldoctor.checks.registry import run_checks
    from dldoctor.compat_matrix import MatrixError, load
    from dldoctor.facts import GatherError, gather
    from dldoctor.facts.host import Host
    from dldoctor.report.report import Report

    started = time.perf_counter()
    try:
        matrix = load()
    except MatrixError as exc:
        _fail(f"the compatibility matrix is broken: {exc}")
    try:
        facts = gather(matrix, Host(command_timeout_s=timeout_s), python=python)
    except GatherError as exc:
        _fail(str(exc))
    outcomes = tuple(run_checks(facts, matrix))
    command = "dldoctor check" + (f" --python {python}" if python else "")
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
def schema() -> None:
    """Print the JSON Schema every report follows."""
    from dldoctor.report.schema import report_schema

    typer.echo(json.dumps(report_schema(), indent=2))


def main() -> None:
    app()
