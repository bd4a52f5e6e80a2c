"""Render an install intent as exact commands for the installer this environment really uses."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import installed
from dldoctor.fixes.commands import Command, safe_name, safe_requirement


class Installer(str, enum.Enum):
    PIP = "pip"
    UV = "uv"
    POETRY = "poetry"
    CONDA = "conda"
    MAMBA = "mamba"


@dataclass(frozen=True)
class Install:
    """What must end up installed, independent of the tool that does it."""

    requirements: tuple[str, ...]  # pinned, e.g. "torch==2.13.0"
    index_url: str | None = None  # a framework's own wheel index (PyTorch's, Paddle's)
    extra_index_url: str | None = None
    remove_first: tuple[str, ...] = ()  # distributions to uninstall before installing
    reinstall: bool = False  # same version, different build (e.g. +cpu → CUDA)
    copies: int = 1  # installed copies of each removed distribution: one uninstall removes one


def installer_for(facts: Facts, distribution: str | None = None) -> Installer:
    """The installer to use: the one that installed this distribution, else the environment's."""
    manager = ((facts.python.get("environment") or {}).get("manager") or "").lower()
    if manager == "poetry":
        return Installer.POETRY
    dist = installed(facts, distribution) if distribution else None
    recorded = ((dist or {}).get("installer") or "").strip().lower()
    if recorded == "uv" or (not recorded and manager == "uv"):
        return Installer.UV
    # Frameworks' CUDA wheels live on pip indexes; inside conda, pip is the documented route.
    return Installer.PIP


def render(intent: Install, facts: Facts) -> tuple[Command, ...]:
    """The commands, in order, for the installer this environment uses.

    None at all when a name or requirement is not a plain PEP 508 one (it came from facts or a
    report): the fix is then done by hand from its summary, never from a crafted argument.
    """
    from dldoctor.fixes.installers import conda, pip, poetry, uv

    if not all(safe_requirement(r) for r in intent.requirements) or not all(
        safe_name(n) for n in intent.remove_first
    ):
        return ()
    first = intent.remove_first[0] if intent.remove_first else None
    tool = installer_for(facts, first or _name(intent.requirements[0]))
    if tool is Installer.POETRY:
        return poetry.render(intent)
    owned = [
        n for n in intent.remove_first if (installed(facts, n) or {}).get("installer") == "conda"
    ]
    # conda removes by its own package name (pytorch for torch's metadata), from the record.
    names = [str(((installed(facts, n) or {}).get("conda") or {}).get("name") or n) for n in owned]
    commands = list(conda.remove([n for n in names if safe_name(n)], facts)) if owned else []
    rest = tuple(n for n in intent.remove_first if n not in owned)
    by = uv if tool is Installer.UV else pip
    return (*commands, *by.render(intent, rest, facts))


def index_options(intent: Install) -> Command:
    """--index-url / --extra-index-url, spelled the same by pip and uv."""
    options: list[str] = []
    if intent.index_url:
        options += ["--index-url", intent.index_url]
    if intent.extra_index_url:
        options += ["--extra-index-url", intent.extra_index_url]
    return tuple(options)


def _name(requirement: str) -> str:
    for sep in ("==", ">=", "<=", "~=", "!=", "<", ">", "[", " ", ";"):
        requirement = requirement.split(sep, 1)[0]
    return requirement
