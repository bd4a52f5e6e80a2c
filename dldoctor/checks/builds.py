"""Checks of framework builds against the hardware: CPU-only builds, missing CPU instructions."""

from __future__ import annotations

from typing import Any, Callable

from packaging.version import Version

from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import Unknown, need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes import gpu_builds
from dldoctor.fixes.intents import fix as intent_fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Intent, Severity


def _names(frame: dict[str, Any]) -> set[str]:
    """Canonical names (METADATA may say tensorflow_cpu for tensorflow-cpu)."""
    return {q.canonical(d["name"]) for d in frame.get("distributions") or [] if d.get("name")}


def _build(frame: dict[str, Any], key: str) -> dict[str, Any]:
    """The framework's build facts; Unknown when its build file could not be read."""
    build = frame.get("build")
    if not isinstance(build, dict) or build.get("error"):
        raise Unknown(f"packages.frameworks.{key}.build", str((build or {}).get("error") or ""))
    return build


def _torch_cpu_only(frame: dict[str, Any]) -> str | None:
    if "torch" not in _names(frame):
        return None
    build = _build(frame, "torch")
    # torch/version.py says cuda = None on a CPU build (read as False); before 1.8 it had no hip.
    cuda, hip = build.get("cuda"), build.get("hip", False)
    if cuda or hip:
        return None
    need_value(cuda, "packages.frameworks.torch.build.cuda")
    need_value(hip, "packages.frameworks.torch.build.hip")
    return "it is a CPU-only build (torch.version.cuda is None)"


def _tensorflow_cpu_only(frame: dict[str, Any]) -> str | None:
    names = _names(frame)
    if "tensorflow-cpu" in names:
        return "tensorflow-cpu is the CPU-only package"
    if not names & {"tensorflow", "tensorflow-intel"}:
        return None
    built_with_cuda = _build(frame, "tensorflow").get("is_cuda_build")
    if need_value(built_with_cuda, "packages.frameworks.tensorflow.build.is_cuda_build") is False:
        return "it was built without CUDA (is_cuda_build is False)"
    return None


def _jax_cpu_only(frame: dict[str, Any]) -> str | None:
    names = _names(frame)
    if "jaxlib" not in names:
        return None
    if any(n.startswith(("jax-cuda", "jax-rocm")) for n in names):
        return None
    if q.jaxlib_cuda(frame):  # before the plugins, jaxlib itself was the CUDA build
        return None
    if (frame.get("build") or {}).get("plugins", False) is None:  # a partial listing (a paste)
        raise Unknown("packages.frameworks.jax.build.plugins")
    return "jaxlib has no CUDA plugin (jax-cuda12-plugin or jax-cuda13-plugin)"


def _paddle_cpu_only(frame: dict[str, Any]) -> str | None:
    names = _names(frame)
    if "paddlepaddle" in names and "paddlepaddle-gpu" not in names:
        return "paddlepaddle is the CPU package; the GPU one is paddlepaddle-gpu"
    return None


def _onnxruntime_cpu_only(frame: dict[str, Any]) -> str | None:
    names = _names(frame)
    if "onnxruntime" in names and "onnxruntime-gpu" not in names:
        return "onnxruntime is the CPU package; the CUDA one is onnxruntime-gpu"
    return None


_LABEL = {
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "paddle": "PaddlePaddle",
    "onnxruntime": "ONNX Runtime",
}

FixFn = Callable[[Facts, Matrix], "Fix | None"]
_CPU_ONLY: dict[str, tuple[Callable[[dict[str, Any]], str | None], FixFn, Severity]] = {
    "torch": (_torch_cpu_only, gpu_builds.torch_gpu_build, Severity.ERROR),
    "tensorflow": (_tensorflow_cpu_only, gpu_builds.tensorflow_gpu_build, Severity.ERROR),
    "jax": (_jax_cpu_only, gpu_builds.jax_gpu_build, Severity.ERROR),
    "paddle": (_paddle_cpu_only, gpu_builds.paddle_gpu_build, Severity.ERROR),
    # Often deliberate (inference on CPU next to a GPU trainer): worth saying, not failing.
    "onnxruntime": (_onnxruntime_cpu_only, gpu_builds.onnxruntime_gpu_build, Severity.WARNING),
}


