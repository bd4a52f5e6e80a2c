"""Whether facts describe the interpreter `fix --apply` would change: a report may come from anywhere."""

from __future__ import annotations

import os
import sys

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import environment_prefix, interpreter


def judged(python: str | None) -> tuple[str, str]:
    """(interpreter, prefix) this `fix` acts on: ``--python`` PATH, else the one dldoctor runs in.

    Paths are made absolute, never resolved through symlinks: a venv's ``bin/python`` is a link
    to the base interpreter, and resolving it would name the base installation instead.
    """
    if python is None:
        return os.path.abspath(sys.executable), sys.prefix
    path = os.path.abspath(python)
    return path, os.path.dirname(os.path.dirname(path))  # PREFIX/bin/python (venv, conda, /usr)


def foreign(facts: Facts, python: str | None) -> str | None:
    """Why the facts' interpreter is not the judged one (a report from elsewhere); None if it is.

    The same file in the same directory (``bin/python`` and ``bin/python3`` of one venv are
    one environment; the base interpreter a venv links to is another), and the same prefix.
    """
    theirs, ours = interpreter(facts), judged(python)
    if not os.path.isabs(theirs):
        return "the report does not name its interpreter by absolute path"
    if not _same(theirs, ours[0]) or not _same(os.path.dirname(theirs), os.path.dirname(ours[0])):
        exists = (
            "is not the interpreter judged here"
            if os.path.exists(theirs)
            else "does not exist here"
        )
        return f"the report's interpreter {theirs} {exists} ({ours[0]})"
    prefix = environment_prefix(facts)
    if prefix is not None and not _same(prefix, ours[1]):
        return f"the report's environment {prefix} is not this interpreter's ({ours[1]})"
    return None


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
