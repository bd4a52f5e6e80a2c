"""Fixes for building CUDA extensions: the toolkit of torch's CUDA, a host compiler, ninja."""

from __future__ import annotations

import re

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import version_of
from dldoctor.fixes.installers import Install, fix
from dldoctor.model import Fix, Intent

# A path read from facts is shown only when it is plainly a path (it is never run: a person
# pastes these environment settings into their own shell).
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
TOOLKIT_DOWNLOADS = "https://developer.nvidia.com/cuda-toolkit-archive"


def _setting(variable: str, value: str) -> tuple[tuple[str, ...], Intent]:
    return ("export", f"{variable}={value}"), Intent(action="set", variable=variable, value=value)


def toolkit_for(facts: Facts, cuda: str) -> Fix:
    """CUDA_HOME at an installed toolkit of torch's CUDA (same minor, else same major), or
    where to get one."""
    wanted = version_of(cuda)
    toolkits = [
        t for t in facts.cuda.get("toolkits") or [] if isinstance(t, dict) and t.get("nvcc")
    ]
    best = None
    for tk in toolkits:
        found = version_of(tk.get("version"))
        if wanted is None or found is None or found.major != wanted.major:
            continue
        if best is None or found.release[:2] == wanted.release[:2]:
            best = tk
    path = str((best or {}).get("path") or "")
    if best and _PLAIN_PATH.fullmatch(path):
        command, intent = _setting("CUDA_HOME", path)
        return Fix(
            f"Build with the CUDA {best.get('version')} toolkit at {path}: set CUDA_HOME to it "
            "and put its bin/ first on PATH.",
            (command, ("export", f"PATH={path}/bin:$PATH")),
            intents=(intent,),
            notes="Run these in the shell that builds (they are not run for you).",
        )
    return Fix(
        f"Install the CUDA {cuda} toolkit (nvcc and headers), then set CUDA_HOME to it.",
        notes=f"NVIDIA's installers: {TOOLKIT_DOWNLOADS}; in conda: the cuda-toolkit package "
        f"of version {cuda} from the nvidia channel.",
    )


def compiler(facts: Facts, gcc_max: int | None) -> Fix:
    """CC set to a GCC this nvcc accepts (the newest it names)."""
    if gcc_max is None:
        return Fix(
            "Install a C/C++ compiler (gcc and g++): nvcc needs a host compiler.",
            notes="Debian/Ubuntu: build-essential; RHEL/Fedora: gcc-c++.",
        )
    command, intent = _setting("CC", f"gcc-{gcc_max}")
    return Fix(
        f"Build with GCC {gcc_max} (or older): install it and set CC (and CXX) to it for the build.",
        (command, ("export", f"CXX=g++-{gcc_max}")),
        intents=(intent, Intent(action="set", variable="CXX", value=f"g++-{gcc_max}")),
        notes=f"Debian/Ubuntu: the gcc-{gcc_max} and g++-{gcc_max} packages. nvcc's "
        "-allow-unsupported-compiler (in NVCC_APPEND_FLAGS) skips the check at your own risk.",
    )


def ninja(facts: Facts) -> Fix:
    return fix(
        "Install ninja into this environment (and keep the environment's bin/ on PATH).",
        Install(("ninja",)),
        facts,
    )


def python_headers(version: str) -> Fix:
    name = f"python{version}-dev" if version else "python3-dev"
    return Fix(
        f"Install Python {version or '3'}'s development headers (Python.h).",
        notes=f"Debian/Ubuntu: {name}; RHEL/Fedora: python{version or '3'}-devel; pyenv and "
        "conda Pythons ship them (reinstall that Python).",
    )


def max_jobs(jobs: int, why: str) -> Fix:
    command, intent = _setting("MAX_JOBS", str(jobs))
    return Fix(
        f"Limit the build to {jobs} parallel compile jobs ({why}).",
        (command,),
        intents=(intent,),
        notes="Run it in the shell that builds (it is not run for you).",
    )


def nvcc_threads(threads: int, why: str) -> Fix:
    command, intent = _setting("NVCC_THREADS", str(threads))
    max_command, max_intent = _setting("MAX_JOBS", "1")
    return Fix(
        f"Build one job at a time with {threads} nvcc thread(s) ({why}).",
        (command, max_command),
        intents=(intent, max_intent),
        notes="Run them in the shell that builds (they are not run for you).",
    )
