"""`dldoctor diff A.json B.json`: what differs between two machines' reports, weightiest first."""

from __future__ import annotations

import sys
from pathlib import Path

from dldoctor.cli.app import Argument, Exit, Option, app
from dldoctor.cli.common import fail, reader_may_stop


@app.command()
def diff(
    first: Path = Argument(..., metavar="A.json", help="A report (the machine that works)."),
    second: Path = Argument(..., metavar="B.json", help="Another report (the one that fails)."),
    show_all: bool = Option(False, "--all", help="Every difference, not the first ten."),
) -> None:
    """Compare two reports: driver, CUDA builds, cuDNN, frameworks, loaded libraries, environment
    variables, then the rest down to kernel patch levels; and the findings only one of them has.

    Exit codes: 0 the compared facts and findings are the same, 1 they differ, 2 unreadable input.
    """
    from dldoctor.document.diff import compare
    from dldoctor.document.load import ReportError, load_report
    from dldoctor.report.diff_view import render

    try:
        a, b = load_report(first), load_report(second)
    except ReportError as exc:
        fail(str(exc))
    compared = compare(a, b)
    with reader_may_stop():
        sys.stdout.write(render(compared, first.name, second.name, show_all))
    differ = compared.differences or compared.only_a or compared.only_b
    raise Exit(1 if differ else 0)
