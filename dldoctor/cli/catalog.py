"""`dldoctor checks`, `dldoctor matrix` and `dldoctor schema`: what dldoctor knows, listed."""

from __future__ import annotations

import json
from typing import Optional

from dldoctor.cli.app import Argument, Option, app, echo
from dldoctor.cli.common import fail, load_matrix, reader_may_stop


@app.command("checks")
def list_checks(
    markdown_table: bool = Option(False, "--markdown", help="Print the README's table of checks."),
) -> None:
    """List every check: its code, name, area and what it looks for."""
    from dldoctor.checks.registry import all_checks
    from dldoctor.report.checks_table import checks_table, checks_text

    with reader_may_stop():
        echo(checks_table(all_checks()) if markdown_table else checks_text(all_checks()), nl=False)


@app.command("matrix")
def show_matrix(
    section: Optional[str] = Argument(
        None, help="torch, tensorflow, jax, paddle, onnxruntime, keras, retired, cuda or gpus."
    ),
) -> None:
    """Print the compatibility matrix (or one framework's part of it) as tables, with sources."""
    from rich.console import Console
    from rich.table import Table

    from dldoctor.matrix import data_dir
    from dldoctor.report.matrix_view import SECTIONS, tables

    try:
        found = tables(load_matrix(), section)
    except KeyError:
        fail(f"no matrix section {section!r}; choose from {', '.join(SECTIONS)}")
        raise
    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a file: whole rows, not wrapped at 80 columns
        console = Console(highlight=False, width=200)
    # rich would exit 1 on a closed pipe; reader_may_stop keeps the exit code.
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    with reader_may_stop():
        for title, header, rows in found:
            table = Table(title=title, title_justify="left", show_lines=False)
            for column in header:
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            console.print(table)
        console.print(f"Every row's source is in the data files under {data_dir()}.")


def _broken_pipe() -> None:
    raise BrokenPipeError


@app.command()
def schema() -> None:
    """Print the JSON Schema every report follows."""
    from dldoctor.document.schema import report_schema

    with reader_may_stop():
        echo(json.dumps(report_schema(), indent=2))
