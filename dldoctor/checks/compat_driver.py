"""Compatibility checks of the NVIDIA driver against what the frameworks were built for."""

from __future__ import annotations

from packaging.version import Version

from dldoctor.checks.cuda_builds import CudaBuild, cuda_builds
from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes.driver import install_driver
from dldoctor.fixes.gpu_builds import torch_build_for_driver
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Intent, Severity


def _floors(build: CudaBuild, facts: Facts, matrix: Matrix) -> tuple[str | None, str | None, str]:
    """(full-compatibility minimum, minor-version-compatibility minimum, row used) for a build."""
    key = "windows" if q.windows_driver(facts) else "linux"  # native Windows and WSL
    if build.framework == "jax":  # the plugin states its own floor per CUDA major
        plugin = next(
            (p for p in matrix.tables["jax"].get("plugin", []) if p["cuda"] == build.cuda), None
        )
        floor = plugin["min_driver_linux"] if plugin and key == "linux" else None
        return floor, floor, f"jax.toml plugin cuda{build.cuda}"
    full = matrix.toolkit_floor(build.cuda) if "." in build.cuda else None
    major = matrix.major_floor(build.cuda)
    return (
        getattr(full, key) if full else None,
        getattr(major, key) if major else None,
        f"cuda_drivers.toml CUDA {build.cuda}",
    )


@check(
    "DD501",
    "driver-too-old-for-build",
    "The NVIDIA driver is older than a framework's CUDA build needs",
    Area.NVIDIA,
)
def driver_too_old(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework was built with a CUDA release newer than the loaded driver supports.

    Why: CUDA initialisation fails ("CUDA driver version is insufficient for CUDA runtime
    version") and the framework silently falls back to the CPU. Between the major's first driver
    and the release's own minimum it runs under minor-version compatibility, with a limited
    feature set: PTX compiled by a newer toolkit cannot be JIT-compiled by the older driver.

    Fix: upgrade the driver, or install the framework's build for a CUDA the driver supports.
    """
    if need_value(q.driver_loaded(facts), q.DRIVER_FACTS) is False:
        raise NotApplicable("no NVIDIA driver loaded")
    shown = need_value(q.driver_version(facts), "nvidia.driver_version")  # as the driver wrote it
    driver = need_value(q.version_of(shown), "nvidia.driver_version")
    verdicts = []
    for build in cuda_builds(facts, matrix):
        full, mvc, row = _floors(build, facts, matrix)
        if full is None and mvc is None:
            continue
        evidence = {
            "framework": build.framework,
            "distribution": build.distribution,
            "version": build.version,
            "built_with_cuda": build.cuda,
            "driver": shown,
            "driver_needed": full,
            "driver_needed_mvc": mvc,
            "matrix_row": row,
        }
        if full and driver >= Version(full):
            continue
        if mvc and driver >= Version(mvc):
            if full is None:  # only the CUDA major is known: every minor of it runs on this driver
                continue
            verdicts.append(
                Verdict(
                    Severity.WARNING,
                    f"{build.label} {build.version} is built with CUDA {build.cuda}; driver {shown} runs it only "
                    f"under minor-version compatibility (CUDA {build.cuda} wants {full} or newer)",
                    evidence=evidence,
                    fixes=(install_driver(facts, full, f"CUDA {build.cuda} without limits"),),
                    detail="PTX JIT compilation of code built with the newer toolkit fails on the older driver.",
                )
            )
            continue
        fixes = [
            install_driver(facts, full or mvc, f"{build.label}'s CUDA {build.cuda} build needs it")
        ]
        if build.framework == "torch":
            alternative = torch_build_for_driver(facts, matrix)
            if alternative:
                fixes.append(alternative)
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"Driver {shown} is too old for {build.label} {build.version} (built with CUDA {build.cuda}, "
                f"needs driver {full or mvc} or newer): CUDA will not initialise",
                evidence=evidence,
                fixes=tuple(fixes),
            )
        )
    return verdicts


@check(
    "DD502",
    "wsl-without-libcuda",
    "WSL without the GPU passthrough library /usr/lib/wsl/lib/libcuda.so",
    Area.NVIDIA,
)
def wsl_without_libcuda(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: this is WSL and /usr/lib/wsl/lib/libcuda.so, the host driver's bridge, is missing.

    Why: under WSL the GPU is reached only through the Windows driver's libcuda; without it
    every framework reports no GPU. A Linux NVIDIA driver installed inside WSL breaks it further.

    Fix: install or update the NVIDIA driver on Windows and update WSL; never install a Linux
    display driver inside WSL.
    """
    if not need(facts, "system.wsl.is_wsl"):
        raise NotApplicable("not WSL")
    libcuda = facts.nvidia.get("libcuda") or {}
    if need(facts, "nvidia.libcuda.wsl_libcuda"):
        return []
    return [
        Verdict(
            Severity.ERROR,
            "WSL without /usr/lib/wsl/lib/libcuda.so: no GPU passthrough from the Windows driver",
            evidence={"wsl": facts.system.get("wsl"), "libcuda_paths": libcuda.get("paths")},
            fixes=(
                fix(
                    "Install or update the NVIDIA driver on Windows (it brings WSL's libcuda), then "
                    "update WSL from a Windows prompt.",
                    Intent(action="wsl-update"),
                    facts=facts,
                ),
            ),
        )
    ]
