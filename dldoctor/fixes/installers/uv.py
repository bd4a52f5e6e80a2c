"""uv's words: ``uv pip … --python /abs/env/bin/python``, never the environment uv would guess."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, interpreter

if TYPE_CHECKING:
    from dldoctor.fixes.installers import Install


def render(intent: Install, remove: tuple[str, ...], facts: Facts) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import index_options

    target = ("--python", interpreter(facts))
    commands: list[Command] = []
    if remove:
        commands += [("uv", "pip", "uninstall", *target, *remove)] * intent.copies
    again = ("--reinstall",) if intent.reinstall else ()
    commands.append(
        ("uv", "pip", "install", *target, *again, *intent.requirements, *index_options(intent))
    )
    return tuple(commands)
