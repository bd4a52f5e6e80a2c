"""The command line: the only package that parses arguments, prints and exits; one module per
command, each registering with the one app."""

from __future__ import annotations

from dldoctor.cli import catalog, check, diff, fix, install, profile, triage  # noqa: F401
from dldoctor.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    from dldoctor.facts import reaper

    try:
        app()
    finally:  # what daemonised out of a child's group (and closed its pipes) goes too
        reaper.sweep()
