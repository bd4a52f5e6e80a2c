"""uv's words: ``uv pip … --python /abs/env/bin/python``, never the environment uv would guess.

A ``uv venv`` has no pip: ``python -m pip`` would fail there, so its packages are uv's to change.
"""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, interpreter
from dldoctor.model import Intent


def remove(names: tuple[str, ...], copies: int, facts: Facts) -> tuple[Command, ...]:
    return (("uv", "pip", "uninstall", "--python", interpreter(facts), *names),) * copies


def render(intent: Intent, rest: tuple[str, ...], facts: Facts) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import build_options, index_options

    again = ("--reinstall",) if intent.reinstall else ()
    install = ("uv", "pip", "install", "--python", interpreter(facts), *again, *intent.requirements)
    return (
        *(remove(rest, intent.copies, facts) if rest else ()),
        (*install, *build_options(intent, "--no-cache"), *index_options(intent)),
    )
