"""Render an install intent as exact commands for the installer this environment really uses."""

from __future__ import annotations

import enum
import os
import re

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import installed
from dldoctor.fixes.commands import Command, environment_prefix, safe_name, safe_requirement
from dldoctor.model import Fix, Intent

# What must end up installed, independent of the tool that does it (model.Intent, action
# "install"): the name the installers and the checks have always used for it.
Install = Intent


class Installer(str, enum.Enum):
    PIP = "pip"
    UV = "uv"
    POETRY = "poetry"
    PDM = "pdm"
    PIXI = "pixi"
    CONDA = "conda"
    MAMBA = "mamba"


# What a distribution's INSTALLER file (or the environment's manager) names → the tool to use.
_RECORDED = {"uv": Installer.UV, "pdm": Installer.PDM, "pixi": Installer.PIXI}


def installer_for(facts: Facts, distribution: str | None = None) -> Installer:
    """The installer to use: the project tool that manages the environment, else the one that
    installed this distribution, else the environment's."""
    manager = ((facts.python.get("environment") or {}).get("manager") or "").lower()
    if manager in ("poetry", "pdm", "pixi"):
        return Installer(manager)
    prefix = (environment_prefix(facts) or "").replace("\\", "/")
    if "/.pixi/envs/" in prefix + "/":  # pixi's environments live in the project's .pixi/envs/
        return Installer.PIXI
    dist = installed(facts, distribution) if distribution else None
    recorded = ((dist or {}).get("installer") or "").strip().lower()
    if recorded in _RECORDED:
        return _RECORDED[recorded]
    if not recorded and manager == "uv":
        return Installer.UV
    # Frameworks' CUDA wheels live on pip indexes; inside conda, pip is the documented route.
    return Installer.PIP


def conda_tool(facts: Facts) -> str:
    """``mamba`` where it made this environment and exists beside conda, else ``conda``."""
    manager = ((facts.python.get("environment") or {}).get("manager") or "").lower()
    return "mamba" if manager == "mamba" else "conda"


def plain(intent: Intent) -> bool:
    """Every requirement and name is a plain PEP 508 one (they may come from facts or a report)."""
    return all(safe_requirement(r) for r in intent.requirements) and all(
        safe_name(n) for n in intent.remove_first
    )


def render(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    """The commands, in order, for the installer this environment uses.

    None at all when a name or requirement is not a plain PEP 508 one (it came from facts or a
    report): the fix is then done by hand from its summary, never from a crafted argument.
    """
    from dldoctor.fixes.installers import conda, pdm, pip, pixi, poetry, uv

    if not plain(intent) or not (intent.requirements or intent.remove_first):
        return ()
    if (intent.build or intent.find_links) and not _plain_url(intent.find_links):
        return ()
    if intent.manager == "conda":
        return _conda_packages(intent, facts)
    first = intent.remove_first[0] if intent.remove_first else None
    name = first or _name(intent.requirements[0])
    tool = installer_for(facts, name)
    if (intent.build or intent.find_links) and tool not in (Installer.PIP, Installer.UV):
        return ()  # a project tool has no words for it: done by hand, from the fix's summary
    if tool is Installer.POETRY:
        return poetry.render(intent)
    if tool is Installer.PDM:
        return pdm.render(intent)
    if tool is Installer.PIXI:
        return pixi.render(intent, facts)
    owned = [n for n in intent.remove_first if conda_owned(facts, n)]
    # conda removes by its own package name (pytorch for torch's metadata), from the record.
    names = [str(((installed(facts, n) or {}).get("conda") or {}).get("name") or n) for n in owned]
    commands = list(conda.remove([n for n in names if safe_name(n)], facts)) if owned else []
    rest = tuple(n for n in intent.remove_first if n not in owned)
    by = uv if tool is Installer.UV else pip
    if not intent.requirements:  # a removal only
        return (*commands, *(by.remove(rest, intent.copies, facts) if rest else ()))
    return (*commands, *by.render(intent, rest, facts))


def _conda_packages(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    """Conda packages by their conda names (cudnn, cudatoolkit, cpuonly): conda's, or pixi's."""
    from dldoctor.fixes.installers import conda

    if installer_for(facts) is Installer.PIXI:
        removed = [("pixi", "remove", *intent.remove_first)] if intent.remove_first else []
        added = [("pixi", "add", *intent.requirements)] if intent.requirements else []
        return (*removed, *added)
    removes = conda.remove(list(intent.remove_first), facts) if intent.remove_first else ()
    return (*removes, *conda.install(list(intent.requirements), facts))


def conda_owned(facts: Facts, name: str) -> bool:
    """conda installed it (its INSTALLER says so, or conda-meta lists it): conda removes it."""
    dist = installed(facts, name) or {}
    return (dist.get("installer") or "").strip().lower() == "conda" or bool(dist.get("conda"))


def fix(summary: str, intent: Intent, facts: Facts, automatic: bool = True, notes: str = "") -> Fix:
    """A fix carrying its intent (for the plan to merge and order) and this installer's words."""
    from dldoctor.fixes import intents

    return intents.fix(summary, intent, facts=facts, automatic=automatic, notes=notes)


def note(intent: Intent, facts: Facts, notes: str = "") -> str:
    """What the installer needs done by hand first (pixi: the wheel index in the manifest)."""
    from dldoctor.fixes.installers import pixi

    first = intent.remove_first[0] if intent.remove_first else None
    names = first or (_name(intent.requirements[0]) if intent.requirements else None)
    if installer_for(facts, names) is Installer.PIXI and pixi.note(intent):
        return " ".join(n for n in (pixi.note(intent), notes) if n)
    return notes


def index_options(intent: Intent) -> Command:
    """--index-url / --extra-index-url / --find-links, spelled the same by pip and uv."""
    options: list[str] = []
    if intent.index_url:
        options += ["--index-url", intent.index_url]
    if intent.extra_index_url:
        options += ["--extra-index-url", intent.extra_index_url]
    if intent.find_links:
        options += ["--find-links", intent.find_links]
    return tuple(options)


def build_options(intent: Intent, cache_flag: str) -> Command:
    """A build against the installed framework: its sdist, without isolation or a cached wheel."""
    if not intent.build:
        return ()
    names = tuple(_name(r) for r in intent.requirements)
    binary = tuple(x for n in names for x in ("--no-binary", n))
    return ("--no-build-isolation", cache_flag, *binary)


def _plain_url(url: str | None) -> bool:
    """None, or an https URL of plain characters (it came from the matrix, never from facts)."""
    return url is None or bool(re.fullmatch(r"https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~/+%-]*)?", url))


def source_name(url: str) -> str:
    """A project tool's name for a wheel index: ``…/whl/cu130`` → ``wheels-cu130``."""
    return "wheels-" + os.path.basename(url.rstrip("/"))


def _name(requirement: str) -> str:
    for sep in ("==", ">=", "<=", "~=", "!=", "<", ">", "[", " ", ";"):
        requirement = requirement.split(sep, 1)[0]
    return requirement
