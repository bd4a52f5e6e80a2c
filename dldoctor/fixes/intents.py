"""Every intent rendered in one place: packages by their installer, the driver, the shell, the machine.

Checks return intents; this module alone turns them into argument vectors for the judged
platform, shell and installer (``fix``), and says which of them a person must do (``by_hand``).
"""

from __future__ import annotations

from collections.abc import Iterable

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command
from dldoctor.model import Fix, Intent

PACKAGES = ("install", "remove")


def render(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    """The commands that carry out one intent here, in order; none when it is done from words."""
    from dldoctor.fixes import driver, installers, shell, system

    if intent.action in PACKAGES:
        return installers.render(intent, facts)
    if intent.action == "driver":
        return driver.commands(facts)
    if intent.action in ("set", "unset"):
        return shell.render(intent, facts)
    return system.render(intent, facts)


def render_all(intents: Iterable[Intent], facts: Facts) -> tuple[Command, ...]:
    """The intents' commands in order; none at all when one of them renders nothing here (a
    name from facts that is not plain, a step this platform does not have): half a
    removal-and-reinstall, or a reboot without the module rebuild before it, is worse. A
    driver install is the exception: outside Ubuntu it is done from its words."""
    rendered = [(intent, render(intent, facts)) for intent in intents]
    if any(i.action != "driver" and not c for i, c in rendered):
        return ()
    return tuple(c for _, commands in rendered for c in commands)


def directory_key(path: str) -> str:
    """One spelling of a search-path directory: "/x//lib/" and "/x/./lib" are "/x/lib" to the
    loader. ".." is kept: through a symbolic link it is not the textual parent."""
    parts = "/".join(c for c in path.split("/") if c not in ("", "."))
    return "/" + parts if path.startswith("/") else parts or "."


def path_without(facts: Facts, variable: str, directory: str) -> Intent | None:
    """A search path (``LD_LIBRARY_PATH``) set to its value less ``directory``, however either
    spells it, unset when nothing is left; None when its value is unknown (a report that
    withheld it) or it does not hold the directory."""
    value = (facts.env.get("variables") or {}).get(variable)
    if not isinstance(value, str):
        return None
    wanted = directory_key(directory)
    parts = [p for p in value.split(":") if p]
    kept = [p for p in parts if directory_key(p) != wanted]
    if len(kept) == len(parts):
        return None
    if not kept:
        return Intent(action="unset", variable=variable)
    return Intent(action="set", variable=variable, value=":".join(kept))


def by_hand(intent: Intent) -> bool:
    """Root, a reboot, the Windows host or the user's own shell: never run by ``fix --apply``."""
    return intent.action not in PACKAGES


def fix(
    summary: str, *intents: Intent, facts: Facts, automatic: bool = True, notes: str = ""
) -> Fix:
    """A fix carrying its intents (for the plan to merge and order) and their commands here.

    Automatic only when asked and every intent is a package change: ``fix --apply`` still runs
    a command only when it names the judged environment (``commands.acts_on``).
    """
    return Fix(
        summary,
        render_all(intents, facts),
        automatic and not any(by_hand(i) for i in intents),
        _notes(intents, facts, notes),
        tuple(intents),
    )


def _notes(intents: tuple[Intent, ...], facts: Facts, notes: str) -> str:
    from dldoctor.fixes import installers, shell, system

    said: list[str] = []
    for intent in intents:
        if intent.action in PACKAGES:
            said.append(installers.note(intent, facts))
        elif intent.action in ("set", "unset"):
            said.append(shell.note(intent, facts))
        else:
            said.append(system.note(intent, facts))
    return " ".join(dict.fromkeys(n for n in [*said, notes] if n))
