"""The other Python interpreters on this machine (pyenv's), found by globbing, never by fixed path.

A version that is missing here is a skipped test with the reason, not a failure: machines differ.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest


@lru_cache(maxsize=1)
def _root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30)
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip())
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def python(minor: str) -> str | None:
    """The newest pyenv interpreter of a minor version ("3.6", "2.7"), or None."""
    root = _root()
    if root is None:
        return None
    found = []
    for folder in (root / "versions").glob(f"{minor}.*"):
        parts = folder.name.split(".")
        exe = folder / "bin" / ("python3" if minor.startswith("3") else "python")
        if len(parts) == 3 and parts[2].isdigit() and exe.exists():
            found.append((int(parts[2]), str(exe)))
    return max(found)[1] if found else None


def params(*minors: str) -> list:
    """pytest parameters, one per minor version; an absent one is skipped, saying which."""
    out = []
    for minor in minors:
        exe = python(minor)
        mark = pytest.mark.skipif(exe is None, reason=f"no Python {minor} under pyenv here")
        out.append(pytest.param(exe or f"<no python {minor}>", id=f"py{minor}", marks=mark))
    return out
