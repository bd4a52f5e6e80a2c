"""The typer application every command module registers with."""

from __future__ import annotations

import typer

from dldoctor import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="A doctor for deep-learning machines: frameworks, NVIDIA driver, CUDA and GPUs, judged.",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    # The docstrings are wrapped for the source; markdown joins their lines into paragraphs
    # that fit the terminal (rich mode would keep every source line break).
    rich_markup_mode="markdown",
)


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
