"""`nvcc --version` (the CUDA toolkit on PATH) and `cat /proc/driver/nvidia/version` (the kernel module loaded)."""

from __future__ import annotations

import re

from dldoctor.triage.partial import Partial

_NVCC = re.compile(
    r"Cuda compilation tools, release (?P<release>\d+\.\d+), V(?P<version>\d+\.\d+\.\d+)"
)
_NVCC_PATH = re.compile(r"(?P<path>(?:/[\w.+-]+)+)/bin/nvcc\b")
_NVRM = re.compile(
    r"NVRM version: NVIDIA UNIX (?:Open Kernel Module for )?\S+ (?:Kernel Module\s+)?(?P<version>\d+\.\d+(?:\.\d+)?)"
)


def parse(lines: list[str]) -> list[Partial]:
    return [p for p in (_nvcc(lines), _proc(lines)) if p is not None]


def _nvcc(lines: list[str]) -> Partial | None:
    found = next((m for m in map(_NVCC.search, lines) if m), None)
    if found is None:
        return None
    partial = Partial("nvcc --version")
    toolkit: dict[str, object] = {
        "version": found.group("version"),
        "version_source": "nvcc (pasted)",
    }
    where = next((m for m in map(_NVCC_PATH.search, lines) if m), None)
    if where:  # "$ /usr/local/cuda-11.8/bin/nvcc -V": the prompt named the toolkit
        toolkit["path"] = where.group("path")
    # One toolkit, the one on PATH: a selection, so it proves one is installed, not that no other is.
    partial.put("cuda.toolkits", [toolkit])
    return partial


def _proc(lines: list[str]) -> Partial | None:
    line = next((line.strip() for line in lines if "NVRM version:" in line), None)
    found = _NVRM.search(line) if line else None
    if line is None or found is None:
        return None
    partial = Partial("/proc/driver/nvidia/version")
    partial.put(
        "nvidia.proc_driver",
        {
            "text": line[:300],
            "version": found.group("version"),
            "open_kernel_module": "Open Kernel Module" in line,
            "error": None,
        },
    )
    partial.put("nvidia.kernel_module.loaded", True)  # the file exists only while it is loaded
    partial.put("nvidia.kernel_module.version", found.group("version"))
    return partial
