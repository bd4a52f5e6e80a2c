"""One plain line per area describing the facts (no verdicts), shared by the human renderers."""

from __future__ import annotations

from typing import Any

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import canonical
from dldoctor.report.model import Area

GIB = 1024**3


def _gib(value: Any) -> str:
    return f"{value / GIB:.1f} GiB" if isinstance(value, (int, float)) else "? GiB"


def system_line(facts: Facts) -> str:
    s = facts.system
    os_ = s.get("os") or {}
    cpu = s.get("cpu") or {}
    flags = [
        f
        for f in ("avx", "avx2", "avx512f", "fma", "asimd", "sve")
        if f in (cpu.get("flags") or [])
    ]
    cores = cpu.get("usable_cores") or cpu.get("logical_cores")
    parts = [
        os_.get("distribution") or os_.get("name") or "unknown OS",
        s.get("architecture") or "?",
        f"{cpu.get('model') or 'unknown CPU'} ({cores or '?'} cores{_flags(flags)})",
        f"{_gib((s.get('memory') or {}).get('total_bytes'))} RAM",
    ]
    if (s.get("wsl") or {}).get("is_wsl"):
        parts.append(f"WSL{(s.get('wsl') or {}).get('version') or ''}")
    if (s.get("container") or {}).get("kind"):
        parts.append(f"in {(s.get('container') or {})['kind']}")
    return " · ".join(parts)


def _flags(flags: list[str]) -> str:
    return "; " + " ".join(flags) if flags else ""


def python_line(facts: Facts) -> str:
    p = facts.python
    env = p.get("environment") or {}
    pip = f"pip {p['pip_version']}" if p.get("pip_version") else "no pip"
    manager = env.get("manager") or "unknown"
    version = f"{p.get('version', '?')} ({p.get('implementation', '?')})"
    return f"{version} · {manager} environment · {pip}"


def nvidia_line(facts: Facts) -> str:
    n = facts.nvidia
    gpus = n.get("gpus") or []
    driver = n.get("driver_version")
    if not driver:
        nvml = n.get("nvml") or {}
        reason = nvml.get("error") or nvml.get("status") or "unknown"
        return f"no NVIDIA driver loaded (NVML: {reason})"
    head = f"driver {driver} (supports CUDA {n.get('cuda_driver_version') or '?'})"
    if not gpus:
        return f"{head} · no GPU visible"
    names: dict[str, int] = {}
    for g in gpus:
        sm = (g.get("compute_capability") or "?").replace(".", "")
        label = f"{g.get('name')} (sm_{sm}, {_gib(g.get('memory_total_bytes'))})"
        names[label] = names.get(label, 0) + 1
    listed = ", ".join(f"{c}× {label}" if c > 1 else label for label, c in names.items())
    return f"{head} · {listed}"


def cuda_line(facts: Facts) -> str:
    c = facts.cuda
    toolkits = c.get("toolkits") or []
    parts = []
    if toolkits:
        parts.append(
            "toolkit "
            + ", ".join(f"{t.get('version') or '?'} at {t.get('path')}" for t in toolkits)
        )
    else:
        parts.append("no CUDA toolkit")
    libs = c.get("libraries") or {}
    pip_components = {w.get("component") for w in c.get("pip_libraries") or []}
    for key, label in (("cudnn", "cuDNN"), ("nccl", "NCCL"), ("tensorrt", "TensorRT")):
        versions = sorted({e.get("version") or "?" for e in libs.get(key) or []})
        if versions:
            parts.append(f"{label} {', '.join(versions)}")
        elif key == "cudnn" and toolkits and key not in pip_components:
            parts.append("no cuDNN on the system")
    pip = c.get("pip_libraries") or []
    if pip:
        parts.append(f"{len(pip)} NVIDIA wheels from pip")
    return " · ".join(parts)


def framework_lines(facts: Facts) -> list[str]:
    lines = []
    for key, frame in sorted((facts.packages.get("frameworks") or {}).items()):
        dists = frame.get("distributions") or []
        text = ", ".join(f"{canonical(d['name'])} {d.get('version')}" for d in dists)
        build = frame.get("build") or {}
        names = {canonical(d["name"]) for d in dists}
        note = _build_note(key, build, names)
        lines.append(f"{text}{' — ' + note if note else ''}")
    return lines


def _build_note(key: str, build: dict[str, Any], names: set[str]) -> str:
    if key == "jax" and "jaxlib" in names:
        plugins = [n for n in names if n.startswith(("jax-cuda", "jax-rocm"))]
        return f"with {', '.join(sorted(plugins))}" if plugins else "CPU only (no CUDA plugin)"
    if key == "onnxruntime":
        return "CUDA build" if "onnxruntime-gpu" in names else "CPU build"
    if build.get("error"):
        return f"build facts unreadable: {build['error']}"
    if key == "torch":
        if build.get("cuda"):
            return f"built for CUDA {build['cuda']}"
        return f"built for ROCm {build['hip']}" if build.get("hip") else "CPU-only build"
    if key == "tensorflow" and "is_cuda_build" in build:
        if build.get("is_cuda_build"):
            return (
                f"built for CUDA {build.get('cuda_version')} / cuDNN {build.get('cudnn_version')}"
            )
        return "CPU-only build"
    if key == "paddle" and build.get("cuda_version") not in (None, ""):
        cuda = build.get("cuda_version")
        return "CPU-only build" if str(cuda) == "False" else f"built for CUDA {cuda}"
    return ""


def packages_line(facts: Facts) -> str:
    p = facts.packages
    count = len(p.get("distributions") or [])
    unsatisfied = len(p.get("unsatisfied") or [])
    state = "all requirements met" if not unsatisfied else f"{unsatisfied} unmet requirement(s)"
    return f"{count} distributions · {state}"


def environment_line(facts: Facts) -> str:
    variables = facts.env.get("variables") or {}
    shown = [k for k in variables if k not in ("PATH",)]
    cvd = variables.get("CUDA_VISIBLE_DEVICES")
    head = f"CUDA_VISIBLE_DEVICES={cvd}" if cvd is not None else "CUDA_VISIBLE_DEVICES unset"
    withheld = len(facts.env.get("withheld") or [])
    tail = f" · {withheld} secret value(s) withheld" if withheld else ""
    return f"{head} · {len(shown)} relevant variable(s) set{tail}"


LINES = {
    Area.SYSTEM: ("System", system_line),
    Area.PYTHON: ("Python", python_line),
    Area.NVIDIA: ("NVIDIA", nvidia_line),
    Area.CUDA: ("CUDA", cuda_line),
    Area.FRAMEWORKS: ("Frameworks", lambda f: f"{len(framework_lines(f))} installed"),
    Area.PACKAGES: ("Packages", packages_line),
    Area.ENVIRONMENT: ("Environment", environment_line),
}
