"""Verdicts from what frameworks said about their pieces and resources: JAX's parts, Python
dependencies that break an import, NCCL, Apple's MPS, memory."""

from __future__ import annotations

from dldoctor.checks import runtime_said as said
from dldoctor.checks.registry import Verdict, check
from dldoctor.facts.model import Facts
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Intent


def _all(facts: Facts, matrix: Matrix, code: str) -> list[Verdict]:
    return [said.verdict(facts, matrix, obs) for obs in said.observations(facts, matrix, code)]


@check(
    "DD613",
    "jax-pieces-refuse",
    "JAX refused its jaxlib or CUDA plugin at run time (version or PJRT API mismatch)",
    Area.FRAMEWORKS,
)
def jax_pieces_refuse(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: JAX said its pieces do not fit: "jaxlib is version X, but this version of jax
    requires version Y", "jaxlib version X is newer than and incompatible with jax version Y",
    "Mismatched PJRT plugin PJRT API version", or a plugin "not compatible with the installed
    jaxlib".

    Why: JAX does not import, or silently drops the GPU backend and runs on the CPU.

    Fix: install jax with its CUDA extra at one version: jaxlib and the plugin follow.
    """
    return _all(facts, matrix, "DD613")


@check(
    "DD614",
    "dependency-breaks-import",
    "A Python dependency of the wrong major breaks a framework (protobuf, NumPy ABI)",
    Area.PACKAGES,
)
def dependency_breaks_import(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework (or a package it imports) failed with protobuf's "Descriptors cannot be
    created directly" or NumPy's "A module that was compiled using NumPy 1.x cannot be run in
    NumPy 2".

    Why: a dependency was upgraded past what the framework's compiled or generated code supports;
    reinstalling the framework does not help, the dependency's version does.

    Fix: the dependency's version the framework was built for (protobuf 3.20.x, NumPy 1.x), or a
    framework release built for the new one.
    """
    return _all(facts, matrix, "DD614")


@check(
    "DD616",
    "nccl-failure",
    "NCCL failed: shared memory (/dev/shm) or another system call",
    Area.FRAMEWORKS,
)
def nccl_failure(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: NCCL said "unhandled system error", "Error while creating shared memory segment" or
    "Call to shm_open failed" during the multi-GPU all-reduce.

    Why: multi-GPU training stops at its first collective; in containers the default /dev/shm
    (64 MiB) is too small for NCCL's buffers.

    Fix: more shared memory for the container (--shm-size, --ipc=host), or NCCL_SHM_DISABLE=1.
    """
    return _all(facts, matrix, "DD616")


@check(
    "DD617",
    "mps-refused",
    "torch refused the Apple GPU (MPS): the macOS is older than this release supports",
    Area.FRAMEWORKS,
)
def mps_refused(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: creating a tensor on "mps" failed with "The MPS backend is supported on MacOS
    13.0+", the minimum of the installed torch release.

    Why: torch runs on the CPU only; each torch release raises the macOS it needs.

    Fix: upgrade macOS to the version torch names, or install an older torch.
    """
    return _all(facts, matrix, "DD617")


@check(
    "DD618",
    "out-of-memory",
    "A framework ran out of memory (host or GPU) during its probe",
    Area.FRAMEWORKS,
)
def out_of_memory(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework said "CUDA out of memory", "CUDA_ERROR_OUT_OF_MEMORY", "MemoryError" or
    "std::bad_alloc" during its import, start-up or a smoke test.

    Why: other processes hold the GPU's memory, or the machine (or the probe's --memory-limit) is
    too small for the framework to start.

    Fix: free the GPU (the Processes table of `nvidia-smi`), or more memory for the probe.
    """
    limit = (facts.runtime or {}).get("memory_limit_bytes")
    capped = f" Each probe was capped at {limit / 2**30:.1f} GiB (--memory-limit)." if limit else ""
    remedy = fix(
        "Free the memory: on a GPU, stop the processes `nvidia-smi` lists that should not run; on "
        "the host, check `free -h` and the kernel log for the OOM killer's lines (Out of memory: "
        f"Killed process …).{capped}",
        Intent(action="diagnose", value="kernel-errors"),
        facts=facts,
    )
    return [
        Verdict(v.severity, v.title, v.evidence, (remedy, *v.fixes))
        for v in _all(facts, matrix, "DD618")
    ]
