"""One plain line per area describing the facts (no verdicts), shared by the human renderers."""

from __future__ import annotations

from typing import Any, Callable

from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.facts.queries import canonical, jaxlib_cuda
from dldoctor.model import Area, Status
from dldoctor.report.runtime_summary import details as runtime_details
from dldoctor.report.runtime_summary import runtime_note

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


def _container(container: dict[str, Any]) -> str:
    if container.get("kind") is None:
        return "unknown"
    return str(container.get("evidence") or "none detected")


def _flags(flags: list[str]) -> str:
    return "; " + " ".join(flags) if flags else ""


def python_line(facts: Facts) -> str:
    p = facts.python
    env = p.get("environment") or {}
    pip_version = p.get("pip_version")
    pip = f"pip {pip_version}" if pip_version else ("no pip" if pip_version is False else "pip ?")
    manager = env.get("manager") or "unknown"
    version = f"{p.get('version') or '?'} ({p.get('implementation') or '?'})"
    return f"{version} · {manager} environment · {pip}"


def nvidia_line(facts: Facts) -> str:
    n = facts.nvidia
    gpus = n.get("gpus") or []
    driver = q.driver_version(facts)  # NVML's, else the loaded kernel module's (/proc)
    if not driver and q.driver_loaded(facts) is None:
        return "NVIDIA driver unknown (not in these facts)"
    if not driver:
        nvml = n.get("nvml") or {}
        reason = nvml.get("error") or nvml.get("status") or "unknown"
        return f"no NVIDIA driver loaded (NVML: {reason})"
    head = f"driver {driver} (supports CUDA {n.get('cuda_driver_version') or '?'})"
    if n.get("gpus") is None:
        return f"{head} · GPUs unknown"
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
    if c.get("toolkits") is None:
        parts.append("toolkit unknown")
    elif toolkits:
        parts.append(
            "toolkit "
            + ", ".join(
                f"{t.get('version') or '?'}" + (f" at {t['path']}" if t.get("path") else "")
                for t in toolkits
            )
        )
    else:
        parts.append("no CUDA toolkit")
    libs = c.get("libraries") or {}
    pip_components = {w.get("component") for w in c.get("pip_libraries") or []}
    for key, label in (("cudnn", "cuDNN"), ("nccl", "NCCL"), ("tensorrt", "TensorRT")):
        versions = sorted({e.get("version") or "?" for e in libs.get(key) or []})
        if versions:
            parts.append(f"{label} {', '.join(versions)}")
        elif (
            key == "cudnn" and toolkits and key not in pip_components and libs.get(key) is not None
        ):
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
        note = " · ".join(
            n for n in (_build_note(key, build, names, frame), runtime_note(facts, key)) if n
        )
        lines.append(f"{text}{' — ' + note if note else ''}")
    return lines + _darknet_lines(facts)


def _darknet_lines(facts: Facts) -> list[str]:
    """One line per Darknet executable or library found: how it was built, from what it needs."""
    section = facts.packages.get("darknet")
    objects = section.get("objects") if isinstance(section, dict) else None
    lines = []
    for obj in objects or []:
        if not isinstance(obj, dict):
            continue
        built = obj.get("built_with")
        if not isinstance(built, dict):
            lines.append(f"darknet {obj.get('path')} — build unknown (not a readable ELF file)")
            continue
        flags = [f"GPU=1 ({built['cuda_runtime']})"] if built.get("cuda_runtime") else ["CPU"]
        flags += ["CUDNN=1"] if built.get("cudnn") else []
        flags += ["OPENCV=1"] if built.get("opencv") else []
        missing = obj.get("missing") or []
        count = f"{len(missing)} needed librar{'y' if len(missing) == 1 else 'ies'} missing"
        note = " ".join(flags) + (f" · {count}" if missing else "")
        lines.append(f"darknet {obj.get('path')} — {note}")
    return lines


