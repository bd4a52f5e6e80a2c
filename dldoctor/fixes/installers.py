"""Render an install intent as exact commands for the installer this environment really uses."""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import installed, python_command


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


def render(intent: Install, facts: Facts) -> tuple[str, ...]:
    """The commands, in order, for the installer this environment uses."""
    first = intent.remove_first[0] if intent.remove_first else None
    target = first or _name(intent.requirements[0])
    tool = installer_for(facts, target)
    python = python_command(facts)
    reqs = " ".join(shlex.quote(r) for r in intent.requirements)
    if tool is Installer.POETRY:
        return _poetry(intent, reqs)
    commands: list[str] = []
    conda_owned = [
        name
        for name in intent.remove_first
        if (installed(facts, name) or {}).get("installer") == "conda"
    ]
    if conda_owned:
        commands.append(f"conda remove --force -y {' '.join(conda_owned)}")
    pip_owned = [n for n in intent.remove_first if n not in conda_owned]
    index = ""
    if intent.index_url:
        index += f" --index-url {intent.index_url}"
    if intent.extra_index_url:
        index += f" --extra-index-url {intent.extra_index_url}"
    if tool is Installer.UV:
        target_python = f" --python {shlex.quote(python)}" if python != "python" else ""
        if pip_owned:
            commands.append(f"uv pip uninstall{target_python} {' '.join(pip_owned)}")
        again = " --reinstall" if intent.reinstall else ""
        commands.append(f"uv pip install{target_python}{again} {reqs}{index}")
        return tuple(commands)
    if pip_owned:
        commands.append(f"{python} -m pip uninstall -y {' '.join(pip_owned)}")
    again = " --force-reinstall" if intent.reinstall else ""
    commands.append(f"{python} -m pip install{again} {reqs}{index}")
    return tuple(commands)


def _poetry(intent: Install, reqs: str) -> tuple[str, ...]:
    commands = [f"poetry remove {name}" for name in intent.remove_first]
    if intent.index_url:
        source = intent.index_url.rstrip("/").rsplit("/", 1)[-1]
        source_name = f"wheels-{source}"
        commands.append(f"poetry source add --priority=explicit {source_name} {intent.index_url}")
        commands.append(f"poetry add {reqs} --source {source_name}")
    else:
        commands.append(f"poetry add {reqs}")
    return tuple(commands)


def _name(requirement: str) -> str:
    for sep in ("==", ">=", "<=", "~=", "!=", "<", ">", "[", " ", ";"):
        requirement = requirement.split(sep, 1)[0]
    return requirement
