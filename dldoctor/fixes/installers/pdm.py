"""pdm's words: the project's dependencies change (`pdm remove`, `pdm add`), in the project.

Like poetry, pdm acts on the project in the working directory, so ``fix --apply`` never runs
these. A framework's own wheel index becomes a named source of the project (``pdm config
--local pypi.<name>.url``), which pdm searches beside the default index.
"""

from __future__ import annotations

from dldoctor.fixes.commands import Command
from dldoctor.model import Intent


def render(intent: Intent) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import source_name

    commands: list[Command] = [("pdm", "remove", name) for name in intent.remove_first]
    if not intent.requirements:
        return tuple(commands)
    if intent.index_url:
        name = source_name(intent.index_url)
        commands.append(("pdm", "config", "--local", f"pypi.{name}.url", intent.index_url))
    commands.append(("pdm", "add", *intent.requirements))
    return tuple(commands)
