"""Verdicts from the runtime probes about GPUs: CUDA that will not start, missing kernels and
libraries, and frameworks that see no GPU where NVML sees one."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks import runtime_said as said
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import Unknown, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes import gpu_builds
from dldoctor.fixes import runtime as fixes
from dldoctor.fixes.driver import floor, install_driver
from dldoctor.fixes.intents import fix as intent_fix
from dldoctor.fixes.torch_builds import torch_build
from dldoctor.matrix import Matrix
from dldoctor.matrix.signatures import Match
from dldoctor.model import Area, Fix, Severity

# Where a framework records why CUDA did not start: anything said there is an init failure.
_INIT_CONTEXTS = ("cuda_init_error", "cuda backend", "rocm backend")
_FALLBACK = "cuda-error-other"  # the generic signature for init words no other row knows


def _gpu_machine(facts: Facts) -> None:
    if not need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS):
        raise NotApplicable("no NVIDIA GPU on this machine")


def _build_cuda(facts: Facts, matrix: Matrix, key: str, record: dict[str, Any]) -> str | None:
    """The CUDA a framework's build uses: what it said at run time, else its static build."""
    said = (record.get("info") or {}).get("cuda_version")
    if isinstance(said, str) and re.match(r"^\d+(\.\d+)*$", said):
        return said
    return next((b.cuda for b in cuda_builds(facts, matrix) if b.framework == key), None)


def init_observations(facts: Facts, matrix: Matrix) -> list[said.Observation]:
    """Why each framework's CUDA did not start: its DD602 signatures, else what it recorded
    where it records init failures (when no signature knows those words)."""
    found = said.observations(facts, matrix, "DD602")
    have = {o.framework for o in found}
    fallback = matrix.signatures.by_id(_FALLBACK)
    for key, record in rt.probed(facts).items():
        if key in have or fallback is None:
            continue
        for where, text in rt.texts(record):
            if where in _INIT_CONTEXTS and text.strip() and not matrix.signatures.scan(text):
                seen = rt.Said(where, text, Match(fallback, rt.first_line(text)))
                found.append(said.Observation(key, "cuda-init", record, [seen]))
                break
    return found


