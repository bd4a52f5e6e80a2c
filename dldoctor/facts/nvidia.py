"""Facts about the NVIDIA driver and GPUs: NVML, kernel module, libcuda, nvidia-smi's own words."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.facts import nvml
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache, read_ldcache
from dldoctor.facts.nvml import Nvml, is_na

JSON = dict[str, Any]

# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 07:09:40 UTC 2025"
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (…)"
_NVRM = re.compile(r"NVRM version:.*?(Open )?Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)")
_NVIDIA_SMI_LINES = 5


def gather_nvidia(host: Host, ldcache: LdCache | None = None) -> JSON:
    """The ``nvidia`` section. Never raises; what could not be read is None with its reason."""
    errors: dict[str, str] = {}
    with Nvml.for_host(host) as nv:
        nvml_ok = nv.status == nvml.STATUS_OK
        # When init failed, that failure is the nvml section's own error; no per-field copies.
        field_errors: dict[str, str] = errors if nvml_ok else {}
        count = _value(nvml.device_count(nv), "gpu_count", field_errors)
        section: JSON = {
            "nvml": {
                "status": nv.status,
                "error": nv.error,
                "error_code": nv.error_code,
                "nvml_version": _value(nvml.nvml_version(nv), "nvml_version", field_errors),
            },
            "driver_version": _value(nvml.driver_version(nv), "driver_version", field_errors),
            "cuda_driver_version": _value(
                nvml.cuda_driver_version(nv), "cuda_driver_version", field_errors
            ),
            "gpu_count": count,
            "gpus": [_gpu(nv, index) for index in range(count or 0)],
        }
    section["proc_driver"] = _proc_driver(host)
    section["kernel_module"] = _kernel_module(host, errors)
    section["libcuda"] = _libcuda(host, ldcache, errors)
    section["nvidia_smi"] = _nvidia_smi(host, run=not nvml_ok, errors=errors)
    section["errors"] = errors
    return section


def _value(value: Any, field: str, errors: dict[str, str]) -> Any:
    """``value``, or None with the reason filed under ``field``."""
    if is_na(value):
        errors[field] = value.reason
        return None
    return value


_GPU_FIELDS = (
    "name", "uuid", "pci_bus_id", "compute_capability", "memory_total_bytes",
    "memory_used_bytes", "utilization_gpu_percent", "utilization_memory_percent",
    "temperature_c", "power_draw_w", "power_limit_w", "mig", "mig_device_count", "mig_devices",
    "ecc", "persistence_mode", "pcie", "running_processes",
)  # fmt: skip


def _gpu(nv: Nvml, index: int) -> JSON:
    """One GPU's facts; a GPU whose handle NVML refuses (fallen off the bus) is all None."""
    h = nvml.handle(nv, index)
    if is_na(h):
        return {"index": index, **dict.fromkeys(_GPU_FIELDS), "errors": {"handle": h.reason}}
    errors: dict[str, str] = {}
    gpu: JSON = {"index": index}

    def got(value: Any, field: str) -> Any:
        return _value(value, field, errors)

    gpu["name"] = got(nvml.name(nv, h), "name")
    gpu["uuid"] = got(nvml.uuid(nv, h), "uuid")
    gpu["pci_bus_id"] = got(nvml.pci_bus_id(nv, h), "pci_bus_id")
    gpu["compute_capability"] = got(nvml.compute_capability(nv, h), "compute_capability")
    pairs: list[tuple[tuple[str, str], Any]] = [
        (("memory_total_bytes", "memory_used_bytes"), nvml.memory_bytes(nv, h)),
        (
            ("utilization_gpu_percent", "utilization_memory_percent"),
            nvml.utilization_percent(nv, h),
        ),
    ]
    for fields, pair in pairs:  # one NVML call answers both fields, or neither
        for i, field in enumerate(fields):
            gpu[field] = None if got(pair, field) is None else pair[i]
    gpu["temperature_c"] = got(nvml.temperature_c(nv, h), "temperature_c")
    gpu["power_draw_w"] = got(nvml.power_draw_w(nv, h), "power_draw_w")
    gpu["power_limit_w"] = got(nvml.power_limit_w(nv, h), "power_limit_w")

    mig = got(nvml.mig_mode(nv, h), "mig")
    gpu["mig"] = None if mig is None else {"current": mig[0], "pending": mig[1]}
    gpu["mig_device_count"], gpu["mig_devices"] = None, None
    if mig is not None and mig[0]:
        handles = got(nvml.mig_device_handles(nv, h), "mig_devices")
        if handles is not None:
            gpu["mig_device_count"] = len(handles)
            gpu["mig_devices"] = [_mig_device(nv, i, m) for i, m in enumerate(handles)]
    elif mig is not None:
        gpu["mig_device_count"], gpu["mig_devices"] = 0, []

    enabled = got(nvml.ecc_enabled(nv, h), "ecc")
    gpu["ecc"] = None if enabled is None else {"enabled": enabled}
    for key, aggregate in (("volatile_uncorrected", False), ("aggregate_uncorrected", True)):
        if gpu["ecc"] is not None:  # counters are read only while ECC is on
            count = nvml.ecc_uncorrected(nv, h, aggregate) if enabled else None
            gpu["ecc"][key] = got(count, f"ecc.{key}")
    gpu["persistence_mode"] = got(nvml.persistence_mode(nv, h), "persistence_mode")
    gpu["pcie"] = {
        what: got(nvml.pcie_link(nv, h, what), f"pcie.{what}")
        for what in ("gen_current", "gen_max", "width_current", "width_max")
    }
    gpu["running_processes"] = got(nvml.running_process_count(nv, h), "running_processes")
    gpu["errors"] = errors
    return gpu


