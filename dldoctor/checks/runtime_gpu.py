"""Verdicts from the runtime probes about GPUs: CUDA that will not start, missing kernels and
libraries, and frameworks that see no GPU where NVML sees one."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes import gpu_builds
from dldoctor.fixes import runtime as fixes
from dldoctor.fixes.driver import install_driver
from dldoctor.fixes.torch_builds import torch_build
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity

_INIT = re.compile(r"cuInit|CUDA_ERROR_|cudaError|CUDA driver|CUDA unknown error|hipError", re.I)
_INIT_HINTS = (
    (
        re.compile(r"CUDA unknown error|CUDA_ERROR_UNKNOWN|cudaErrorUnknown", re.I),
        Fix(
            "After a suspend/resume the nvidia_uvm module often needs a reload (no GPU process "
            "running), or reboot.",
            (("sudo", "rmmod", "nvidia_uvm"), ("sudo", "modprobe", "nvidia_uvm")),
        ),
    ),
    (
        re.compile(r"forward compatibility was attempted on non supported HW", re.I),
        Fix(
            "A CUDA forward-compatibility libcuda (the cuda-compat package) is on the library "
            "path of a GPU that does not support it: remove its directory from LD_LIBRARY_PATH."
        ),
    ),
    (
        re.compile(r"unsupported display driver / cuda driver combination|DRIVER_MISMATCH", re.I),
        Fix("The user-space driver and the kernel module differ: reboot.", (("sudo", "reboot"),)),
    ),
)


def _gpu_machine(facts: Facts) -> None:
    if not need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS):
        raise NotApplicable("no NVIDIA GPU on this machine")


def _build_cuda(facts: Facts, matrix: Matrix, key: str, record: dict[str, Any]) -> str | None:
    """The CUDA a framework's build uses: what it said at run time, else its static build."""
    said = (record.get("info") or {}).get("cuda_version")
    if isinstance(said, str) and re.match(r"^\d+(\.\d+)*$", said):
        return said
    return next((b.cuda for b in cuda_builds(facts, matrix) if b.framework == key), None)


