"""pip's words: ``/abs/env/bin/python -m pip …``, the judged interpreter by absolute path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, interpreter

if TYPE_CHECKING:
    from dldoctor.fixes.installers import Install


def render(intent: Install, remove: tuple[str, ...], facts: Facts) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import index_options

    pip = (interpreter(facts), "-m", "pip")
    commands: list[Command] = []
    if remove:
        commands += [(*pip, "uninstall", "-y", *remove)] * intent.copies
    again = ("--force-reinstall",) if intent.reinstall else ()
    commands.append((*pip, "install", *again, *intent.requirements, *index_options(intent)))
    return tuple(commands)