def _mig_device(nv: Nvml, index: int, h: Any) -> JSON:
    uuid = nvml.uuid(nv, h)
    memory = nvml.memory_bytes(nv, h)
    return {
        "index": index,
        "uuid": None if isinstance(uuid, nvml.NotAvailable) else uuid,
        "memory_total_bytes": None if isinstance(memory, nvml.NotAvailable) else memory[0],
    }


def _proc_driver(host: Host) -> JSON:
    """``/proc/driver/nvidia/version``: the kernel module's own version line."""
    path = "/proc/driver/nvidia/version"
    out: JSON = {"text": None, "version": None, "open_kernel_module": None, "error": None}
    content = host.read_text(path)
    if content is None:
        out["error"] = f"{path} is unreadable" if host.path(path).exists() else f"{path} is absent"
        return out
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    out["text"] = lines[0] if lines else ""
    match = _NVRM.search(content)
    if match is None:
        out["error"] = "no NVRM version line recognised"
        return out
    out["version"] = match.group(2)
    out["open_kernel_module"] = match.group(1) is not None
    return out


def _kernel_module(host: Host, errors: dict[str, str]) -> JSON:
    """``lsmod | grep nvidia``, ``/sys/module/nvidia/version`` (a container sees the host's)."""
    modules = host.read_text("/proc/modules")
    if modules is None:
        state = "unreadable" if host.path("/proc/modules").exists() else "absent"
        errors["kernel_module.loaded"] = f"/proc/modules is {state}"
    version = host.read_text("/sys/module/nvidia/version")
    return {
        "loaded": None
        if modules is None
        else any(line.startswith("nvidia ") for line in modules.splitlines()),
        "version": version.strip() or None if version is not None else None,
    }


def _libcuda(host: Host, ldcache: LdCache | None, errors: dict[str, str]) -> JSON:
    """``ldconfig -p | grep libcuda.so``; WSL2 ships its own under /usr/lib/wsl/lib."""
    cache = ldcache if ldcache is not None else read_ldcache(host)
    if cache.error:
        errors["libcuda.paths"] = cache.error
    return {
        "paths": cache.find("libcuda.so"),
        "wsl_libcuda": host.path("/usr/lib/wsl/lib/libcuda.so").exists(),
    }


def _nvidia_smi(host: Host, run: bool, errors: dict[str, str]) -> JSON:
    """Run ``nvidia-smi`` only when NVML failed: its first lines are the driver's own diagnosis."""
    path = host.which("nvidia-smi")
    out: JSON = {"path": path, "ran": False, "exit_code": None, "timed_out": False, "output": None}
    if path is None or not run:
        return out
    result = host.run([path])
    if result.error:
        errors["nvidia_smi"] = result.describe_failure()
        return out
    out["ran"] = True
    out["timed_out"] = result.timed_out
    out["exit_code"] = None if result.timed_out else result.returncode
    said = [line.rstrip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
    out["output"] = "\n".join([line for line in said if line.strip()][:_NVIDIA_SMI_LINES]) or None
    if result.timed_out:
        errors["nvidia_smi"] = result.describe_failure()
    return out