def _driver_cuda(value: str | None) -> str | None:
    """torch's "found version 11040" is the CUDA the driver supports: 11.4."""
    if not value or not value.isdigit():
        return value
    number = int(value)
    return f"{number // 1000}.{(number % 1000) // 10}"


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
    for obs in init_observations(facts, matrix):
        key, record = obs.framework, obs.record
        base = said.verdict(facts, matrix, obs)
        remedies = list(base.fixes)
        title = f"{rt.version_label(facts, key, record)} cannot initialise CUDA: {rt.first_line(obs.first.text)}"
        if obs.cause == "insufficient-driver":
            cuda = _build_cuda(facts, matrix, key, record)
            row = matrix.toolkit_floor(cuda) if cuda and "." in cuda else None
            major = matrix.major_floor(cuda) if cuda else None
            needed = floor(row, facts) or floor(major, facts)
            remedies.insert(
                0, install_driver(facts, needed, f"{rt.label(key)}'s CUDA {cuda} build needs it")
            )
            if key == "torch":
                alternative = gpu_builds.torch_build_for_driver(facts, matrix)
                if alternative:
                    remedies.insert(1, alternative)
            supports = _driver_cuda(obs.groups.get("driver_cuda")) or facts.nvidia.get(
                "cuda_driver_version"
            )
            title = (
                f"The NVIDIA driver is too old for {rt.version_label(facts, key, record)}"
                + (f" (built for CUDA {cuda})" if cuda else "")
                + (f": it supports CUDA {supports} only" if supports else "")
            )
        elif obs.cause != "cuda-init":
            title = base.title
        evidence = dict(base.evidence)
        evidence.update(
            error=obs.first.text,
            where=obs.first.where,
            driver=q.driver_version(facts),
            driver_cuda=facts.nvidia.get("cuda_driver_version"),
            gpus=[g.get("name") for g in q.gpus(facts)],
        )
        verdicts.append(Verdict(base.severity, title, evidence=evidence, fixes=tuple(remedies)))
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
    for obs in said.observations(facts, matrix, "DD603"):
        key, record = obs.framework, obs.record
        arch = ", ".join(_sm(cc) for cc in ccs) or "this GPU"
        base = said.verdict(facts, matrix, obs)
        evidence = dict(base.evidence)
        evidence.update(
            where=obs.first.where,
            error=obs.first.text,
            compute_capabilities=ccs,
            arch_list=(record.get("info") or {}).get("arch_list"),
        )
        if obs.cause == "ptx-jit":
            verdicts.append(Verdict(base.severity, base.title, evidence, base.fixes))
            continue
        remedy = torch_build(facts, matrix, f"one built for {arch}") if key == "torch" else None
        if remedy is None and obs.groups.get("minimum") and base.fixes:
            # The framework named its build's floor: below it, no newer build of it helps.
            verdicts.append(Verdict(base.severity, base.title, evidence, base.fixes))
            continue
        remedy = remedy or Fix(
            f"Install a {rt.label(key)} build compiled for {arch}: usually the newest CUDA variant "
            "of the newest release (older GPUs: the last release that still built for them)."
        )
        verdicts.append(
            Verdict(
                base.severity,
                f"{rt.version_label(facts, key, record)} has no GPU code for {arch}: "
                f"{rt.first_line(obs.first.match.line)}",
                evidence=evidence,
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
def cuda_library_not_loaded(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: loading a framework (or its CUDA backend or execution provider) failed with
    "libcudart.so.12: cannot open shared object file", "Could not load dynamic library
    'libcudnn.so.9'" or the like.

    Why: the framework fails to import, or silently skips the GPU. The library is missing, of
    another major version, or in a directory the dynamic loader does not search.

    Fix: install the NVIDIA wheels the framework itself pins (the evidence lists the copies
    dldoctor found and LD_LIBRARY_PATH).
    """
    gpu = q.nvidia_gpu_present(facts)
    verdicts: list[Verdict | Unjudged] = []
    for obs in said.observations(facts, matrix, "DD604"):
        key, record = obs.framework, obs.record
        imported = (record.get("import") or {}).get("ok", False)
        if imported is None and not gpu:  # pasted words: whether it imported is unknown
            if gpu is None:  # harmless without a GPU ("Ignore above cudart dlerror if you do
                verdicts.append(Unjudged(rt.label(key), q.GPU_FACTS))  # not have a GPU")
            continue
        if imported and not gpu:
            continue  # a GPU build on a machine without a GPU says this and carries on: fine
        libraries = [_soname(lib) for lib in rt.missing_libraries(obs.seen)]
        if (
            imported is not False
            and libraries
            and all(_stem(lib) in _optional_libraries(matrix, key) for lib in libraries)
        ):
            verdicts.append(_optional_missing(facts, matrix, obs, libraries))
            continue
        # Libraries a row without a fix names (the driver's libcuda): no wheel or toolkit has them
        own = {s.match.groups.get("library") for s in obs.seen if s.match.signature.fix is None}
        shipped = [lib for lib in libraries if lib not in own]
        dist = rt.distribution(facts, key) or {}
        try:
            build = _build_for_machine(facts, matrix, key, record)
        except Unknown:  # the installed builds are unknown (a paste): no build to name, the
            build = None  # missing library is still the finding
        fix = fixes.pinned_wheels(facts, dist.get("name"), shipped) or build
        names = ", ".join(libraries) or "some of its GPU libraries"
        effect = "so it cannot be imported" if imported is False else f"({obs.first.where})"
        base = said.verdict(facts, matrix, obs)
        evidence = dict(base.evidence)
        evidence.update(
            libraries=libraries,
            error=obs.first.text,
            LD_LIBRARY_PATH=(facts.env.get("variables") or {}).get("LD_LIBRARY_PATH"),
            copies_found=_copies(facts, libraries),
            loaded=[lib.get("path") for lib in record.get("libraries") or []],
            failed_loads=(record.get("info") or {}).get("failed_loads"),
        )
        advice = [f for f in _advice(facts, obs) if not f.commands]
        if libraries and not shipped:  # the build for this machine's CUDA, else the advice
            remedies = (*((build,) if build else ()), *advice)
        else:
            generic = Fix(
                f"Install {', '.join(shipped) or names} for the CUDA major {rt.label(key)} was "
                "built for (its NVIDIA pip wheels, or the CUDA toolkit), and make sure the dynamic "
                "loader finds it (LD_LIBRARY_PATH or ldconfig)."
            )
            remedies = (fix or generic, *advice)
        verdicts.append(
            Verdict(
                base.severity,
                f"{rt.version_label(facts, key, record)} could not load {names} {effect}",
                evidence=evidence,
                fixes=remedies,
            )
        )
    return verdicts


# Frameworks published as one build per CUDA major that pin no NVIDIA wheels: a library of the
# build's major missing on a machine with another CUDA major is the wrong build, not a missing
# library (onnxruntime.ai: "choose the package based on CUDA and cuDNN major versions").
_BUILD_PER_MAJOR = {"onnxruntime": gpu_builds.onnxruntime_for_cuda}


def _cuda_majors(facts: Facts) -> set[str]:
    """The CUDA majors installed here: toolkits and CUDA runtime libraries found."""
    versions = [t.get("version") for t in facts.cuda.get("toolkits") or []]
    versions += [
        lib.get("version") for lib in (facts.cuda.get("libraries") or {}).get("cudart") or []
    ]
    return {str(v).split(".")[0] for v in versions if v and str(v)[:1].isdigit()}


def _build_for_machine(
    facts: Facts, matrix: Matrix, key: str, record: dict[str, Any]
) -> Fix | None:
    """The framework's build for the CUDA major this machine has, when its own is another."""
    other = _BUILD_PER_MAJOR.get(key)
    built = _build_cuda(facts, matrix, key, record)
    present = _cuda_majors(facts)
    if other is None or not built or not present or built.split(".")[0] in present:
        return None
    return other(facts, matrix, max(present, key=int))


def _advice(facts: Facts, obs: said.Observation) -> list[Fix]:
    """The advice of every signature the words showed, once each (first seen first); a generic
    row's only when nothing more specific was said."""
    rows = list({s.match.signature.id: s.match.signature for s in obs.seen}.values())
    rows = [r for r in rows if not r.generic] or rows
    return [
        intent_fix(r.advice, *r.intents, facts=facts, notes=f"Source: {r.source}")
        for r in rows
        if r.advice
    ]


def _stem(library: str) -> str:
    """'libnvinfer.so.7' → 'libnvinfer' (libraries.toml's `file`)."""
    return library.split(".so", 1)[0]


def _optional_libraries(matrix: Matrix, framework: str) -> set[str]:
    """The library stems ``framework`` opens only for an optional integration (libraries.toml)."""
    rows = matrix.tables["libraries"]["library"]
    return {str(r["file"]) for r in rows if framework in (r.get("optional_for") or ())}


def _optional_missing(
    facts: Facts, matrix: Matrix, obs: said.Observation, libraries: list[str]
) -> Verdict:
    """Only libraries of an optional integration are missing (TF-TRT's TensorRT): the framework
    imported and carries on; it matters only to someone who uses that integration."""
    base = said.verdict(facts, matrix, obs)
    evidence = dict(base.evidence, libraries=libraries, optional=True)
    return Verdict(
        Severity.INFO,
        f"{rt.version_label(facts, obs.framework, obs.record)} runs without "
        f"{', '.join(libraries)}: only its optional TensorRT integration (TF-TRT) is unavailable",
        evidence=evidence,
        fixes=(
            Fix(
                "Nothing to do unless you use TF-TRT; then install the TensorRT release this "
                "TensorFlow was built against and make sure the dynamic loader finds it."
            ),
        ),
    )


def _soname(library: str) -> str:
    """Paddle's "Cannot load cudnn shared library" names the product: libcudnn."""
    return library if library.startswith("lib") or library.endswith(".dll") else "lib" + library


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
def framework_sees_no_gpu(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: the driver (NVML) lists GPUs and a framework's GPU build imports, yet the framework
    lists no GPU, with no CUDA error that another check explains.

    Why: everything runs on the CPU, slowly and silently. The framework's own warnings (quoted)
    usually say why: a plugin of another version, devices hidden by CUDA_VISIBLE_DEVICES.

    Fix: follow the framework's warning; for JAX, the CUDA plugin matching jaxlib.
    """
    if not q.gpus(facts):
        # A paste that never asked NVML or the PCI bus has not shown there is no GPU.
        need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS)
        raise NotApplicable("NVML lists no GPU")
    verdicts: list[Verdict | Unjudged] = []
    for key, record in rt.probed(facts).items():
        if key == "keras" or record.get("status") in ("crash", "timeout", "skip"):
            continue
        if not (record.get("import") or {}).get("ok") or rt.accelerators(record):
            continue
        if record.get("devices") is None or (not record["devices"] and record.get("probe_error")):
            # Unknown (an old report), or the probe failed before it could list any device.
            verdicts.append(Unjudged(rt.label(key), f"runtime.frameworks.{key}.devices"))
            continue
        if not _gpu_build(facts, matrix, key, record):
            continue  # a CPU-only build: DD201's finding
        if rt.said(record, matrix) or any(w in _INIT_CONTEXTS for w, _ in rt.texts(record)):
            continue  # what it said is reported by the check that knows those words
        words = [
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
                f"{len(q.gpus(facts))}" + (f": {rt.first_line(words[0])}" if words else ""),
                evidence={
                    "framework": key,
                    "framework_said": words,
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
