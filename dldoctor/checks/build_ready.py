"""DD535: the verdict that this machine can build CUDA extensions for the installed torch."""

from __future__ import annotations

from dldoctor.checks.build import (
    _ready,
    build_cuda_home_elsewhere,
    build_host_compiler_too_new,
    build_nvcc_mismatch,
    build_without_ninja,
    build_without_python_headers,
)
from dldoctor.checks.registry import Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import known
from dldoctor.facts.model import Facts
from dldoctor.fixes import build as fb
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Severity


@check(
    "DD535",
    "build-ready",
    "This machine can build CUDA extensions for the installed torch",
    Area.CUDA,
)
def build_ready(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: when a build is coming and none of DD530-DD534 finds a problem or lacks a fact,
    the verdict that this machine can build CUDA extensions for torch, with the tools it will
    use; with little RAM for a memory-hungry build (flash-attn: under 96 GB), the MAX_JOBS
    advice of its README.

    Why: a build takes minutes to hours; knowing before it starts that nvcc, the compiler and
    ninja fit saves the failed attempts, and too many parallel jobs run out of memory.

    Fix: nothing to fix; set MAX_JOBS where advised.
    """
    why, tools, cuda = _ready(facts, matrix)
    others = (
        build_nvcc_mismatch,
        build_host_compiler_too_new,
        build_cuda_home_elsewhere,
        build_without_ninja,
        build_without_python_headers,
    )
    results = [r for other in others for r in other(facts, matrix)]
    if any(isinstance(r, Verdict) for r in results):
        return []  # a problem is reported by its own check
    if results:  # a fact another check needs is unknown: so is the readiness
        return list(results)
    torch = q.installed(facts, "torch") or {}
    compiler = tools.get("host_compiler") or {}
    fixes = []
    unjudged: list[Verdict | Unjudged] = []
    total = known(facts, "system.memory.total_bytes")
    asked = "asked (--build)" in why
    for spec in matrix.tables["extensions"]["extension"]:
        memory = spec.get("build_memory")
        coming = asked or any(w.startswith(f"{spec['name']} ") for w in why)
        if not memory or not coming or tools.get("max_jobs"):
            continue
        if not isinstance(total, int):
            unjudged.append(Unjudged("the MAX_JOBS advice", "system.memory.total_bytes"))
            break
        if coming and total < int(memory["ram_below_gib"]) * 1024**3:
            gib = total / 1024**3
            why_jobs = f"{spec['name']} with {gib:.0f} GiB of RAM"
            fixes.append(fb.max_jobs(int(memory["max_jobs"]), why_jobs))
            break
    return [
        Verdict(
            Severity.INFO,
            f"This machine can build CUDA extensions for torch {torch.get('version')} (CUDA {cuda}): "
            f"nvcc {tools.get('nvcc_version')}, {compiler.get('kind')} {compiler.get('version')}, ninja",
            evidence={
                "building": why,
                "cuda_home": tools.get("cuda_home"),
                "max_jobs": tools.get("max_jobs"),
            },
            fixes=tuple(fixes),
        ),
        *unjudged,
    ]
