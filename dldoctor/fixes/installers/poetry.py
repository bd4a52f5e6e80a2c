"""poetry's words: the project's own dependency list changes (`poetry remove`, `poetry add`).

Poetry acts on the project in the working directory, not on an interpreter it is given, so
``fix --apply`` never runs these (``commands.acts_on``): the user runs them in the project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dldoctor.fixes.commands import Command

if TYPE_CHECKING:
    from dldoctor.fixes.installers import Install


def render(intent: Install) -> tuple[Command, ...]:
    commands: list[Command] = [("poetry", "remove", name) for name in intent.remove_first]
    if intent.index_url:
        source = intent.index_url.rstrip("/").rsplit("/", 1)[-1]
        name = f"wheels-{source}"
        commands.append(("poetry", "source", "add", "--priority=explicit", name, intent.index_url))
        commands.append(("poetry", "add", *intent.requirements, "--source", name))
    else:
        commands.append(("poetry", "add", *intent.requirements))
    return tuple(commands)
