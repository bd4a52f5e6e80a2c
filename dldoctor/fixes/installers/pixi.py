"""pixi's words: the workspace's PyPI dependencies change (`pixi remove --pypi`, `pixi add --pypi`).

pixi acts on the workspace (pixi.toml) of the working directory, so ``fix --apply`` never runs
these. Conda packages of the environment are removed without ``--pypi``. pixi has no command
that adds a wheel index to a workspace (its ``pypi-config`` only seeds ``pixi init``): the
index is a line the user adds to the manifest's ``[pypi-options]`` (``note``).
"""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command
from dldoctor.model import Intent


def render(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    from dldoctor.fixes.installers import conda_owned

    commands: list[Command] = []
    for name in intent.remove_first:
        kind = () if conda_owned(facts, name) else ("--pypi",)
        commands.append(("pixi", "remove", *kind, name))
    if not intent.requirements:
        return tuple(commands)
    commands.append(("pixi", "add", "--pypi", *intent.requirements))
    return tuple(commands)


def note(intent: Intent) -> str:
    """What the manifest needs before ``pixi add`` can find a framework's own wheels."""
    if not intent.index_url or not intent.requirements:
        return ""
    return f'First add extra-index-urls = ["{intent.index_url}"] under [pypi-options] in pixi.toml.'
