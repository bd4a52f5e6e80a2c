"""Boundary helpers: the versions at, just below and just above a threshold the matrix states."""

from __future__ import annotations

from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.checks.scenarios import H100, dist, with_packages


def _parts(text: str) -> list[str]:
    return text.split(".")


def _same_width(number: int, like: str) -> str:
    """Keep a component's zero padding ("06" stays two digits), as drivers write them."""
    return str(number).zfill(len(like)) if like.startswith("0") else str(number)


def above(text: str) -> str:
    """The next version up in the last written component: "580.65.06" -> "580.65.07"."""
    parts = _parts(text)
    parts[-1] = _same_width(int(parts[-1]) + 1, parts[-1])
    return ".".join(parts)


def below(text: str) -> str:
    """The version just below, as written: "580.65.06" -> "580.65.05", "2.10" -> "2.9.99"."""
    parts = _parts(text)
    if int(parts[-1]) > 0:
        parts[-1] = _same_width(int(parts[-1]) - 1, parts[-1])
        return ".".join(parts)
    if len(parts) == 1:
        raise ValueError(f"nothing below {text}")
    return below(".".join(parts[:-1])) + ".99"


def around(text: str) -> list[str]:
    """At, just below and just above a threshold."""
    return [below(text), text, above(text)]


def spec_edges(spec: str | SpecifierSet) -> list[str]:
    """Every version at or next to an edge of a version range (">=3.9,<3.13": 3.8.99, 3.9, ...)."""
    edges: set[str] = set()
    for item in SpecifierSet(str(spec)):
        edges.update(around(item.version.replace(".*", "")))
    return sorted(edges, key=Version)


def gpus(*specs: tuple[str, str]) -> list[dict[str, Any]]:
    """NVML's GPU list: one entry per (name, compute capability), indexed in order."""
    return [
        dict(H100, index=i, name=name, compute_capability=cc, uuid=f"GPU-{i:08d}-0000-0000-0000")
        for i, (name, cc) in enumerate(specs)
    ]


def machine(driver: str, cuda: str | None, *gpu_specs: tuple[str, str]) -> dict[str, Any]:
    listed = gpus(*gpu_specs) if gpu_specs else gpus(("NVIDIA H100 80GB HBM3", "9.0"))
    return {
        "nvidia": {
            "nvml": {"status": "ok", "error": None},
            "driver_version": driver,
            "cuda_driver_version": cuda,
            "gpus": listed,
            "gpu_count": len(listed),
            "proc_driver": {"version": driver},
        }
    }


def windows() -> dict[str, Any]:
    return {"system": {"os": {"name": "Windows", "distribution_id": None}}}


def wsl() -> dict[str, Any]:
    """Linux under WSL 2: its driver is the Windows host's."""
    return {
        "system": {
            "os": {"name": "Linux", "distribution_id": "ubuntu"},
            "wsl": {"is_wsl": True, "version": 2},
        }
    }


def torch(version: str, cuda: str | None = None, hip: str | None = None) -> dict[str, Any]:
    return with_packages(
        dist("torch", version),
        frameworks={
            "torch": {
                "distributions": [{"name": "torch", "version": version}],
                "build": {"cuda": cuda, "hip": hip},
            }
        },
    )


def jax_plugin(cuda_major: str, version: str = "0.10.2") -> dict[str, Any]:
    name = f"jax-cuda{cuda_major}-plugin"
    return with_packages(
        dist("jax", version),
        dist("jaxlib", version),
        dist(name, version),
        frameworks={
            "jax": {
                "distributions": [{"name": "jaxlib", "version": version}, {"name": name}],
                "build": {
                    "jaxlib": version,
                    "plugins": [
                        {"name": name, "version": version, "backend": "cuda", "major": cuda_major}
                    ],
                },
            }
        },
    )


def tensorflow_gpu(version: str, cuda: str, cudnn: str) -> dict[str, Any]:
    return with_packages(
        dist("tensorflow", version),
        frameworks={
            "tensorflow": {
                "distributions": [{"name": "tensorflow", "version": version}],
                "build": {"is_cuda_build": True, "cuda_version": cuda, "cudnn_version": cudnn},
            }
        },
    )
