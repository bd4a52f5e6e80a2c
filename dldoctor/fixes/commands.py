"""Commands as data: argument vectors naming the judged interpreter, shown quoted, never a shell line."""

from __future__ import annotations

import os
import re
import shlex

from dldoctor.facts.model import Facts

Command = tuple[str, ...]  # an argument vector: argv[0] is the program, nothing is re-parsed

# PEP 508 names, extras and version specifiers, and nothing else: no URL (``name @ url``), no
# marker, no space, no leading dash. A name read from facts or a report that is not one of these
# never becomes an argument (pip would take "--index-url=…" or "-r file" as an option).
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+"
_REQUIREMENT = re.compile(rf"{_NAME}(?:\[{_NAME}(?:,{_NAME})*\])?(?:{_SPEC}(?:,{_SPEC})*)?")
_DISTRIBUTION = re.compile(_NAME)  # both used with fullmatch: "$" would let a final "\n" in


# PowerShell's own commands (fixes.shell renders them on Windows): shown with its quoting.
POWERSHELL = ("Set-Item", "Remove-Item")
_PLAIN_PS = re.compile(r"[A-Za-z0-9_.:/\\-]+")


def shown(command: Command) -> str:
    """The command as one line to paste into its shell, every argument quoted as needed: POSIX
    sh, or PowerShell (single quotes, ' doubled) for PowerShell's own commands."""
    if command and command[0] in POWERSHELL:
        return " ".join(
            a if _PLAIN_PS.fullmatch(a) else "'" + a.replace("'", "''") + "'" for a in command
        )
    return shlex.join(command)


def safe_requirement(requirement: str) -> bool:
    """A plain pinned requirement ("torch==2.13.0+cu130", "jax[cuda13]==0.10.2", "numpy<2")."""
    return bool(_REQUIREMENT.fullmatch(requirement))


def safe_name(name: str) -> bool:
    """A plain distribution name ("tensorflow-cpu"), fit to be one argument of an uninstall."""
    return bool(_DISTRIBUTION.fullmatch(name))


def interpreter(facts: Facts) -> str:
    """The judged interpreter by absolute path: the --python path, else its own sys.executable.

    "python" only when neither is known (an old or partial report): a name for a person to
    read, which `fix --apply` refuses to run (it would be whatever ``python`` PATH finds first).
    """
    command = facts.python.get("command")
    if isinstance(command, str) and command != "python" and os.path.isabs(command):
        return command
    executable = facts.python.get("executable")
    if isinstance(executable, str) and os.path.isabs(executable):
        return executable
    return "python"


def environment_prefix(facts: Facts) -> str | None:
    """The judged environment's sys.prefix (what conda's --prefix names), if known."""
    prefix = facts.python.get("prefix")
    return prefix if isinstance(prefix, str) and os.path.isabs(prefix) else None


def acts_on(command: Command, facts: Facts) -> bool:
    """Whether the command names the judged environment itself, so running it cannot change another.

    ``python -m pip`` by the interpreter's absolute path, ``uv pip --python PATH``, ``conda
    --prefix PREFIX``. Anything else (poetry, which acts on the project in the working
    directory; a command for a person, like a reboot) is never run by ``fix --apply``.
    """
    python = interpreter(facts)
    if not os.path.isabs(python) or not command:
        return False
    if command[0] == python:
        return command[1:3] == ("-m", "pip")
    if command[:2] == ("uv", "pip"):
        return _option(command, "--python") == python
    prefix = environment_prefix(facts)
    if command[0] in ("conda", "mamba") and prefix:
        return _option(command, "--prefix") == prefix
    return False


def _option(command: Command, name: str) -> str | None:
    for flag, value in zip(command, command[1:]):
        if flag == name:
            return value
    return None


def rerun(facts: Facts, *options: str) -> Command:
    """``dldoctor check`` again on the same interpreter: ``--python PATH`` kept when it was used."""
    command = facts.python.get("command")
    again = ("--python", command) if isinstance(command, str) and command != "python" else ()
    return ("dldoctor", "check", *again, *options)
