"""conda's words, for distributions conda installed: removed from the judged prefix by name."""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, environment_prefix, safe_name, safe_requirement


def remove(names: list[str], facts: Facts) -> tuple[Command, ...]:
    """``conda remove --prefix PREFIX --force -y NAMES``: pip cannot cleanly remove conda's files.

    --force removes only these, not what depends on them (the install that follows brings the
    replacement). Without a known prefix the command is shown for a person to run, in the
    environment, and ``fix --apply`` does not run it.
    """
    prefix = environment_prefix(facts)
    where = ("--prefix", prefix) if prefix else ()
    return (("conda", "remove", *where, "--force", "-y", *names),)


def install(specs: list[str], facts: Facts) -> tuple[Command, ...]:
    """``conda install --prefix PREFIX -y SPECS`` (``cudatoolkit>=11.2,<12``); nothing when a
    spec is not a plain conda match spec (it came from facts or a report)."""
    if not specs or not all(safe_requirement(s) or safe_name(s) for s in specs):
        return ()
    prefix = environment_prefix(facts)
    where = ("--prefix", prefix) if prefix else ()
    return (("conda", "install", *where, "-y", *specs),)
