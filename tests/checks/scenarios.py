"""Recorded-facts builders for check tests: a base machine and scenario overrides."""

from __future__ import annotations

import copy
from typing import Any

from dldoctor.facts.model import Facts

BASE: dict[str, Any] = {
    "system": {
        "os": {
            "name": "Linux",
            "distribution": "Ubuntu 24.04 LTS",
            "distribution_id": "ubuntu",
            "distribution_version": "24.04",
            "kernel": "6.8.0",
            "macos_version": None,
        },
        "architecture": "x86_64",
        "cpu": {
            "model": "Intel Xeon",
            "flags": ["avx", "avx2", "fma", "sse4_2"],
            "flags_source": "/proc/cpuinfo",
            "logical_cores": 8,
            "usable_cores": 8,
        },
        "wsl": {"is_wsl": False, "version": None},
        "container": {"kind": None, "evidence": None},
        "memory": {"total_bytes": 64 * 1024**3, "available_bytes": 60 * 1024**3},
        "errors": {},
    },
    "python": {
        "version": "3.11.7",
        "implementation": "CPython",
        "command": "python",
        "executable": "/env/bin/python",
        "prefix": "/env",
        "environment": {"manager": "venv", "name": None, "evidence": "pyvenv.cfg"},
        "marker_environment": {},
    },
    "nvidia": {
        "nvml": {"status": "library_not_found", "error": "NVML Shared Library Not Found"},
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "gpu_count": None,
        "proc_driver": {"text": None, "version": None, "error": "missing"},
    },
    "accelerators": {"pci": {"nvidia": [], "amd": [], "intel": [], "error": None}},
    "cuda": {"toolkits": [], "libraries": {}},
    "packages": {
        "distributions": [],
        "frameworks": {},
        "duplicates": [],
        "module_conflicts": [],
        "unsatisfied": [],
        "nvidia_wheels": [],
    },
    "env": {"variables": {}, "withheld": []},
}

H100 = {
    "index": 0,
    "name": "NVIDIA H100 80GB HBM3",
    "uuid": "GPU-11111111-2222-3333-4444-555555555555",
    "compute_capability": "9.0",
    "memory_total_bytes": 80 * 1024**3,
    "mig": {"current": False, "pending": False},
}


def gpu_machine(count: int = 1, driver: str = "580.65.06", cuda: str = "13.0") -> dict[str, Any]:
    gpus = []
    for i in range(count):
        gpu = dict(H100, index=i, uuid=f"GPU-{i:08d}-2222-3333-4444-555555555555")
        gpus.append(gpu)
    return {
        "nvidia": {
            "nvml": {"status": "ok", "error": None},
            "driver_version": driver,
            "cuda_driver_version": cuda,
            "gpus": gpus,
            "gpu_count": count,
            "proc_driver": {"version": driver},
        }
    }


def dist(name: str, version: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "location": "/env/lib/python3.11/site-packages",
        "installer": extra.pop("installer", "pip"),
        "requires": [],
        "top_level": [],
        **extra,
    }


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_facts(*overrides: dict[str, Any]) -> Facts:
    data = BASE
    for override in overrides:
        data = merge(data, override)
    return Facts.from_dict(data)


def with_packages(
    *dists: dict[str, Any], frameworks: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"packages": {"distributions": list(dists), "frameworks": frameworks or {}}}


def shown_all(fix: Any) -> tuple[str, ...]:
    """A fix's commands as the lines a user sees (each argument vector quoted for a shell)."""
    from dldoctor.fixes.commands import shown

    return tuple(shown(c) for c in fix.commands)