def _init_errors(record: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for where, text in rt.texts(record):
        kind = rt.cause(text)
        if kind == "insufficient-driver" or (
            kind is None
            and (where in ("cuda_init_error", "cuda backend", "rocm backend") or _INIT.search(text))
        ):
            found.append((where, text))
    return found


@check(
    "DD602",
    "cuda-init-failed",
    "A framework's CUDA build cannot initialise CUDA although NVML sees the GPU",
    Area.FRAMEWORKS,
)
def cuda_init_failed(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework tried to initialise CUDA on a machine where NVML lists the GPUs, and
    failed; its error is quoted ("CUDA driver version is insufficient for CUDA runtime version",
    "CUDA unknown error", "forward compatibility was attempted on non supported HW").

    Why: the framework falls back to the CPU or stops; the driver's own words say why, and are
    what existing tools print as "Could not collect".

    Fix: for an insufficient driver, a driver at least as new as the build's CUDA needs (or a
    build for an older CUDA); otherwise what the error points at (reload nvidia_uvm, reboot,
    remove cuda-compat from the library path).
    """
    _gpu_machine(facts)
    verdicts = []
    for key, record in rt.probed(facts).items():
        errors = _init_errors(record)
        if not errors:
            continue
        where, text = errors[0]
        remedies: list[Fix] = []
        if rt.cause(text) == "insufficient-driver":
            cuda = _build_cuda(facts, matrix, key, record)
            row = matrix.toolkit_floor(cuda) if cuda and "." in cuda else None
            major = matrix.major_floor(cuda) if cuda else None
            needed = (row.linux if row else None) or (major.linux if major else None)
            remedies.append(
                install_driver(facts, needed, f"{rt.label(key)}'s CUDA {cuda} build needs it")
            )
            if key == "torch":
                alternative = gpu_builds.torch_build_for_driver(facts, matrix)
                if alternative:
                    remedies.append(alternative)
        else:
            remedies += [fix for pattern, fix in _INIT_HINTS if pattern.search(text)][:1]
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} cannot initialise CUDA: {rt.first_line(text)}",
                evidence={
                    "framework": key,
                    "error": text,
                    "where": where,
                    "driver": q.driver_version(facts),
                    "driver_cuda": facts.nvidia.get("cuda_driver_version"),
                    "gpus": [g.get("name") for g in q.gpus(facts)],
                },
                fixes=tuple(remedies),
            )
        )
    return verdicts


def _sm(cc: str) -> str:
    return "sm_" + cc.replace(".", "")


@check(
    "DD603",
    "no-kernel-image",
    "A framework's GPU kernels failed: no code for this GPU's architecture (observed)",
    Area.FRAMEWORKS,
)
def no_kernel_image(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a computation on the GPU failed with "no kernel image is available for execution on
    the device", or the framework warned that the GPU's capability is not in its build.

    Why: the build has no compiled code (nor usable PTX) for this GPU's architecture: every
    kernel fails, though the GPU is listed.

    Fix: install the build whose architecture list covers the GPU (often the newest CUDA
    variant), or, for old GPUs, the last release built for them.
    """
    verdicts = []
    ccs = sorted(
        {str(g["compute_capability"]) for g in q.gpus(facts) if g.get("compute_capability")}
    )
    for key, record in rt.probed(facts).items():
        seen = rt.with_cause(record, "no-kernel-image")
        if not seen:
            continue
        arch = ", ".join(_sm(cc) for cc in ccs) or "this GPU"
        remedy = torch_build(facts, matrix, f"one built for {arch}") if key == "torch" else None
        remedy = remedy or Fix(
            f"Install a {rt.label(key)} build compiled for {arch}: usually the newest CUDA variant "
            "of the newest release (older GPUs: the last release that still built for them)."
        )
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} has no GPU code for {arch}: {rt.first_line(seen[0][1])}",
                evidence={
                    "framework": key,
                    "where": seen[0][0],
                    "error": seen[0][1],
                    "compute_capabilities": ccs,
                    "arch_list": (record.get("info") or {}).get("arch_list"),
                },
                fixes=(remedy,),
            )
        )
    return verdicts