def _build_note(key: str, build: dict[str, Any], names: set[str], frame: dict[str, Any]) -> str:
    if key == "jax" and "jaxlib" in names:
        plugins = [n for n in names if n.startswith(("jax-cuda", "jax-rocm"))]
        if not plugins and build.get("plugins", False) is None:
            return "CUDA plugin unknown"
        if plugins:
            return f"with {', '.join(sorted(plugins))}"
        built = jaxlib_cuda(frame)  # a jaxlib from before the plugins, built for CUDA itself
        if built:
            return f"jaxlib built for CUDA {built[0]}" + (
                f" / cuDNN {built[1]}" if built[1] else ""
            )
        return "CPU only (no CUDA plugin)"
    if key == "onnxruntime":
        return "CUDA build" if "onnxruntime-gpu" in names else "CPU build"
    if build.get("error"):
        return f"build facts unreadable: {build['error']}"
    if key == "torch":
        if build.get("cuda") is None and not build.get("hip"):
            return "build unknown"  # torch/version.py unread: neither CUDA nor CPU-only is known
        if build.get("cuda"):
            return f"built for CUDA {build['cuda']}"
        return f"built for ROCm {build['hip']}" if build.get("hip") else "CPU-only build"
    if key == "tensorflow" and "is_cuda_build" in build:
        if build.get("is_cuda_build"):
            return (
                f"built for CUDA {build.get('cuda_version')} / cuDNN {build.get('cudnn_version')}"
            )
        return "CPU-only build"
    if key == "mindspore":
        return _mindspore_note(build)
    if key == "mxnet" and build.get("cuda_variant"):
        return f"built for CUDA {build['cuda_variant']}"
    if key == "paddle" and build.get("cuda_version") not in (None, ""):
        cuda = build.get("cuda_version")
        return "CPU-only build" if str(cuda) == "False" else f"built for CUDA {cuda}"
    return ""


def _mindspore_note(build: dict[str, Any]) -> str:
    plugins = build.get("device_plugins")
    if isinstance(plugins, dict):
        names = ["CPU"] if plugins.get("cpu") else []
        cuda = [str(v) for v in plugins.get("gpu_cuda") or []]
        if cuda:
            names.append(f"GPU (CUDA {', '.join(cuda)})")
        if plugins.get("ascend"):
            names.append("Ascend")
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
        return f"{listed} plugin{'s' if len(names) > 1 else ''}" if names else "no device plugin"
    target = build.get("device_target")
    if isinstance(target, str) and target:
        built_for = build.get("cuda_version")
        return f"{target} build" + (
            f" for CUDA {built_for}" if target == "GPU" and built_for else ""
        )
    return ""


def frameworks_line(facts: Facts) -> str:
    count = len(framework_lines(facts))
    if count:
        return f"{count} installed"
    if facts.packages.get("frameworks") is None:
        return "unknown (the distributions were not read)"
    if facts.python.get("command") not in (None, "python"):
        return "none in this environment"
    return "none in this environment (run dldoctor inside it, or use --python PATH)"


def details(area: Area, facts: Facts) -> list[str]:
    """What -v adds under an area: the facts behind its one line."""
    if area is Area.SYSTEM:
        s = facts.system
        shm = s.get("shm") or {}
        return [
            f"kernel {(s.get('os') or {}).get('kernel')}, "
            f"libc {(s.get('libc') or {}).get('version')}",
            f"container: {_container(s.get('container') or {})}",
            f"/dev/shm: {_gib(shm.get('free_bytes'))} free of {_gib(shm.get('total_bytes'))}",
            *_container_details(s.get("container") or {}),
        ]
    if area is Area.PYTHON:
        p = facts.python
        return [
            f"executable: {p.get('executable')}",
            f"environment: {(p.get('environment') or {}).get('evidence')}",
        ]
    if area is Area.NVIDIA:
        return _nvidia_details(facts)
    if area is Area.CUDA:
        c = facts.cuda
        lines = [
            " ".join(
                str(part)
                for part in ("toolkit", t.get("path"), t.get("version") or "?")
                if part is not None
            )
            + f" (found by {', '.join(t.get('found_by') or [t.get('version_source') or '?'])})"
            for t in c.get("toolkits") or []
        ]
        for key, entries in sorted((c.get("libraries") or {}).items()):
            for e in entries:
                lines.append(
                    f"{key} {e.get('version') or '?'}: {e.get('path')} ({e.get('source')})"
                )
        lines += [f"pip: {w.get('name')} {w.get('version')}" for w in c.get("pip_libraries") or []]
        return lines + _loader_details(c.get("library_map") or {})
    if area is Area.FRAMEWORKS:
        return runtime_details(facts)
    if area is Area.ENVIRONMENT:
        variables = facts.env.get("variables") or {}
        lines = [f"{k}={v}" for k, v in variables.items()]
        lines += [f"{k} is set (value withheld)" for k in facts.env.get("withheld") or []]
        return lines
    return []


