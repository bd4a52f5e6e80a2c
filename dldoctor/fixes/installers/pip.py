"""pip's words: ``/abs/env/bin/python -m pip …``, the judged interpreter by absolute path."""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, interpreter
from dldoctor.model import Intent


def remove(names: tuple[str, ...], copies: int, facts: Facts) -> tuple[Command, ...]:
    """One uninstall per installed copy: pip removes the first copy it finds each time."""
    return ((interpreter(facts), "-m", "pip", "uninstall", "-y", *names),) * copies


def render(intent: Intent, rest: tuple[str, ...], facts: Facts) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import build_options, index_options

    again = ("--force-reinstall",) if intent.reinstall else ()
    install = (interpreter(facts), "-m", "pip", "install", *again, *intent.requirements)
    return (
        *(remove(rest, intent.copies, facts) if rest else ()),
        (*install, *build_options(intent, "--no-cache-dir"), *index_options(intent)),
    )
