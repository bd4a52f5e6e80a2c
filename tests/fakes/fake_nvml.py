"""A fake pynvml module built from a plain description; raises pynvml's real NVMLError classes.

A description (see ``tests/data/nvml/*.json``) gives the driver, CUDA driver version and GPUs.
A GPU field that is absent or null answers Not Supported, as NVML does for a board without it.
Errors are named like pynvml's classes without the prefix (``"NotSupported"``,
``"DriverNotLoaded"``) and raised as ``pynvml.NVMLError(<real code>)``, so code under test
classifies them by the real mechanism. ``"LibraryMismatch"`` raises
``pynvml.NVMLLibraryMismatchError``, what new pynvml's unversioned wrappers raise on old drivers.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "nvml"
REPO_ROOT = Path(__file__).resolve().parents[2]  # where the child imports ``tests`` from


def nvml_error(name: str) -> Exception:
    """``"NotSupported"`` → ``pynvml.NVMLError_NotSupported`` instance (real code in ``.value``)."""
    if name == "LibraryMismatch":
        return pynvml.NVMLLibraryMismatchError("Unversioned function called and the pyNVML ...")
    cls = getattr(pynvml, f"NVMLError_{name}", None)
    codes = [code for code, known in pynvml.NVMLError._valClassMapping.items() if known is cls]
    if not codes:
        raise ValueError(f"pynvml has no NVMLError_{name}")
    return pynvml.NVMLError(codes[0])  # NVMLError.__new__ picks the subclass for the code


class _Handle:
    def __init__(self, gpu: int, mig: int | None = None) -> None:
        self.gpu, self.mig = gpu, mig

    def __repr__(self) -> str:
        return f"<fake handle gpu={self.gpu} mig={self.mig}>"


class FakeNvml:
    """Same function names as pynvml, answering from ``description``; counts init/shutdown."""

    def __init__(self, description: dict[str, Any], init_delay_s: float = 0.0) -> None:
        self.description = description
        self.gpus: list[dict[str, Any]] = list(description.get("gpus", []))
        self.errors: dict[str, str] = dict(description.get("errors", {}))
        self.init_delay_s = init_delay_s
        self.init_calls = 0
        self.shutdown_calls = 0
        self.refcount = 0
        self._lock = threading.Lock()
        for attr in dir(pynvml):  # constants and error classes, as the real module has them
            if attr.startswith(("NVML_", "NVMLError")):
                setattr(self, attr, getattr(pynvml, attr))
        self.NVMLLibraryMismatchError = pynvml.NVMLLibraryMismatchError

    def dldoctor_recipe(self) -> dict[str, Any]:
        """How dldoctor's NVML child builds this same fake (``from_recipe`` with these args)."""
        return {
            "import": __name__,
            "call": "from_recipe",
            "args": {"description": self.description, "init_delay_s": self.init_delay_s},
            "path": [str(REPO_ROOT)],
        }

    # -- plumbing ---------------------------------------------------------------------------

    def _check(self, fn: str, h: _Handle | None = None) -> dict[str, Any]:
        if self.refcount <= 0:
            raise nvml_error("Uninitialized")
        if fn in self.errors:
            raise nvml_error(self.errors[fn])
        if h is None:
            return {}
        if not isinstance(h, _Handle) or h.gpu >= len(self.gpus):
            raise nvml_error("InvalidArgument")
        gpu = self.gpus[h.gpu]
        if fn in gpu.get("errors", {}):
            raise nvml_error(gpu["errors"][fn])
        if h.mig is not None:
            return dict(gpu["mig_devices"][h.mig])
        return gpu

    def _field(self, fn: str, h: _Handle | None, key: str) -> Any:
        gpu = self._check(fn, h)
        value = (gpu if h is not None else self.description).get(key)
        if value is None:
            raise nvml_error("NotSupported")
        if isinstance(value, str) and self.description.get("strings_as_bytes"):
            return value.encode()  # what pynvml < 11.5 returned for char buffers
        return value

    # -- init -------------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        with self._lock:
            self.init_calls += 1
        time.sleep(self.init_delay_s)
        if self.description.get("init_error"):
            raise nvml_error(self.description["init_error"])
        with self._lock:
            self.refcount += 1

    def nvmlShutdown(self) -> None:
        self._check("nvmlShutdown")
        with self._lock:
            self.shutdown_calls += 1
            self.refcount -= 1

    # -- system -----------------------------------------------------------------------------

    def nvmlSystemGetDriverVersion(self) -> Any:
        return self._field("nvmlSystemGetDriverVersion", None, "driver_version")

    def nvmlSystemGetNVMLVersion(self) -> Any:
        return self._field("nvmlSystemGetNVMLVersion", None, "nvml_version")

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return int(self._field("nvmlSystemGetCudaDriverVersion", None, "cuda_driver_version"))

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return int(self._field("nvmlSystemGetCudaDriverVersion_v2", None, "cuda_driver_version"))

    def nvmlDeviceGetCount(self) -> int:
        self._check("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._check("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise nvml_error("InvalidArgument")
        if self.gpus[index].get("lost"):
            raise nvml_error("GpuIsLost")
        return _Handle(index)

    # -- device -----------------------------------------------------------------------------

    def nvmlDeviceGetName(self, h: _Handle) -> Any:
        return self._field("nvmlDeviceGetName", h, "name")

    def nvmlDeviceGetUUID(self, h: _Handle) -> Any:
        return self._field("nvmlDeviceGetUUID", h, "uuid")

    def nvmlDeviceGetPciInfo(self, h: _Handle) -> SimpleNamespace:
        return SimpleNamespace(busId=self._field("nvmlDeviceGetPciInfo", h, "pci_bus_id"))

    def nvmlDeviceGetCudaComputeCapability(self, h: _Handle) -> tuple[int, int]:
        major, minor = self._field("nvmlDeviceGetCudaComputeCapability", h, "compute_capability")
        return (major, minor)

    def nvmlDeviceGetMemoryInfo(self, h: _Handle) -> SimpleNamespace:
        total = self._field("nvmlDeviceGetMemoryInfo", h, "memory_total_bytes")
        used = self._check("nvmlDeviceGetMemoryInfo", h).get("memory_used_bytes", 0)
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetUtilizationRates(self, h: _Handle) -> SimpleNamespace:
        gpu = self._field("nvmlDeviceGetUtilizationRates", h, "utilization_gpu_percent")
        memory = self._field("nvmlDeviceGetUtilizationRates", h, "utilization_memory_percent")
        return SimpleNamespace(gpu=gpu, memory=memory)

    def nvmlDeviceGetTemperature(self, h: _Handle, sensor: int) -> int:
        return int(self._field("nvmlDeviceGetTemperature", h, "temperature_c"))

    def nvmlDeviceGetTemperatureV(self, h: _Handle, sensor: int, version: int = 0) -> int:
        return int(self._field("nvmlDeviceGetTemperatureV", h, "temperature_c"))

    def nvmlDeviceGetPowerUsage(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetPowerUsage", h, "power_draw_mw"))

    def nvmlDeviceGetEnforcedPowerLimit(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetEnforcedPowerLimit", h, "power_limit_mw"))

    def nvmlDeviceGetPowerManagementLimit(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetPowerManagementLimit", h, "power_limit_mw"))

    def nvmlDeviceGetMigMode(self, h: _Handle) -> list[int]:
        return list(self._field("nvmlDeviceGetMigMode", h, "mig_mode"))

    def nvmlDeviceGetMaxMigDeviceCount(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetMaxMigDeviceCount", h, "max_mig_device_count"))

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: _Handle, index: int) -> _Handle:
        gpu = self._check("nvmlDeviceGetMigDeviceHandleByIndex", h)
        if not gpu.get("mig_mode") or not gpu["mig_mode"][0]:
            raise nvml_error("InvalidArgument")
        if index >= len(gpu.get("mig_devices", [])):
            raise nvml_error("NotFound")  # an empty slot
        return _Handle(h.gpu, index)

    def nvmlDeviceGetEccMode(self, h: _Handle) -> list[int]:
        return list(self._field("nvmlDeviceGetEccMode", h, "ecc_mode"))

    def nvmlDeviceGetTotalEccErrors(self, h: _Handle, error_type: int, counter: int) -> int:
        key = (
            "ecc_aggregate_uncorrected"
            if counter == pynvml.NVML_AGGREGATE_ECC
            else "ecc_volatile_uncorrected"
        )
        return int(self._field("nvmlDeviceGetTotalEccErrors", h, key))

    def nvmlDeviceGetDriverModel_v2(self, h: _Handle) -> list[int]:
        return list(self._field("nvmlDeviceGetDriverModel_v2", h, "driver_model"))

    def nvmlDeviceGetPersistenceMode(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetPersistenceMode", h, "persistence_mode"))

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetCurrPcieLinkGeneration", h, "pcie_gen_current"))

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetMaxPcieLinkGeneration", h, "pcie_gen_max"))

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetCurrPcieLinkWidth", h, "pcie_width_current"))

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: _Handle) -> int:
        return int(self._field("nvmlDeviceGetMaxPcieLinkWidth", h, "pcie_width_max"))

    def _processes(self, fn: str, h: _Handle, key: str) -> list[SimpleNamespace]:
        count = int(self._check(fn, h).get(key, 0))
        return [SimpleNamespace(pid=1000 + i, usedGpuMemory=None) for i in range(count)]

    def nvmlDeviceGetComputeRunningProcesses(self, h: _Handle) -> list[SimpleNamespace]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses", h, "compute_processes")

    def nvmlDeviceGetComputeRunningProcesses_v2(self, h: _Handle) -> list[SimpleNamespace]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses_v2", h, "compute_processes")

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: _Handle) -> list[SimpleNamespace]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses", h, "graphics_processes")

    def nvmlDeviceGetGraphicsRunningProcesses_v2(self, h: _Handle) -> list[SimpleNamespace]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses_v2", h, "graphics_processes")


def from_recipe(description: dict[str, Any], init_delay_s: float = 0.0) -> FakeNvml:
    """The fake, built again in dldoctor's NVML child from ``FakeNvml.dldoctor_recipe``."""
    return FakeNvml(description, init_delay_s)


def load_description(name: str) -> dict[str, Any]:
    """The JSON description ``tests/data/nvml/<name>.json`` (``"h100"`` or ``"h100.json"``)."""
    path = FIXTURES / (name if name.endswith(".json") else f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_fake(name: str, **overrides: Any) -> FakeNvml:
    """A ``FakeNvml`` from a fixture; ``overrides`` replace top-level keys (``init_error=...``)."""
    description = load_description(name)
    description.update(overrides)
    return FakeNvml(description)


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))
