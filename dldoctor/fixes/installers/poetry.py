"""poetry's words: the project's own dependency list changes (`poetry remove`, `poetry add`).

Poetry acts on the project in the working directory, not on an interpreter it is given, so
``fix --apply`` never runs these (``commands.acts_on``): the user runs them in the project.
"""

from __future__ import annotations

from dldoctor.fixes.commands import Command
from dldoctor.model import Intent


def render(intent: Intent) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import source_name

    commands: list[Command] = [("poetry", "remove", name) for name in intent.remove_first]
    if not intent.requirements:
        return tuple(commands)
    if intent.index_url:
        name = source_name(intent.index_url)
        commands.append(("poetry", "source", "add", "--priority=explicit", name, intent.index_url))
        commands.append(("poetry", "add", *intent.requirements, "--source", name))
    else:
        commands.append(("poetry", "add", *intent.requirements))
    return tuple(commands)
