"""What NVML says about the driver and each GPU: the NVML half of the ``nvidia`` section.

It runs where NVML is queried: inside the NVML child that ``nvml_child.py`` starts, never in
dldoctor's own process. Stdlib only, and cheap to import: the child starts on every check.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

from dldoctor.facts import nvml
from dldoctor.facts.nvml import Nvml, is_na

JSON = dict[str, Any]


def nvml_facts(nv: Nvml) -> JSON:
    """The NVML fields of the ``nvidia`` section; what could not be read is None with its reason.

    When init failed, that failure is the nvml object's own error: no per-field copies.
    """
    errors: dict[str, str] = {}
    with nv:
        nvml_ok = nv.status == nvml.STATUS_OK
        field_errors: dict[str, str] = errors if nvml_ok else {}
        count = _value(nvml.device_count(nv), "gpu_count", field_errors)
        return {
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
            "errors": errors,
        }


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


def child_main(args: JSON) -> None:
    """In the child: build the module, answer ``nvml_facts`` on the channel (the real stdout)."""
    channel = os.dup(1)
    os.dup2(2, 1)  # what NVML or a binding prints goes to stderr, never into the answer

    def say(message: JSON) -> None:
        os.write(channel, (json.dumps(message, default=str) + "\n").encode())

    try:
        recipe = args["recipe"]
        module = None  # pynvml: Nvml imports it and names an ImportError itself
        if recipe["import"] != "pynvml":
            module = importlib.import_module(recipe["import"])
            if recipe.get("call"):
                module = getattr(module, recipe["call"])(**recipe.get("args", {}))
        say({"facts": nvml_facts(Nvml(module, trace=lambda fn: say({"calling": fn})))})
    except Exception as exc:  # a bug here or in a stand-in: one line for the parent
        say({"error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
