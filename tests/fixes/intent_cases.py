"""Each kind of intent on each platform and installer it renders differently for: the golden cases.

`python -m tests.fixes.golden_plans` writes their rendering to tests/data/golden_plans/intents.txt.
"""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import shown
from dldoctor.fixes.intents import fix
from dldoctor.model import Intent
from tests.checks.scenarios import dist, make_facts, with_packages


def _os(name: str | None, distro: str | None = None, wsl: bool = False) -> dict:
    return {
        "system": {
            "os": {"name": name, "distribution_id": distro},
            "wsl": {"is_wsl": wsl, "version": 2 if wsl else False},
        }
    }


PLATFORMS: dict[str, Facts] = {
    "ubuntu": make_facts(_os("Linux", "ubuntu")),
    "fedora": make_facts(_os("Linux", "fedora")),
    "alpine": make_facts(_os("Linux", "alpine")),
    "gentoo (no known package manager)": make_facts(_os("Linux", "gentoo")),
    "wsl2 ubuntu": make_facts(_os("Linux", "ubuntu", wsl=True)),
    "windows": make_facts(
        _os("Windows"),
        {"python": {"executable": "C:\\env\\Scripts\\python.exe", "prefix": "C:\\env"}},
    ),
    "macos": make_facts(_os("Darwin")),
    "unknown OS (an old report)": make_facts(_os(None)),
}


def _env(manager: str, prefix: str, installer: str = "conda") -> Facts:
    python = f"{prefix}/bin/python"
    section = {"command": python, "executable": python, "prefix": prefix}
    section["environment"] = {"manager": manager, "name": None, "evidence": "test"}
    return make_facts(
        {"python": section}, with_packages(dist("torch", "2.8.0", installer=installer))
    )


ENVIRONMENTS: dict[str, Facts] = {
    "conda env": _env("conda", "/opt/conda/envs/train"),
    "mamba env": _env("mamba", "/opt/conda/envs/train"),
    "pixi env": _env("conda", "/home/u/proj/.pixi/envs/default"),
}

# (what, intents, where it renders differently)
CASES: list[tuple[str, tuple[Intent, ...], dict[str, Facts]]] = [
    ("unset a variable", (Intent(action="unset", variable="CUDA_VISIBLE_DEVICES"),), PLATFORMS),
    (
        "set a variable",
        (Intent(action="set", variable="CUDA_VISIBLE_DEVICES", value="0,1"),),
        PLATFORMS,
    ),
    (
        "set a variable to a value with spaces and quotes",
        (Intent(action="set", variable="LD_LIBRARY_PATH", value="/opt/my libs:/it's"),),
        {k: PLATFORMS[k] for k in ("ubuntu", "windows")},
    ),
    (
        "reload kernel modules",
        (
            Intent(
                action="reload-module",
                names=("nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia"),
            ),
        ),
        PLATFORMS,
    ),
    (
        "reload one kernel module",
        (Intent(action="reload-module", names=("nvidia_uvm",)),),
        {"ubuntu": PLATFORMS["ubuntu"]},
    ),
    (
        "rebuild the kernel module, then reboot",
        (Intent(action="rebuild-module", names=("nvidia",)), Intent(action="reboot")),
        PLATFORMS,
    ),
    ("reboot", (Intent(action="reboot"),), PLATFORMS),
    (
        "system packages",
        (Intent(action="system-package", names=("c-compiler", "python-headers")),),
        PLATFORMS,
    ),
    ("a service", (Intent(action="service", names=("nvidia-persistenced",)),), PLATFORMS),
    ("the kernel log", (Intent(action="diagnose", value="kernel-log"),), PLATFORMS),
    ("the kernel's errors", (Intent(action="diagnose", value="kernel-errors"),), PLATFORMS),
    (
        "dldoctor again",
        (
            Intent(
                action="diagnose",
                value="dldoctor",
                names=("--framework", "torch", "--timeout", "600"),
            ),
        ),
        {"ubuntu": PLATFORMS["ubuntu"]},
    ),
    ("update WSL", (Intent(action="wsl-update"),), {"windows": PLATFORMS["windows"]}),
    ("install WSL", (Intent(action="wsl-install"),), {"windows": PLATFORMS["windows"]}),
    ("the NVIDIA driver", (Intent(action="driver", driver="580.65.06"),), PLATFORMS),
    ("a conda package", (Intent(("cudnn>=9.1,<10",), manager="conda"),), ENVIRONMENTS),
    (
        "conda's CPU pins removed",
        (Intent(action="remove", remove_first=("cpuonly", "pytorch-mutex"), manager="conda"),),
        ENVIRONMENTS,
    ),
]


def rendering() -> str:
    out: list[str] = []
    for what, intents, where in CASES:
        out.append(f"== {what}")
        for name, facts in where.items():
            done = fix(what, *intents, facts=facts)
            how = "automatic" if done.automatic else "by hand"
            out.append(f"-- {name} [{how}]")
            out += [f"   $ {shown(c)}" for c in done.commands] or [
                "   (no command: done from the words)"
            ]
            if done.notes:
                out.append(f"   note: {done.notes}")
        out.append("")
    return "\n".join(out)
