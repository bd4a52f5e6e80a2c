"""What the machine running the suite has, found by looking, never assumed.

Tests of "this machine" expect what these say (a CUDA toolkit without a driver means DD101;
no toolkit means no finding), and skip with the reason where the machine is of a kind they do
not describe (an NVIDIA driver is loaded). Other interpreters are found by globbing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from packaging.version import Version

# Where dldoctor.facts.cuda looks for toolkits (its own constants are the code under test).
_TOOLKIT_PLACES = ("/usr/local/cuda", "/usr/local/cuda-*", "/opt/cuda")
_TOOLKIT_ENV = ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT")


def _is_toolkit(folder: str) -> bool:
    return any(
        os.path.exists(os.path.join(folder, name))
        for name in ("version.json", "version.txt", "bin/nvcc")
    )


@cache
def cuda_toolkit_installed() -> bool:
    """A CUDA toolkit in the usual places, named by CUDA_HOME and the like, or nvcc on PATH."""
    places = [p for pattern in _TOOLKIT_PLACES for p in glob.glob(pattern)]
    places += [os.environ[v] for v in _TOOLKIT_ENV if os.environ.get(v)]
    return any(_is_toolkit(p) for p in places) or _nvcc_answers()


def _nvcc_answers() -> bool:
    """An nvcc on PATH that runs (a wrapper whose toolkit is gone is no toolkit)."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return False
    try:
        return subprocess.run([nvcc, "--version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def nvidia_driver_loaded() -> bool:
    return os.path.exists("/proc/driver/nvidia/version")


NO_DRIVER_REASON = "an NVIDIA driver is loaded here: this test describes a machine without one"


def expected_static_codes() -> list[str]:
    """The findings `dldoctor check` makes on a driverless machine with this suite's venv."""
    return ["DD101"] if cuda_toolkit_installed() else []


def python_version(python: str) -> Version | None:
    try:
        out = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        return Version(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


@cache
def other_pythons(minimum: str = "3.8") -> tuple[str, ...]:
    """The oldest and the newest CPython >= ``minimum`` on this machine other than this one
    (pyenv's versions, the system's python3.N), by real path; empty when there is none."""
    patterns = [
        os.path.join(
            os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")), "versions/*/bin/python3"
        ),
        "/usr/bin/python3.*",
        "/usr/local/bin/python3.*",
    ]
    mine = os.path.realpath(sys.executable)
    found: dict[str, tuple[Version, str]] = {}
    for path in sorted({p for pattern in patterns for p in glob.glob(pattern)}):
        real = os.path.realpath(path)
        if real == mine or not os.access(real, os.X_OK) or real.endswith("-config"):
            continue
        version = python_version(real)
        if version is None or version < Version(minimum):
            continue
        found.setdefault(real, (version, path))
    ordered = sorted(found.values())
    if not ordered:
        return ()
    return tuple(dict.fromkeys([ordered[0][1], ordered[-1][1]]))


def fresh_venv(folder: Path) -> str:
    """A venv made from the Python running the suite (always present): another interpreter."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    return str(folder / "bin" / "python")
