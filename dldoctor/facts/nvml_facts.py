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


def nvml_facts(nv: Nvml, windows: bool | None = None) -> JSON:
    """The NVML fields of the ``nvidia`` section; what could not be read is None with its reason.

    When init failed, that failure is the nvml object's own error: no per-field copies.
    ``windows`` (default: whether this is native Windows) asks each GPU's driver model.
    """
    on_windows = os.name == "nt" if windows is None else windows
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
            "gpus": [_gpu(nv, index, on_windows) for index in range(count or 0)],
            "errors": errors,
        }


def _value(value: Any, field: str, errors: dict[str, str]) -> Any:
    """``value``, or None with the reason filed under ``field``."""
    if is_na(value):
        errors[field] = value.reason
        return None
    return value


def _unsupported(nv: Nvml, value: Any) -> bool:
    """NVML says the GPU lacks the feature altogether (no MIG before A100, no ECC on GeForce):
    a known absence, where any other failure leaves the fact unknown."""
    return is_na(value) and value.code == nv.constant("NVML_ERROR_NOT_SUPPORTED", 3)


_GPU_FIELDS = (
    "name", "uuid", "pci_bus_id", "compute_capability", "memory_total_bytes",
    "memory_used_bytes", "utilization_gpu_percent", "utilization_memory_percent",
    "temperature_c", "power_draw_w", "power_limit_w", "mig", "mig_device_count", "mig_devices",
    "ecc", "driver_model", "persistence_mode", "pcie", "running_processes",
)  # fmt: skip


def _gpu(nv: Nvml, index: int, windows: bool = False) -> JSON:
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

    # False: this GPU has no MIG (or no ECC) at all; None: it could not be asked.
    raw_mig = nvml.mig_mode(nv, h)
    mig: Any = False if _unsupported(nv, raw_mig) else got(raw_mig, "mig")
    gpu["mig"] = mig and {"current": mig[0], "pending": mig[1]}
    gpu["mig_device_count"], gpu["mig_devices"] = None, None
    if mig and mig[0]:
        handles = got(nvml.mig_device_handles(nv, h), "mig_devices")
        if handles is not None:
            gpu["mig_device_count"] = len(handles)
            gpu["mig_devices"] = [_mig_device(nv, i, m) for i, m in enumerate(handles)]
    elif mig is not None:  # MIG off, or no MIG: no MIG devices
        gpu["mig_device_count"], gpu["mig_devices"] = 0, []

    raw_ecc = nvml.ecc_enabled(nv, h)
    enabled = None if _unsupported(nv, raw_ecc) else got(raw_ecc, "ecc")
    gpu["ecc"] = False if _unsupported(nv, raw_ecc) else None
    if enabled is not None:
        ecc: JSON = {"enabled": enabled}
        for key, aggregate in (("volatile_uncorrected", False), ("aggregate_uncorrected", True)):
            # Counters are read only while ECC is on.
            count = nvml.ecc_uncorrected(nv, h, aggregate) if enabled else None
            ecc[key] = got(count, f"ecc.{key}")
        gpu["ecc"] = ecc
    # WDDM/TCC exist only on Windows: elsewhere there is no driver model to read (false).
    model: Any = got(nvml.driver_model(nv, h), "driver_model") if windows else False
    gpu["driver_model"] = model and {"current": model[0], "pending": model[1]}
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
        nv = Nvml(module, trace=lambda fn: say({"calling": fn}))
        say({"facts": nvml_facts(nv, args.get("windows"))})
    except Exception as exc:  # a bug here or in a stand-in: one line for the parent
        say({"error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
