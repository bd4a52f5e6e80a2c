"""Read facts written under an older 1.x schema as today's: where older reports wrote null for none.

1.0 and 1.1 wrote null both for "could not be read" and "there is none" almost everywhere; 1.2
still did for a few facts (a container runtime not recognised, NVIDIA_* variables unset, a GPU
without MIG or ECC, no jaxlib), which 1.3 writes as false, and 1.3 adds the Windows facts, which
an older report of a machine that is not Windows had none of.
"""

from __future__ import annotations

from typing import Any, Callable

JSON = dict[str, Any]

# Schemas 1.0 and 1.1 wrote null both for "could not be read" and for "there is none"; 1.2 keeps null for
# unknown only (dldoctor/facts/known.py). For these fields 1.0's null meant none, unless the
# gatherer recorded why it could not read them: (section, path in it, errors key, condition).
_NONE_WAS_NULL: tuple[tuple[str, str, str, Callable[[JSON], bool]], ...] = (
    ("system", "os.macos_version", "os.macos_version", lambda s: _at(s, "os.name") != "Darwin"),
    ("system", "cpu.cgroup_quota_cores", "cpu", lambda s: True),
    ("system", "memory.cgroup_limit_bytes", "memory", lambda s: True),
    ("system", "wsl.version", "wsl", lambda s: _at(s, "wsl.is_wsl") is False),
    ("system", "container.kind", "container", lambda s: True),
    ("system", "libc", "libc", lambda s: _at(s, "os.name") not in ("Linux", None)),
    ("system", "shm", "shm", lambda s: _at(s, "os.name") not in ("Linux", None)),
    ("python", "pip_version", "pip_version", lambda s: True),
    ("accelerators", "rocm.version", "rocm", lambda s: _at(s, "rocm.path") is None),
    ("accelerators", "rocm.path", "rocm", lambda s: True),
    ("accelerators", "intel_xpu.oneapi_path", "intel_xpu", lambda s: True),
    ("accelerators", "apple.macos_version", "apple", lambda s: _at(s, "apple.is_macos") is False),
    ("accelerators", "apple.hardware_arm64", "apple", lambda s: _at(s, "apple.is_macos") is False),
    ("cuda", "default_toolkit", "default_toolkit", lambda s: True),
    ("cuda", "nvcc_on_path", "nvcc", lambda s: True),
)


def upgrade_facts(facts: JSON, schema_version: str) -> JSON:
    """Facts of a report of ``schema_version`` (1.x) in today's convention; changed in place."""
    minor = _minor(schema_version)
    if minor < 2:
        _from_1_1(facts)
    if minor < 3:
        _from_1_2(facts)
    return facts


def _from_1_1(facts: JSON) -> None:
    """1.0 and 1.1 → 1.2: unknown stays null, none becomes false."""
    for section, path, error_key, applies in _NONE_WAS_NULL:
        data = facts.get(section)
        if not isinstance(data, dict) or not applies(data) or _recorded(data, error_key):
            continue
        parent, _, leaf = path.rpartition(".")
        holder = _at(data, parent) if parent else data
        if isinstance(holder, dict) and leaf in holder and holder[leaf] is None:
            holder[leaf] = False
    frameworks = (facts.get("packages") or {}).get("frameworks") or {}
    for frame in frameworks.values() if isinstance(frameworks, dict) else []:
        build = frame.get("build") if isinstance(frame, dict) else None
        if isinstance(build, dict):  # 1.0 wrote the build file's None (and "none found") as null
            for key, value in build.items():
                build[key] = False if value is None else value
            for plugin in build.get("plugins") or []:
                for key in ("backend", "major"):
                    if isinstance(plugin, dict) and plugin.get(key, False) is None:
                        plugin[key] = False
    for wheel in (facts.get("packages") or {}).get("nvidia_wheels") or []:
        if isinstance(wheel, dict) and wheel.get("cuda_major", False) is None:
            wheel["cuda_major"] = False  # 1.0: null meant an unsuffixed wheel
    pci = (facts.get("accelerators") or {}).get("pci") or {}
    for vendor in ("nvidia", "amd", "intel"):
        for device in pci.get(vendor) or [] if isinstance(pci, dict) else []:
            if isinstance(device, dict) and device.get("driver", False) is None:
                device["driver"] = False  # 1.0: null meant no driver bound
    cuda_env = (facts.get("cuda") or {}).get("env")
    if isinstance(cuda_env, dict):  # 1.0: null meant the variable is unset
        for name, value in cuda_env.items():
            cuda_env[name] = False if value is None else value


def _from_1_2(facts: JSON) -> None:
    """1.2 → 1.3: the last nulls that meant none, and the Windows facts a non-Windows report lacks."""
    system: JSON = facts["system"] if isinstance(facts.get("system"), dict) else {}
    windows = _at(system, "os.name") == "Windows"
    container = system.get("container")
    if isinstance(container, dict) and not _recorded(system, "container"):
        if "runtime" in container and container["runtime"] is None:
            container["runtime"] = False  # 1.2: null was "none recognised"
        injected = container.get("nvidia")
        if isinstance(injected, dict):
            for key in ("visible_devices", "driver_capabilities"):  # 1.2: null was unset
                if key in injected and injected[key] is None:
                    injected[key] = False
            absent = str(_at(facts.get("nvidia"), "proc_driver.error") or "").endswith("absent")
            if absent and injected.get("host_driver_version", False) is None:
                injected["host_driver_version"] = False
    if system and _at(system, "os.name") is not None and not windows:
        system.setdefault("windows", False)
        if isinstance(facts.get("cuda"), dict):
            facts["cuda"].setdefault("dll_search", False)
    for gpu in _list(_at(facts.get("nvidia"), "gpus")):
        if not isinstance(gpu, dict):
            continue
        errors: JSON = gpu["errors"] if isinstance(gpu.get("errors"), dict) else {}
        for key in ("mig", "ecc"):  # 1.2: null with NVML's "Not Supported" was "no such feature"
            if gpu.get(key, False) is None and errors.get(key) == "Not Supported":
                gpu[key] = False
                del errors[key]
        if gpu.get("mig") is False and gpu.get("mig_device_count", 0) is None:
            gpu["mig_device_count"], gpu["mig_devices"] = 0, []
        if system and _at(system, "os.name") is not None and not windows:
            gpu.setdefault("driver_model", False)
    jax = _at(facts.get("packages"), "frameworks.jax.build")
    if isinstance(jax, dict):
        if "static" in jax and jax["static"] is None:
            jax["static"] = False  # 1.2: null was "no jaxlib"
        for plugin in _list(_at(jax, "static.plugins")):
            if isinstance(plugin, dict) and plugin.get("pjrt_library", False) is None:
                plugin["pjrt_library"] = False  # 1.2: null was "no PJRT library in it"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _minor(version: str) -> int:
    _, _, minor = str(version).partition(".")
    return int(minor) if minor.isdigit() else 0


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _recorded(section: JSON, key: str) -> bool:
    errors = section.get("errors")
    if isinstance(errors, dict):
        return any(k == key or k.startswith(key + ".") for k in errors)
    if isinstance(errors, list):
        return any(isinstance(e, str) and e.startswith(key + ":") for e in errors)
    return False
