"""What the commands share: the exit on a usage error, the matrix, the facts, the report's output."""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional

import typer

if TYPE_CHECKING:
    from dldoctor.facts.model import Facts
    from dldoctor.matrix import Matrix


class OutputFormat(str, enum.Enum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"dldoctor: error: {message}", err=True)
    raise typer.Exit(code)


def load_matrix() -> Matrix:
    from dldoctor.matrix import MatrixError, load

    try:
        return load()
    except MatrixError as exc:
        fail(f"the compatibility matrix is broken: {exc}")
        raise  # unreachable: fail exits


def gather_facts(
    matrix: Matrix, python: Optional[str], timeout_s: float, from_report: Optional[Path]
) -> tuple[Facts, str]:
    """This machine's facts (or another interpreter's, or an old report's), and how they came."""
    from dldoctor.document.load import ReportError, facts_from_report
    from dldoctor.facts import GatherError, gather
    from dldoctor.facts.host import Host

    if from_report is not None:
        if python is not None:
            fail("--from and --python cannot be combined: a report's facts are already gathered")
        try:
            return facts_from_report(from_report), f" --from {from_report.name}"
        except ReportError as exc:
            fail(str(exc))
    try:
        facts = gather(matrix, Host(command_timeout_s=timeout_s), python=python)
    except GatherError as exc:
        fail(str(exc))
    return facts, f" --python {python}" if python else ""


@contextlib.contextmanager
def reader_may_stop() -> Iterator[None]:
    """Output to a reader that may stop early (`dldoctor check | head -1`): the rest is dropped
    and the exit code stays the one the run earned (click would make it 1, "errors found").

    As the Python documentation advises for SIGPIPE, stdout is pointed at /dev/null so the
    interpreter's own last flush cannot fail again.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)


def emit_report(
    report: object, output_format: OutputFormat, json_path: Optional[Path], verbose: bool
) -> None:
    from dldoctor.document.report import Report

    assert isinstance(report, Report)
    text = ""
    # The document only when one is written: building and dumping it grows with the environment
    # (0.4 s for 3000 distributions) and the terminal and Markdown views never read it.
    if json_path is not None or output_format is OutputFormat.json:
        from dldoctor.facts.withhold import withhold_all

        document = withhold_all(report.to_dict())  # secrets by shape, whatever carried them
        if report.redacted:
            from dldoctor.document.redact import redact

            document = redact(document)
        text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if json_path is not None:
        try:
            json_path.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write the report to {json_path}: {exc.strerror or exc}")
    with reader_may_stop():
        if output_format is OutputFormat.json:
            sys.stdout.write(text)
        elif output_format is OutputFormat.markdown:
            from dldoctor.document.redact import redact
            from dldoctor.facts.withhold import withhold
            from dldoctor.report import markdown

            body = withhold(markdown.render(report))
            sys.stdout.write(redact(body) if report.redacted else body)
        else:
            from dldoctor.report import terminal

            out = terminal_out()
            assert isinstance(out, terminal.Out)
            terminal.render(report, out, verbose=verbose)
    if json_path is not None and output_format is not OutputFormat.json:
        typer.echo(f"Report written to {json_path}", err=True)


def terminal_out() -> object:
    """Colour and wrapping on a terminal (NO_COLOR respected); plain, unwrapped lines elsewhere."""
    import os
    import shutil

    from dldoctor.report.terminal import Out

    if not sys.stdout.isatty():
        return Out(sys.stdout)
    color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    return Out(sys.stdout, color=color, width=shutil.get_terminal_size().columns)
