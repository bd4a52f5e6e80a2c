"""Fixes for a library found through LD_LIBRARY_PATH: the variable set again without the
directory that shadows a framework's own copy (intent ``set``/``unset``, shown, never run)."""

from __future__ import annotations

import posixpath

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command
from dldoctor.fixes.intents import path_without
from dldoctor.model import Fix, Intent

VARIABLE = "LD_LIBRARY_PATH"


def without_directory(facts: Facts, directory: str) -> Intent | None:
    """LD_LIBRARY_PATH less ``directory`` (unset when nothing is left); None when its value is
    unknown (a report that withheld it) or it does not hold the directory."""
    return path_without(facts, VARIABLE, directory)


def render(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    """The shell words a person types (builtins: shown, never run by dldoctor): the shell's own
    rendering, which refuses a value with a control character (the value came from facts)."""
    from dldoctor.fixes import shell

    return shell.render(intent, facts) if intent.action in ("set", "unset") else ()


def shadowing_directory(
    facts: Facts, directory: str, loaded: list[str], framework: str, own: str | None
) -> Fix:
    """Take ``directory`` out of LD_LIBRARY_PATH so ``framework`` loads its own copies."""
    names = list(dict.fromkeys(posixpath.basename(p) for p in loaded))
    if len(names) == 1:
        mine = f" ({own})" if own else ""
        what = f"{names[0]} is loaded from there instead of the copy {framework} installs{mine}"
    else:
        what = (
            f"{', '.join(names)} are loaded from there instead of the copies {framework} installs"
        )
    summary = (
        f"Take {directory} out of LD_LIBRARY_PATH: the dynamic loader searches it before "
        f"{framework}'s own library path, so {what}."
    )
    notes = (
        "Where it is set: your shell profile, a module file, a conda activation script or the "
        "container image. Set it for this shell as shown, then remove it there."
    )
    intent = without_directory(facts, directory)
    if intent is None:
        return Fix(summary, notes=notes)
    return Fix(summary, render(intent, facts), notes=notes, intents=(intent,))
