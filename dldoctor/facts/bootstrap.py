"""Run the gatherer in another interpreter, after a first check every Python can parse: its version."""

from __future__ import annotations

import os
import re
from typing import Any

# The oldest Python dldoctor/facts/interpreter.py and the probe harness run on (their syntax and
# standard library): frameworks supported 3.6 until 2021-2022, so environments of it still exist.
MIN_PYTHON = (3, 6)

# Runs first in the other interpreter, in syntax that Python 2 and every Python 3 parse: an old
# interpreter answers with one line naming its version instead of a SyntaxError from the
# gatherer's source. A new enough one runs the source (argv[1]) as __main__ with the arguments.
BOOT = (
    "import sys\n"
    "if tuple(sys.version_info[:2]) < " + repr(MIN_PYTHON) + ":\n"
    "    sys.stdout.write('dldoctor-too-old %d.%d.%d\\n' % tuple(sys.version_info[:3]))\n"
    "    sys.exit(0)\n"
    "source = sys.argv.pop(1)\n"
    "exec(compile(source, 'dldoctor-gatherer', 'exec'), {'__name__': '__main__'})\n"
)
_TOO_OLD = re.compile(r"^dldoctor-too-old (\d+\.\d+\.\d+)\s*$")


def command(python: str, source: str, arguments: str) -> list[str]:
    return [python, "-c", BOOT, source, arguments]


def too_old(stdout: str) -> str | None:
    """The version an interpreter too old for the gatherer answered with, else None."""
    match = _TOO_OLD.match(stdout[:200])
    return match.group(1) if match else None


def too_old_facts(version: str, python: str) -> dict[str, Any]:
    """The python and packages sections for an interpreter too old to gather in: all unknown but
    its version (dldoctor/facts/known.py: null is unknown), and why."""
    minimum = ".".join(map(str, MIN_PYTHON))
    why = f"gatherer: Python {version} is too old for dldoctor's gatherer (needs {minimum}+)"
    python_facts: dict[str, Any] = dict.fromkeys(_PYTHON_KEYS)
    python_facts.update(version=version, command=os.path.abspath(python), errors=[why])
    packages: dict[str, Any] = dict.fromkeys(_PACKAGES_KEYS)
    packages["errors"] = [f"distributions: not read (Python {version} is too old for the gatherer)"]
    return {"python": python_facts, "packages": packages}


_PYTHON_KEYS = (
    "version", "implementation", "executable", "prefix", "base_prefix", "machine", "bits",
    "free_threaded", "environment", "pip_version", "marker_environment", "user_site",
    "user_site_enabled", "sys_path",
)  # fmt: skip
_PACKAGES_KEYS = (
    "distributions", "frameworks", "nvidia_wheels", "nvidia_pins", "duplicates",
    "module_conflicts", "unsatisfied",
)  # fmt: skip