def _known(value: Any, absent: str) -> str:
    """A fact as shown: its value, ``absent`` for False (there is none), "unknown" for None."""
    return absent if value is False else "unknown" if value is None else str(value)


def _container_details(container: dict[str, Any]) -> list[str]:
    lines = []
    if container.get("runtime") or container.get("ipc"):
        runtime = container.get("runtime")
        lines.append(
            f"container runtime: {runtime or ('not recognised' if runtime is False else 'unknown')}, "
            f"IPC namespace: {container.get('ipc') or 'unknown'}"
        )
    nvidia = container.get("nvidia") or {}
    injected = nvidia.get("libraries") or []
    if injected:
        versions = sorted({str(i.get("version")) for i in injected})
        lines.append(
            f"driver files injected by the NVIDIA container toolkit: {len(injected)} "
            f"(driver {', '.join(versions)}; host kernel module "
            f"{_known(nvidia.get('host_driver_version'), 'not visible')})"
        )
    return lines


def _loader_details(library_map: dict[str, Any]) -> list[str]:
    """Which copy of the main CUDA libraries the dynamic loader would give each framework, if
    it asked (a CPU build never does)."""
    lines = []
    for framework, entry in sorted((library_map.get("frameworks") or {}).items()):
        for key in ("cudart", "cublas", "cudnn", "nccl"):
            candidates = ((entry.get("libraries") or {}).get(key) or {}).get("candidates") or []
            if candidates:
                first = candidates[0]
                lines.append(
                    f"{framework}: the loader would find {key} {first.get('version') or '?'} at "
                    f"{first.get('path')} (by {first.get('via')})"
                )
    return lines


def _nvidia_details(facts: Facts) -> list[str]:
    n = facts.nvidia
    lines = []
    for g in n.get("gpus") or []:
        mig_mode = g.get("mig")
        mig = (
            "no MIG"
            if mig_mode is False
            else "MIG unknown"
            if mig_mode is None
            else "MIG on"
            if mig_mode.get("current")
            else "MIG off"
        )
        model = g.get("driver_model")
        if isinstance(model, dict) and model.get("current"):  # native Windows: WDDM or TCC
            mig += f", {model['current']} driver model"
        used, total = g.get("memory_used_bytes"), g.get("memory_total_bytes")
        lines.append(
            f"GPU {g.get('index')}: {g.get('name')}, CC {g.get('compute_capability')}, "
            f"{_gib(used)} of {_gib(total)} used, {g.get('utilization_gpu_percent')}% busy, "
            f"{g.get('temperature_c')} °C, {mig}"
        )
    proc = (n.get("proc_driver") or {}).get("text")
    if proc:
        lines.append(f"/proc/driver/nvidia/version: {proc}")
    smi = n.get("nvidia_smi") or {}
    if smi.get("ran"):
        said = (
            "timed out" if smi.get("timed_out") else (smi.get("output") or "").replace("\n", " / ")
        )
        lines.append(f"nvidia-smi: {said}")
    libcuda = (n.get("libcuda") or {}).get("paths")
    if libcuda is not None:
        lines.append(f"libcuda: {', '.join(libcuda) if libcuda else 'not in the linker cache'}")
    return lines


def packages_line(facts: Facts) -> str:
    p = facts.packages
    if p.get("distributions") is None:
        return "unknown (the distributions were not read)"
    count = len(p.get("distributions") or [])
    unsatisfied = len(p.get("unsatisfied") or [])
    state = "all requirements met" if not unsatisfied else f"{unsatisfied} unmet requirement(s)"
    if p.get("unsatisfied") is None:
        state = "requirements unknown"
    conda = p.get("conda")
    from_conda = len(conda.get("packages") or []) if isinstance(conda, dict) else 0
    where = f" (conda environment: {from_conda} conda packages)" if from_conda else ""
    probes = _extension_probes_part((facts.runtime or {}).get("extensions"))
    return f"{count} distributions{where} · {state}{_extensions_part(p.get('extensions'))}{probes}"


def _extension_probes_part(records: Any) -> str:
    """' · extension probes: 4 ok, 2 failed' (each imported in its own child; DD526-DD527)."""
    if not isinstance(records, dict) or not records:
        return ""
    statuses = [r.get("status") for r in records.values() if isinstance(r, dict)]
    counts = [
        (sum(s == "pass" for s in statuses), "ok"),
        (sum(s in ("fail", "crash", "timeout") for s in statuses), "failed"),
        (sum(s in ("skip", "interrupted") for s in statuses), "not run"),
    ]
    return " · extension probes: " + ", ".join(f"{n} {what}" for n, what in counts if n)


