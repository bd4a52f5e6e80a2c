"""Compatibility of the GPUs' architectures with the code each framework build carries."""

from __future__ import annotations

from packaging.version import Version

from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.fixes.torch_builds import torch_build
from dldoctor.matrix import Matrix
from dldoctor.matrix.rules import PTX, coverage
from dldoctor.model import Area, Fix, Severity


def _sm(cc: str) -> str:
    return "sm_" + cc.replace(".", "")


@check(
    "DD503",
    "gpu-arch-not-in-build",
    "A GPU's architecture is missing from a framework build's code",
    Area.FRAMEWORKS,
)
def gpu_arch_not_in_build(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: a GPU's compute capability is neither in a framework build's list of compiled
    architectures nor reachable by the PTX it ships (e.g. an RTX 5090, sm_120, with a CUDA 12.6
    build of torch; a Kepler K80 with any CUDA 12 build; a GPU older than 7.5 with a CUDA 13
    JAX plugin).

    Why: kernels fail with "no kernel image is available for execution on the device", or the
    framework refuses the GPU. A PTX-only match runs, after JIT compilation at first launch.

    Fix: install the build whose architecture list covers every GPU (often the newest CUDA
    variant), or, for old GPUs, the last release that still built for them.
    """
    gpus = [g for g in q.gpus(facts) if g.get("compute_capability")]
    verdicts: list[Verdict | Unjudged] = [
        Unjudged(f"GPU {g.get('index')}", "its compute_capability")
        for g in q.gpus(facts)
        if not g.get("compute_capability")
    ]
    if not gpus and not verdicts:
        # A report or paste that never asked NVML or the PCI bus lists no GPU without showing
        # there is none: the architecture is not judged, rather than passed as "no GPU".
        need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS)
        raise NotApplicable("no NVIDIA GPU listed")
    verdicts += _extension_floors(facts, matrix, gpus)
    for build in cuda_builds(facts, matrix):
        if build.framework == "jax":
            plugin = next(
                (p for p in matrix.tables["jax"].get("plugin", []) if p["cuda"] == build.cuda), None
            )
            needs = str(plugin["min_compute_capability"]) if plugin else ""
            minimum = q.version_of(needs)
            old = [
                g
                for g in gpus
                if minimum and (q.version_of(g["compute_capability"]) or minimum) < minimum
            ]
            for gpu in old:
                verdicts.append(
                    Verdict(
                        Severity.ERROR,
                        f"{build.distribution} needs compute capability {needs} or newer; GPU {gpu['index']} "
                        f"({gpu.get('name')}) is {gpu['compute_capability']}",
                        evidence={
                            "distribution": build.distribution,
                            "gpu": gpu.get("name"),
                            "compute_capability": gpu["compute_capability"],
                            "matrix_row": f"jax.toml plugin cuda{build.cuda}",
                        },
                        fixes=(
                            fix(
                                "Use the CUDA 12 plugin, which supports older GPUs.",
                                Install(
                                    (f"jax[cuda12]=={q.release_of(build.version)}",),
                                    remove_first=("jax-cuda13-plugin", "jax-cuda13-pjrt"),
                                ),
                                facts=facts,
                                automatic=False,
                            ),
                        )
                        if build.cuda == "13"
                        else (),
                    )
                )
            continue
        if build.sm is None:
            continue  # the build's list is unknown: say nothing rather than guess
        for gpu in gpus:
            cc = gpu["compute_capability"]
            how = coverage(build.sm, build.ptx, cc)
            evidence = {
                "framework": build.framework,
                "version": build.version,
                "cuda": build.cuda,
                "gpu": gpu.get("name"),
                "compute_capability": cc,
                "sm": list(build.sm),
                "ptx": list(build.ptx),
                "matrix_row": build.arch_source,
            }
            if how is None:
                remedy = (
                    torch_build(facts, matrix, f"one built for {_sm(cc)}")
                    if build.framework == "torch"
                    else None
                )
                named = _named(gpu, cc, matrix)
                verdicts.append(
                    Verdict(
                        Severity.ERROR,
                        f"{build.label} {build.version} (CUDA {build.cuda}) has no code for GPU {gpu['index']} "
                        f'({named}): "no kernel image is available"',
                        evidence=evidence,
                        fixes=(remedy,) if remedy else (),
                    )
                )
            elif how == PTX:
                verdicts.append(
                    Verdict(
                        Severity.INFO,
                        f"{build.label} {build.version} runs on GPU {gpu['index']} ({_sm(cc)}) through PTX: the "
                        "driver JIT-compiles kernels at first launch (slow start, needs a driver as new as the build)",
                        evidence=evidence,
                    )
                )
    return verdicts


def _named(gpu: dict, cc: str, matrix: Matrix) -> str:
    """A GPU as a title names it: "NVIDIA T4, sm_75 Turing"."""
    arch = matrix.capability(cc)
    return f"{gpu.get('name')}, {_sm(cc)}" + (f" {arch.arch}" if arch else "")


def _extension_floors(facts: Facts, matrix: Matrix, gpus: list[dict]) -> list[Verdict | Unjudged]:
    """Extensions whose kernels exist only from a compute capability on (extensions.toml
    min_compute_capability: FlashAttention 2 from Ampere, sm_80), below it on some GPU."""
    verdicts: list[Verdict | Unjudged] = []
    for row in matrix.tables["extensions"].get("extension", []):
        floor = row.get("min_compute_capability")
        dist = q.installed(facts, row["name"]) if floor else None
        shown = str((dist or {}).get("version") or "")
        version = q.version_of(shown)
        if not floor or version is None or version < Version(floor["since"]):
            continue
        needs = Version(floor["cc"])
        for gpu in gpus:
            cc = str(gpu["compute_capability"])
            if (q.version_of(cc) or needs) >= needs:
                continue
            named = _named(gpu, cc, matrix)
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{row['name']} {shown} needs compute capability {floor['cc']} or newer; "
                    f"GPU {gpu['index']} ({named}) is {cc}",
                    evidence={
                        # its own: torch's GPU work is not folded under it
                        "framework": row["name"],
                        "extension": row["name"],
                        "version": shown,
                        "gpu": gpu.get("name"),
                        "compute_capability": cc,
                        "needs": floor["cc"],
                        "matrix_row": f"extensions.toml {row['name']} min_compute_capability",
                    },
                    fixes=(Fix(floor["advice"], notes=floor["source"]),),
                )
            )
    return verdicts
