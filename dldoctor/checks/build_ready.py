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
from dldoctor.checks.build_memory import Budget, budget, max_jobs_advice
from dldoctor.checks.registry import Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
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
    use and the disk free where pip builds; for a memory-hungry build (flash-attn: up to 5 GB
    per nvcc thread, 4 threads a job) whose jobs would not all fit in the free memory at
    ninja's default parallelism (CPUs + 2), the MAX_JOBS that fits.

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
    plan = budget(facts, matrix, why, tools)
    if isinstance(plan, Budget) and plan.fits < 1 and plan.named:
        return []  # DD536 says what to change
    advice = max_jobs_advice(plan, tools) if isinstance(plan, Budget) else None
    fixes = (advice,) if advice else ()
    unjudged: list[Verdict | Unjudged] = [plan] if isinstance(plan, Unjudged) else []
    room = tools.get("build_dir") or {}
    free = room.get("free_bytes")
    disk = f"; {free / 1024**3:.0f} GiB free in {room.get('path')}" if isinstance(free, int) else ""
    return [
        Verdict(
            Severity.INFO,
            f"This machine can build CUDA extensions for torch {torch.get('version')} (CUDA {cuda}): "
            f"nvcc {tools.get('nvcc_version')}, {compiler.get('kind')} {compiler.get('version')}, ninja"
            + disk,
            evidence={
                "building": why,
                "cuda_home": tools.get("cuda_home"),
                "max_jobs": tools.get("max_jobs"),
                "build_dir": room or None,
                "memory": None
                if not isinstance(plan, Budget)
                else {
                    "free_bytes": plan.free_bytes,
                    "job_bytes": plan.job_bytes,
                    "jobs_that_fit": plan.fits,
                    "ninja_default_jobs": plan.default_jobs,
                },
            },
            fixes=fixes,
        ),
        *unjudged,
    ]
