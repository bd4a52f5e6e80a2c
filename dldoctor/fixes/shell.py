"""An environment variable set or unset in the user's shell: POSIX sh, or PowerShell on Windows.

A child process cannot change its parent's environment, so these are always done by hand, in
the shell (or the profile, job script or activation script) that sets the variable.
"""

from __future__ import annotations

import re

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command
from dldoctor.model import Intent

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a value read from facts: never a newline in a command


def windows(facts: Facts) -> bool:
    """Native Windows (not WSL, which is Linux and has a POSIX shell)."""
    return (facts.system.get("os") or {}).get("name") == "Windows"


def render(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    """``export NAME=VALUE`` / ``unset NAME``; on Windows PowerShell's ``Set-Item Env:NAME VALUE``
    / ``Remove-Item Env:NAME``. Nothing when the name or value is not plain."""
    name = intent.variable or ""
    if not _VARIABLE.fullmatch(name):
        return ()
    if intent.action == "unset":
        return (("Remove-Item", f"Env:{name}"),) if windows(facts) else (("unset", name),)
    value = intent.value
    if value is None or _CONTROL.search(value):
        return ()
    return (
        (("Set-Item", f"Env:{name}", value),)
        if windows(facts)
        else (("export", f"{name}={value}"),)
    )


def note(intent: Intent, facts: Facts) -> str:
    """Where the change must also be made for it to last."""
    name = intent.variable or "the variable"
    if windows(facts):
        cmd = f"set {name}=" + ("" if intent.action == "unset" else (intent.value or ""))
        return (
            f"In PowerShell; in cmd: {cmd}. To keep it, change {name} under System Properties > "
            "Environment Variables (or where your job script sets it)."
        )
    return (
        f"This changes the current shell only: also change {name} where it is set (~/.bashrc, "
        "the job script, the environment's activation script, the container image)."
    )