def _extensions_part(section: Any) -> str:
    """' · extensions: flash-attn 2.8.3 (CUDA 12, torch 2.6), torchvision 0.28.0 (CUDA 13)'."""
    items = section.get("installed") if isinstance(section, dict) else None
    if not items:
        return ""
    shown = []
    for item in items[:6]:
        built = item.get("built_for") or {}
        cuda = built.get("cuda")
        said = [
            f"CUDA {cuda}" if cuda else ("CPU" if cuda is False and not built.get("rocm") else "")
        ]
        said += [f"ROCm {built['rocm']}" if built.get("rocm") else ""]
        said += [f"torch {built['torch']}" if built.get("torch") else ""]
        what = ", ".join(x for x in said if x)
        shown.append(f"{item.get('key')} {item.get('version')}" + (f" ({what})" if what else ""))
    more = f", +{len(items) - 6} more" if len(items) > 6 else ""
    return " · extensions: " + ", ".join(shown) + more


def environment_line(facts: Facts) -> str:
    if facts.env.get("variables") is None:
        return "variables unknown (not in these facts)"
    variables = facts.env.get("variables") or {}
    shown = [k for k in variables if k not in ("PATH",)]
    cvd = variables.get("CUDA_VISIBLE_DEVICES")
    head = f"CUDA_VISIBLE_DEVICES={cvd}" if cvd is not None else "CUDA_VISIBLE_DEVICES unset"
    withheld = len(facts.env.get("withheld") or [])
    tail = f" · {withheld} secret value(s) withheld" if withheld else ""
    count = (
        f"{len(shown)} other relevant variable(s) set" if shown else "no other relevant variables"
    )
    return f"{head} · {count}{tail}"


def _unless_failed(section: str, describe: Callable[[Facts], str]) -> Callable[[Facts], str]:
    """``describe``, or why there are no facts: the section's gatherer failed, or a Ctrl-C came
    before it was gathered (a section holding only its errors)."""

    def line(facts: Facts) -> str:
        data = getattr(facts, section)
        errors = data.get("errors")
        if isinstance(errors, dict) and errors and set(data) == {"errors"}:
            return "unknown (" + "; ".join(str(reason) for reason in errors.values()) + ")"
        return describe(facts)

    return line


LINES = {
    Area.SYSTEM: ("System", _unless_failed("system", system_line)),
    Area.PYTHON: ("Python", _unless_failed("python", python_line)),
    Area.NVIDIA: ("NVIDIA", _unless_failed("nvidia", nvidia_line)),
    Area.CUDA: ("CUDA", _unless_failed("cuda", cuda_line)),
    Area.FRAMEWORKS: ("Frameworks", _unless_failed("packages", lambda f: frameworks_line(f))),
    Area.PACKAGES: ("Packages", _unless_failed("packages", packages_line)),
    Area.ENVIRONMENT: ("Environment", _unless_failed("env", environment_line)),
}


NO_ISSUES_IN_KNOWN = "No issues found in what is known"


def unjudged_areas(report: Any) -> set[Area]:
    """Areas where some check was not judged and none passed: a ✓ there would claim health."""
    from dldoctor.checks.registry import all_checks

    areas = {c.code: c.area for c in all_checks()}
    judged: set[Area] = set()
    unknown: set[Area] = set()
    for outcome in report.outcomes:
        area = areas.get(outcome.code)
        if area is None:
            continue
        if outcome.status in (Status.PASSED, Status.FOUND):
            judged.add(area)
        elif outcome.status is Status.NOT_JUDGED:
            unknown.add(area)
    # Nothing known of the area at all (a paste that never showed it): a passing check there
    # judged words the paste did not contain, not the area.
    blank = {area for area, section in _SECTIONS.items() if not getattr(report.facts, section)}
    return (unknown - judged) | blank


_SECTIONS = {
    Area.SYSTEM: "system",
    Area.PYTHON: "python",
    Area.NVIDIA: "nvidia",
    Area.CUDA: "cuda",
    Area.PACKAGES: "packages",
    Area.ENVIRONMENT: "env",
}
