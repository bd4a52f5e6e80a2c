"""DD536: memory for a memory-hungry extension build, and the MAX_JOBS that fits (DD535 advises it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dldoctor.checks.build import _ready
from dldoctor.checks.registry import Unjudged, Verdict, check
from dldoctor.facts.known import known
from dldoctor.facts.model import Facts
from dldoctor.fixes import build as fb
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity

GIB = 1024**3


@dataclass(frozen=True)
class Budget:
    """One coming build's memory: what is free, what one compile job takes, how many fit."""

    extension: str
    free_bytes: int
    threads: int  # NVCC_THREADS
    job_bytes: int  # one compile job: its nvcc threads at their peak
    fits: int  # jobs that fit in the free memory
    default_jobs: int  # what ninja runs without MAX_JOBS
    per_thread_gib: int
    named: bool  # this extension is being built (not only --build asking about builds at all)


def budget(
    facts: Facts, matrix: Matrix, why: list[str], tools: dict[str, Any]
) -> Budget | Unjudged | None:
    """The memory budget of the first coming build whose extension states one (extensions.toml
    build_memory); None when none does; Unjudged when the free memory or cores are unknown."""
    asked = "asked (--build)" in why
    for spec in matrix.tables["extensions"]["extension"]:
        memory = spec.get("build_memory")
        named = any(w.startswith(f"{spec['name']} ") for w in why)
        if not memory or not (asked or named):
            continue
        free = known(facts, "system.memory.available_bytes")
        if not isinstance(free, int):
            return Unjudged("the build's memory", "system.memory.available_bytes")
        limit = known(facts, "system.memory.cgroup_limit_bytes")
        if isinstance(limit, int) and limit > 0:
            free = min(free, limit)  # a container's cap binds before the machine's memory
        cores = known(facts, "system.cpu.usable_cores")
        if not isinstance(cores, int) or cores < 1:
            return Unjudged("the build's parallel jobs", "system.cpu.usable_cores")
        set_threads = str(tools.get("nvcc_threads") or "")
        threads = int(set_threads) if set_threads.isdigit() and int(set_threads) > 0 else 0
        threads = threads or int(memory["nvcc_threads"])
        per_thread = int(memory["gib_per_nvcc_thread"])
        job = per_thread * threads * GIB
        extra = int(matrix.tables["extensions"]["ninja"]["jobs_above_cores"])
        default = cores + (extra if cores > 2 else 1)  # ninja: 3 on two CPUs, 2 on one
        fits = free // job
        return Budget(str(spec["name"]), free, threads, job, fits, default, per_thread, named)
    return None


def max_jobs_advice(plan: Budget, tools: dict[str, Any]) -> Fix | None:
    """MAX_JOBS where ninja's default would run more jobs than the memory holds (DD535); fewer
    nvcc threads where not even one job fits."""
    if plan.fits < 1:
        return _fewer_threads(plan)
    if tools.get("max_jobs") or plan.fits >= plan.default_jobs:
        return None
    why = (
        f"{plan.extension}: {plan.free_bytes / GIB:.0f} GiB free, up to "
        f"{plan.job_bytes // GIB} GiB a job with NVCC_THREADS={plan.threads}; ninja would run "
        f"{plan.default_jobs}"
    )
    return fb.max_jobs(plan.fits, why)


@check(
    "DD536",
    "build-memory-short",
    "Not even one compile job of a memory-hungry extension build fits in the free memory",
    Area.CUDA,
)
def build_memory_short(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension that states its build's memory (flash-attn: up to 5 GB per nvcc
    thread, NVCC_THREADS=4 by default, so 20 GB a job) is to be built, and the free memory
    (the container's cgroup limit, if lower) holds less than one job.

    Why: the build is killed by the out-of-memory killer, or the machine swaps to a halt or
    reboots; MAX_JOBS=1 does not help when one job alone does not fit.

    Fix: fewer nvcc threads per job (NVCC_THREADS), or more free memory.
    """
    why, tools, _ = _ready(facts, matrix)
    plan = budget(facts, matrix, why, tools)
    if plan is None or isinstance(plan, Unjudged):
        return [plan] if plan else []
    if plan.fits >= 1 or not plan.named:  # --build alone: DD535 advises, as for any build
        return []
    free_gib = plan.free_bytes / GIB
    return [
        Verdict(
            Severity.WARNING,
            f"Building {plan.extension} needs up to {plan.job_bytes // GIB} GiB for one compile "
            f"job (NVCC_THREADS={plan.threads}), but only {free_gib:.1f} GiB of memory is free",
            evidence={
                "building": why,
                "free_bytes": plan.free_bytes,
                "nvcc_threads": plan.threads,
                "job_bytes": plan.job_bytes,
            },
            fixes=(_fewer_threads(plan),),
        )
    ]


def _fewer_threads(plan: Budget) -> Fix:
    free_gib = plan.free_bytes / GIB
    threads = int(free_gib // plan.per_thread_gib)
    if threads >= 1:
        return fb.nvcc_threads(threads, f"{plan.extension}: {free_gib:.1f} GiB free")
    return Fix(
        f"Free memory (or add swap) before building {plan.extension}: one nvcc thread needs up "
        f"to {plan.per_thread_gib} GiB, {free_gib:.1f} GiB is free."
    )
