"""The GPU readings a profile samples, all through dldoctor's one NVML door (``facts.nvml``).

Device-wide utilisation is NVML's "a kernel was running during the last sample period" (1/6 s
to 1 s by product): a coarse busy signal, not SM efficiency. Per-process figures need a driver
and permissions that allow them, and inside a container's PID namespace NVML reports host PIDs,
so they may find nothing; that is reported as "not available", never guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dldoctor.facts import nvml
from dldoctor.facts.nvml import NotAvailable, Nvml, is_na

MAX_DEVICES = 16


@dataclass
class Device:
    index: int
    handle: Any
    name: str | None
    uuid: str | None
    memory_total_bytes: int | None
    last_seen_us: int = field(default_factory=lambda: int((time.time() - 1.0) * 1e6))


def open_devices(nv: Nvml) -> tuple[list[Device], str | None]:
    """The GPUs NVML sees (at most ``MAX_DEVICES``), or none and the reason."""
    count = nvml.device_count(nv)
    if isinstance(count, NotAvailable):
        return [], count.reason
    if count == 0:
        return [], "NVML sees no GPU"
    devices = []
    for index in range(min(int(count), MAX_DEVICES)):
        h = nvml.handle(nv, index)
        if is_na(h):
            continue
        name, uuid, memory = nvml.name(nv, h), nvml.uuid(nv, h), nvml.memory_bytes(nv, h)
        devices.append(
            Device(
                index,
                h,
                None if isinstance(name, NotAvailable) else name,
                None if isinstance(uuid, NotAvailable) else uuid,
                None if isinstance(memory, NotAvailable) else memory[0],
            )
        )
    return devices, None if devices else "no GPU handle could be opened"


def process_memory_bytes(nv: Nvml, h: Any) -> dict[int, int] | NotAvailable:
    """``nvidia-smi --query-compute-apps=pid,used_memory``: GPU memory per process (bytes).

    ``usedGpuMemory`` is None where the driver hides it (Windows WDDM, some containers).
    """
    fn = "nvmlDeviceGetComputeRunningProcesses"
    procs = nv.query_first([fn, f"{fn}_v3", f"{fn}_v2"], h)
    if isinstance(procs, NotAvailable):
        return procs
    try:
        return {int(p.pid): int(p.usedGpuMemory or 0) for p in procs}
    except Exception as exc:  # an unexpected shape from an old binding
        return NotAvailable(f"unexpected NVML answer: {exc}")


def process_sm_percent(nv: Nvml, device: Device) -> dict[int, float] | NotAvailable:
    """``nvidia-smi pmon -s u`` column ``sm``: each process's SM utilisation since the last call.

    NVML returns the samples newer than ``lastSeenTimeStamp`` (µs, CPU clock); an empty answer
    raises NotFound, which means "no new sample", not an error.
    """
    samples = nv.query("nvmlDeviceGetProcessUtilization", device.handle, device.last_seen_us)
    if isinstance(samples, NotAvailable):
        if samples.code == nv.constant("NVML_ERROR_NOT_FOUND", 6):
            return {}
        return samples
    found: dict[int, list[float]] = {}
    try:
        for s in samples:
            found.setdefault(int(s.pid), []).append(float(s.smUtil))
            device.last_seen_us = max(device.last_seen_us, int(s.timeStamp))
    except Exception as exc:
        return NotAvailable(f"unexpected NVML answer: {exc}")
    return {pid: sum(v) / len(v) for pid, v in found.items()}
