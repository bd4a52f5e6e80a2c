"""Real environments of the frameworks the test venv cannot hold (MindSpore needs NumPy 1.x).

Built once per machine with pip from the package index and kept in the user's cache
(``$XDG_CACHE_HOME/dldoctor-tests/``): MindSpore's CPU wheel is 2.8 GB installed, too much to
build per test session. A machine where pip cannot install them skips those tests, saying why.
Overlays are cheap venvs of their own whose ``.pth`` file adds a cached environment's
site-packages after their own, so one package can be swapped (NumPy 2 under MindSpore) without
a second copy of the framework.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dldoctor-tests"


def _site(venv: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    return Path(out.stdout.strip())


def _build(venv: Path, requirements: list[str], timeout_s: float) -> str | None:
    """Create venv with requirements; None, or why it could not be built."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-input"]
    try:
        run = subprocess.run(
            [*pip, *requirements], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return f"pip install {' '.join(requirements)} took over {timeout_s:.0f} s"
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"pip install {' '.join(requirements)} failed: {last}"
    return None


def cached_env(name: str, requirements: list[str], timeout_s: float = 900) -> Path:
    """The venv ``name`` with exactly these requirements, built if missing; skips the test when
    pip cannot build it here. Safe across pytest-xdist workers and concurrent sessions."""
    folder = _cache() / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    stamp = folder / "dldoctor-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    with open(folder.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and stamp.read_text() == wanted):
            why = _build(folder, requirements, timeout_s)
            if why is not None:
                pytest.skip(why)
            stamp.write_text(wanted)
    return folder / "bin" / "python"


def overlay(base_python: Path, folder: Path, requirements: list[str], hide: str) -> Path:
    """A venv at folder with requirements of its own, seeing base's packages after them, all
    but the distribution ``hide`` (the one the requirements replace: a real environment has it
    once). base's packages are seen through a folder of symbolic links, one per entry."""
    why = _build(folder, requirements, 600)
    if why is not None:
        pytest.skip(why)
    seen = folder / "base-site"
    seen.mkdir()
    # pip and setuptools: the overlay has its own (every venv does).
    names = "|".join(re.escape(n) for n in (hide, "pip", "setuptools", "_distutils_hack"))
    hidden = re.compile(rf"^({names})([-_.].*)?$", re.IGNORECASE)
    for entry in _site(base_python.parent.parent).iterdir():
        if not hidden.match(entry.name) and entry.name not in (
            "__pycache__",
            "distutils-precedence.pth",
        ):
            (seen / entry.name).symlink_to(entry)
    (_site(folder) / "zz-dldoctor-overlay.pth").write_text(f"{seen}\n")
    return folder / "bin" / "python"