@check(
    "DD201",
    "cpu-only-build-on-gpu",
    "A framework's CPU-only build is installed on a machine with an NVIDIA GPU",
    Area.FRAMEWORKS,
)
def cpu_only_build_on_gpu(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an NVIDIA GPU is present but a framework is installed as its CPU-only build.

    Why: the framework imports fine and silently computes on the CPU: "CUDA not available",
    an afternoon lost.

    Fix: install the framework's CUDA build for the installed version, with the CUDA variant the
    driver can run, from the index where that build lives.
    """
    if not need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS):
        raise NotApplicable("no NVIDIA GPU on this machine")
    gpu_names = sorted({str(g["name"]) for g in q.gpus(facts) if g.get("name")})
    gpu = f"the {', '.join(gpu_names)}" if gpu_names else "this machine's NVIDIA GPU"
    verdicts: list[Verdict | Unjudged] = []
    frameworks = need(facts, "packages.frameworks")
    for key, (is_cpu_only, fix, severity) in _CPU_ONLY.items():
        frame = frameworks.get(key)
        if not frame or (key == "tensorflow" and _no_windows_gpu_build(facts, matrix)):
            continue  # on native Windows after 2.10 no CUDA build exists: DD511 says so
        unjudged = None
        try:
            why = is_cpu_only(frame)
        except Unknown as unknown:  # the build file's facts are unknown: conda may still say
            why, unjudged = None, Unjudged(_LABEL[key], unknown.path)
        conda, pins = _conda_cpu_build(facts, matrix, key)
        build = frame.get("build") or {}
        if not why and not (conda and (not build or build.get("error") or unjudged)):
            if unjudged:
                verdicts.append(unjudged)
            continue  # the build file says CUDA (or says nothing and conda does not say CPU)
        reasons = [r for r in (why, _conda_reason(conda, pins)) if r]
        remedy = fix(facts, matrix)
        if pins and remedy:
            remedy = _unpinned(facts, [str(p["name"]) for p in pins], remedy)
        fixes = [remedy] if remedy else []
        verdicts.append(
            Verdict(
                severity,
                f"{_LABEL[key]} cannot use {gpu}: {'; '.join(reasons)}",
                evidence={
                    "framework": key,
                    "distributions": frame.get("distributions"),
                    "build": frame.get("build"),
                    "conda": [
                        {k: p.get(k) for k in ("name", "version", "build", "channel")}
                        for p in conda + pins
                    ],
                    "driver_cuda": facts.nvidia.get("cuda_driver_version"),
                },
                fixes=tuple(fixes),
            )
        )
    return verdicts


def _unpinned(facts: Facts, names: list[str], remedy: Fix) -> Fix:
    """The GPU build's fix, after conda's CPU pins (cpuonly) are removed: one remedy, in order."""
    summary = (
        f"Remove {' and '.join(names)}, which hold conda to CPU builds; then: {remedy.summary}"
    )
    pins = Intent(action="remove", remove_first=tuple(names), manager="conda")
    if not remedy.intents:  # advice in words: the removal is the step, the rest is read
        return intent_fix(summary, pins, facts=facts, automatic=False, notes=remedy.notes)
    return intent_fix(
        summary, pins, *remedy.intents, facts=facts, automatic=False, notes=remedy.notes
    )


def _no_windows_gpu_build(facts: Facts, matrix: Matrix) -> bool:
    """Native Windows with a TensorFlow newer than the last release that had a GPU build there."""
    if (facts.system.get("os") or {}).get("name") != "Windows":
        return False
    tf = q.installed(facts, "tensorflow") or q.installed(facts, "tensorflow-intel")
    version = q.version_of((tf or {}).get("version"))
    last = matrix.tables["tensorflow"]["windows_native_gpu_last"]
    return version is not None and Version(version.base_version) >= Version(f"{last}.999")


def _conda_cpu_build(facts: Facts, matrix: Matrix, key: str) -> tuple[list[Any], list[Any]]:
    """The framework's conda packages that are CPU builds, and what pins conda to CPU builds."""
    names = {r["conda"] for r in matrix.tables["conda"]["framework"] if r["framework"] == key}
    cpu = [
        p
        for p in q.conda_packages(facts)
        if p.get("name") in names and (p.get("cuda") or {}).get("variant") == "cpu"
    ]
    if not cpu:
        return [], []
    pins = []
    if key == "torch":  # cpuonly and pytorch-mutex are PyTorch's own mechanism
        for rule in matrix.tables["conda"]["cpu_pin"]:
            found = q.conda_package(facts, rule["package"])
            if found and rule.get("build") in (None, found.get("build")):
                pins.append(found)
    return cpu, pins


def _conda_reason(cpu: list[Any], pins: list[Any]) -> str:
    if not cpu:
        return ""
    first = cpu[0]
    text = f"conda installed its CPU build ({first['name']} {first.get('version')} {first.get('build')})"
    if pins:
        text += f", and {' and '.join(p['name'] for p in pins)} hold conda to CPU builds"
    return text


@check(
    "DD202",
    "cpu-lacks-instructions",
    "The CPU lacks instructions an installed framework's binaries need",
    Area.SYSTEM,
)
def cpu_lacks_instructions(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an installed framework's official binaries need an instruction set (AVX) this CPU
    does not report.

    Why: the import dies with "Illegal instruction" (SIGILL) or refuses to load. In VMs the
    hypervisor may hide AVX from a CPU that has it.

    Fix: run on a CPU (or VM configuration) that exposes the instructions, or use a build made
    without them (a source build, or a distribution's package).
    """
    cpu = facts.system.get("cpu") or {}
    flags = need(facts, "system.cpu.flags")
    arch = need(facts, "system.architecture")
    verdicts: list[Verdict | Unjudged] = []
    for rule in matrix.cpu_rules:
        if arch not in (rule.architecture, "amd64" if rule.architecture == "x86_64" else ""):
            continue
        missing = [f for f in rule.flags if f not in flags]
        if not missing:
            continue
        needs = ", ".join(m.upper() for m in missing)
        for name in rule.distributions:
            dist = q.installed(facts, name)
            if not dist:
                continue
            version = q.version_of(dist.get("version"))
            if version is None:
                verdicts.append(Unjudged(name, f"packages.distributions.{name}.version"))
                continue
            if version < Version(str(rule.since)):
                continue
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{name} {dist['version']} needs {needs}, which this CPU "
                    f"({cpu.get('model') or 'unknown model'}) does not report",
                    evidence={
                        "distribution": name,
                        "version": dist["version"],
                        "missing": missing,
                        "cpu_model": cpu.get("model"),
                        "rule": rule.message,
                        "source": rule.source,
                    },
                    fixes=(
                        Fix(
                            f"Run {name} on a CPU with {', '.join(m.upper() for m in missing)} "
                            "(in a VM, enable CPU passthrough: hypervisors may hide AVX), "
                            "or use a build compiled without it."
                        ),
                    ),
                )
            )
    return verdicts