@check(
    "DD604",
    "cuda-library-not-loaded",
    "A CUDA library a framework needs could not be loaded",
    Area.FRAMEWORKS,
)
def cuda_library_not_loaded(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: loading a framework (or its CUDA backend or execution provider) failed with
    "libcudart.so.12: cannot open shared object file", "Could not load dynamic library
    'libcudnn.so.9'" or the like.

    Why: the framework fails to import, or silently skips the GPU. The library is missing, of
    another major version, or in a directory the dynamic loader does not search.

    Fix: install the NVIDIA wheels the framework itself pins (the evidence lists the copies
    dldoctor found and LD_LIBRARY_PATH).
    """
    gpu = q.nvidia_gpu_present(facts)
    verdicts = []
    for key, record in rt.probed(facts).items():
        seen = [(w, t) for w, t in rt.with_cause(record, "missing-library") if "libtpu" not in t]
        imported = (record.get("import") or {}).get("ok", False)
        if not seen or (imported and not gpu):
            continue  # a GPU build on a machine without a GPU says this and carries on: fine
        libraries = [lib for _, text in seen for lib in rt.missing_libraries(text)]
        libraries = sorted(set(libraries), key=libraries.index)
        dist = rt.distribution(facts, key) or {}
        fix = fixes.pinned_wheels(facts, dist.get("name"), libraries)
        where, text = seen[0]
        names = ", ".join(libraries) or "a CUDA library"
        effect = "so it cannot be imported" if not imported else f"({where})"
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} could not load {names} {effect}",
                evidence={
                    "framework": key,
                    "libraries": libraries,
                    "error": text,
                    "LD_LIBRARY_PATH": (facts.env.get("variables") or {}).get("LD_LIBRARY_PATH"),
                    "copies_found": _copies(facts, libraries),
                    "loaded": [lib.get("path") for lib in record.get("libraries") or []],
                },
                fixes=(fix,)
                if fix
                else (
                    Fix(
                        f"Install {names} for the CUDA major {rt.label(key)} was built for (its "
                        "NVIDIA pip wheels, or the CUDA toolkit), and make sure the dynamic loader "
                        "finds it (LD_LIBRARY_PATH or ldconfig)."
                    ),
                ),
            )
        )
    return verdicts


def _copies(facts: Facts, libraries: list[str]) -> list[str]:
    """Where dldoctor's static facts found copies of the same libraries (any version)."""
    wanted = {fixes.component(lib) for lib in libraries} - {None}
    found = []
    for component, entries in (facts.cuda.get("libraries") or {}).items():
        if component in wanted or (component == "cudart" and "cuda-runtime" in wanted):
            found += [f"{e.get('path')} ({e.get('version')})" for e in entries]
    found += [
        f"pip {w.get('name')} {w.get('version')}"
        for w in facts.cuda.get("pip_libraries") or []
        if w.get("component") in wanted
    ]
    return found


def _gpu_build(facts: Facts, matrix: Matrix, key: str, record: dict[str, Any]) -> bool:
    info = record.get("info") or {}
    if key == "onnxruntime":
        return "CUDAExecutionProvider" in (info.get("available_providers") or [])
    if info.get("cuda_built") or info.get("compiled_with_cuda") or info.get("hip_version"):
        return True
    return any(b.framework == key for b in cuda_builds(facts, matrix))


@check(
    "DD605",
    "framework-sees-no-gpu",
    "NVML sees GPUs but a framework's GPU build sees none",
    Area.FRAMEWORKS,
)
def framework_sees_no_gpu(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the driver (NVML) lists GPUs and a framework's GPU build imports, yet the framework
    lists no GPU, with no CUDA error that another check explains.

    Why: everything runs on the CPU, slowly and silently. The framework's own warnings (quoted)
    usually say why: a plugin of another version, devices hidden by CUDA_VISIBLE_DEVICES.

    Fix: follow the framework's warning; for JAX, the CUDA plugin matching jaxlib.
    """
    if not q.gpus(facts):
        raise NotApplicable("NVML lists no GPU")
    verdicts = []
    for key, record in rt.probed(facts).items():
        if key == "keras" or record.get("status") in ("crash", "timeout", "skip"):
            continue
        if not (record.get("import") or {}).get("ok") or rt.accelerators(record):
            continue
        if not _gpu_build(facts, matrix, key, record):
            continue  # a CPU-only build: DD201's finding
        explained = any(
            rt.with_cause(record, c)
            for c in ("missing-library", "insufficient-driver", "no-kernel-image")
        )
        if explained or _init_errors(record):
            continue
        said = [
            t
            for _, t in rt.texts(record)
            if re.search(r"gpu|cuda|plugin|device", t, re.I) and "libtpu" not in t
        ][:6]
        remedy = gpu_builds.jax_gpu_build(facts, matrix) if key == "jax" else None
        cvd = (facts.env.get("variables") or {}).get("CUDA_VISIBLE_DEVICES")
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} sees no GPU although NVML lists "
                f"{len(q.gpus(facts))}" + (f": {rt.first_line(said[0])}" if said else ""),
                evidence={
                    "framework": key,
                    "framework_said": said,
                    "info": {
                        k: v
                        for k, v in (record.get("info") or {}).items()
                        if k
                        in (
                            "cuda_available",
                            "cuda_device_count",
                            "gpu_error",
                            "default_backend",
                            "physical_devices",
                            "providers_loaded",
                        )
                    },
                    "CUDA_VISIBLE_DEVICES": cvd,
                },
                fixes=(remedy,) if remedy else (),
            )
        )
    return verdicts
