"""The one door to NVML: lazy thread-safe init; queries give "not available" with the reason.

``check`` runs it inside a child process (``facts/nvml_child.py``), behind a timeout.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from dldoctor.facts.host import Host

# Init outcomes. Each failure is named for its usual root cause, which the checks explain:
STATUS_OK = "ok"
# ``import pynvml`` failed: the nvidia-ml-py package is not installed in this interpreter.
STATUS_MODULE_MISSING = "module_missing"
# libnvidia-ml.so.1 could not be loaded: no NVIDIA driver installed, a container started without
# the NVIDIA runtime (``--gpus``), or a stale ldconfig cache after a manual install.
STATUS_LIBRARY_NOT_FOUND = "library_not_found"
# The library loaded but the kernel module is not running: no NVIDIA GPU, the module failed to
# build for the running kernel (DKMS after a kernel upgrade), refused by Secure Boot (unsigned),
# or nouveau bound to the GPU.
STATUS_DRIVER_NOT_LOADED = "driver_not_loaded"
# User-space library and kernel module differ: the driver was upgraded without a reboot (the old
# module is still loaded), or a container's user-space driver files differ from the host's.
STATUS_LIB_RM_VERSION_MISMATCH = "lib_rm_version_mismatch"
# /dev/nvidia* is not accessible: device nodes not passed into the container, cgroup device
# rules, or permissions/group of the device nodes.
STATUS_NO_PERMISSION = "no_permission"
# The loaded libnvidia-ml lacks an entry point the bindings call: a driver older than the
# nvidia-ml-py bindings expect, or a stub or foreign libnvidia-ml earlier on the loader path.
STATUS_FUNCTION_NOT_FOUND = "function_not_found"
STATUS_ERROR = "error"
# The child querying NVML gave no answer within its timeout and was killed: a wedged driver (a
# GPU in a bad state after an Xid error, a process stuck in the kernel), or on a machine with
# many GPUs and persistence mode off, an initialisation slower than the timeout.
STATUS_HUNG = "hung"
# The child querying NVML died of a signal (SIGSEGV, SIGABRT): a broken or foreign
# libnvidia-ml.so.1 on the loader path, or a driver bug.
STATUS_CRASHED = "crashed"

STATUSES = (
    STATUS_OK,
    STATUS_MODULE_MISSING,
    STATUS_LIBRARY_NOT_FOUND,
    STATUS_DRIVER_NOT_LOADED,
    STATUS_LIB_RM_VERSION_MISMATCH,
    STATUS_NO_PERMISSION,
    STATUS_FUNCTION_NOT_FOUND,
    STATUS_ERROR,
    STATUS_HUNG,
    STATUS_CRASHED,
)

# NVML return codes (nvml.h; pynvml's NVML_ERROR_* constants win when the module has them).
_INIT_ERROR_CODES = {
    "NVML_ERROR_LIBRARY_NOT_FOUND": (12, STATUS_LIBRARY_NOT_FOUND),
    "NVML_ERROR_DRIVER_NOT_LOADED": (9, STATUS_DRIVER_NOT_LOADED),
    "NVML_ERROR_LIB_RM_VERSION_MISMATCH": (18, STATUS_LIB_RM_VERSION_MISMATCH),
    "NVML_ERROR_NO_PERMISSION": (4, STATUS_NO_PERMISSION),
    "NVML_ERROR_FUNCTION_NOT_FOUND": (13, STATUS_FUNCTION_NOT_FOUND),
}


@dataclass(frozen=True)
class NotAvailable:
    """A value NVML could not give, and why: the verbatim NVML message and its error code."""

    reason: str
    code: int | None = None
    # The function itself is absent (old driver or old pynvml), rather than failing.
    missing_function: bool = False

    def __bool__(self) -> bool:
        return False


def is_na(value: object) -> bool:
    return isinstance(value, NotAvailable)


def text(value: Any) -> str:
    """NVML strings as ``str``: older pynvml returns ``bytes`` from char buffers."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def error_code(exc: BaseException) -> int | None:
    """The NVML return code an ``NVMLError`` carries (``.value``), or None for other exceptions."""
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def describe(exc: BaseException) -> str:
    """The verbatim NVML message (``str(NVMLError)``); other exceptions keep their type's name."""
    if error_code(exc) is not None:
        return str(exc) or f"NVML error code {error_code(exc)}"
    return f"{type(exc).__name__}: {exc}"


class Nvml:
    """One NVML session over a module object (pynvml or a fake with the same functions).

    ``nvmlInit`` runs once, lazily, on the first query or ``init()``, under a lock; ``shutdown()``
    (or leaving the ``with`` block) balances it. Queries never raise. ``trace`` hears the name of
    each NVML function just before it is called (the child says where it hung or crashed).
    """

    def __init__(self, module: Any = None, trace: Callable[[str], None] | None = None) -> None:
        self._module = module
        self._trace = trace or (lambda fn: None)
        self._lock = threading.Lock()
        self._started = False
        self._initialized = False
        self.status = STATUS_ERROR
        self.error: str | None = "NVML not initialised yet"
        self.error_code: int | None = None

    @classmethod
    def for_host(cls, host: Host) -> Nvml:
        return cls(host.nvml)

    @property
    def ok(self) -> bool:
        return self.init() == STATUS_OK

    def init(self) -> str:
        """Initialise once and return the status; failures are classified, never raised."""
        with self._lock:
            if not self._started:
                self._started = True
                self._init_locked()
            return self.status

    def _init_locked(self) -> None:
        if self._module is None:
            try:
                self._module = importlib.import_module("pynvml")
            except ImportError as exc:  # nvidia-ml-py not installed
                self.status, self.error = STATUS_MODULE_MISSING, str(exc)
                return
        try:
            self._trace("nvmlInit")
            self._module.nvmlInit()
        except Exception as exc:  # NVMLError, or anything a broken binding throws
            self.status, self.error = self._classify(exc), describe(exc)
            self.error_code = error_code(exc)
            return
        self._initialized = True
        self.status, self.error = STATUS_OK, None

    def _classify(self, exc: BaseException) -> str:
        code = error_code(exc)
        if code is None:
            return STATUS_ERROR
        for name, (default, status) in _INIT_ERROR_CODES.items():
            if code == getattr(self._module, name, default):
                return status
        return STATUS_ERROR

    def shutdown(self) -> None:
        """``nvmlShutdown`` if this session initialised NVML; the next query initialises again."""
        with self._lock:
            if self._initialized:
                # Nothing useful to do about a failed shutdown.
                with contextlib.suppress(Exception):
                    self._trace("nvmlShutdown")
                    self._module.nvmlShutdown()
            self._initialized = False
            self._started = False

    def __enter__(self) -> Nvml:
        self.init()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    def constant(self, name: str, default: int) -> int:
        """A pynvml constant (``NVML_VOLATILE_ECC``), or nvml.h's value if the module lacks it."""
        value = getattr(self._module, name, default)
        return value if isinstance(value, int) else default

    def query(self, fn: str, *args: Any) -> Any:
        """Call ``pynvml.<fn>(*args)``; any failure becomes ``NotAvailable`` with its reason."""
        if self.init() != STATUS_OK:
            return NotAvailable(f"NVML not initialised: {self.error}", self.error_code)
        func = getattr(self._module, fn, None)
        if not callable(func):
            return NotAvailable(f"{fn} is not in this pynvml (nvidia-ml-py too old)", None, True)
        try:
            self._trace(fn)
            return func(*args)
        except Exception as exc:  # NVMLError_NotSupported, _GpuIsLost, mismatch errors, ...
            code = error_code(exc)
            missing = code == self.constant("NVML_ERROR_FUNCTION_NOT_FOUND", 13) or (
                type(exc).__name__ == "NVMLLibraryMismatchError"
            )
            return NotAvailable(describe(exc), code, missing)

    def query_first(self, fns: Sequence[str], *args: Any) -> Any:
        """The first of ``fns`` to answer (newest API first), else why the first present one failed.

        Older drivers lack the versioned entry points newer pynvml calls, and unversioned wrappers
        raise ``NVMLLibraryMismatchError`` there; the next name in the list is the fallback.
        """
        failures: list[NotAvailable] = []
        for fn in fns:
            value = self.query(fn, *args)
            if not isinstance(value, NotAvailable):
                return value
            failures.append(value)
        present = [f for f in failures if not f.missing_function]
        return (present or failures or [NotAvailable("no function to call")])[0]


# Queries. Each returns a plain value or ``NotAvailable``; the docstring names what nvidia-smi
# shows for the same thing. Power is reported by NVML in milliwatts, converted here to watts.


def driver_version(nv: Nvml) -> str | NotAvailable:
    """``nvidia-smi --query-gpu=driver_version``: the user-space driver, e.g. ``580.65.06``."""
    return _map(nv.query("nvmlSystemGetDriverVersion"), text)


def nvml_version(nv: Nvml) -> str | NotAvailable:
    """``nvidia-smi -q`` header: NVML's own version, e.g. ``13.580.65.06``."""
    return _map(nv.query("nvmlSystemGetNVMLVersion"), text)


def cuda_driver_version(nv: Nvml) -> str | NotAvailable:
    """``nvidia-smi`` "CUDA Version": newest CUDA the driver supports; 13000 becomes ``13.0``."""
    raw = nv.query_first(["nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"])
    return _map(raw, lambda v: f"{int(v) // 1000}.{int(v) % 1000 // 10}")


def device_count(nv: Nvml) -> int | NotAvailable:
    """``nvidia-smi --query-gpu=count``: physical GPUs the driver sees (MIG devices not counted)."""
    return _map(nv.query("nvmlDeviceGetCount"), int)


def handle(nv: Nvml, index: int) -> Any:
    """``nvidia-smi -i INDEX``; fails alone for a GPU that fell off the bus (``GPU is lost``)."""
    return nv.query("nvmlDeviceGetHandleByIndex", index)


def name(nv: Nvml, h: Any) -> str | NotAvailable:
    """``nvidia-smi --query-gpu=name``."""
    return _map(nv.query("nvmlDeviceGetName", h), text)


def uuid(nv: Nvml, h: Any) -> str | NotAvailable:
    """``nvidia-smi --query-gpu=uuid`` (``GPU-…``; ``MIG-…`` for a MIG device handle)."""
    return _map(nv.query("nvmlDeviceGetUUID", h), text)


def pci_bus_id(nv: Nvml, h: Any) -> str | NotAvailable:
    """``nvidia-smi --query-gpu=pci.bus_id``, e.g. ``00000000:01:00.0``."""
    return _map(nv.query("nvmlDeviceGetPciInfo", h), lambda info: text(info.busId))


def compute_capability(nv: Nvml, h: Any) -> str | NotAvailable:
    """``nvidia-smi --query-gpu=compute_cap``, e.g. ``9.0``."""
    return _map(nv.query("nvmlDeviceGetCudaComputeCapability", h), lambda mm: f"{mm[0]}.{mm[1]}")


def memory_bytes(nv: Nvml, h: Any) -> tuple[int, int] | NotAvailable:
    """``nvidia-smi --query-gpu=memory.total,memory.used`` in bytes: (total, used)."""
    return _map(nv.query("nvmlDeviceGetMemoryInfo", h), lambda m: (int(m.total), int(m.used)))


def utilization_percent(nv: Nvml, h: Any) -> tuple[int, int] | NotAvailable:
    """``nvidia-smi --query-gpu=utilization.gpu,utilization.memory``: (gpu, memory) in %."""
    return _map(nv.query("nvmlDeviceGetUtilizationRates", h), lambda u: (int(u.gpu), int(u.memory)))


def temperature_c(nv: Nvml, h: Any) -> int | NotAvailable:
    """``nvidia-smi --query-gpu=temperature.gpu`` in °C (``…TemperatureV`` on newer drivers)."""
    sensor = nv.constant("NVML_TEMPERATURE_GPU", 0)
    return _map(
        nv.query_first(["nvmlDeviceGetTemperatureV", "nvmlDeviceGetTemperature"], h, sensor), int
    )


def power_draw_w(nv: Nvml, h: Any) -> float | NotAvailable:
    """``nvidia-smi --query-gpu=power.draw`` in W; often Not Supported on GeForce/older boards."""
    return _map(nv.query("nvmlDeviceGetPowerUsage", h), lambda mw: int(mw) / 1000.0)


def power_limit_w(nv: Nvml, h: Any) -> float | NotAvailable:
    """``nvidia-smi --query-gpu=enforced.power.limit`` in W (falls back to ``power.limit``)."""
    fns = ["nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"]
    return _map(nv.query_first(fns, h), lambda mw: int(mw) / 1000.0)


def mig_mode(nv: Nvml, h: Any) -> tuple[bool, bool] | NotAvailable:
    """``nvidia-smi --query-gpu=mig.mode.current,mig.mode.pending``; Not Supported before A100."""
    return _map(nv.query("nvmlDeviceGetMigMode", h), lambda m: (bool(m[0]), bool(m[1])))


def mig_device_handles(nv: Nvml, h: Any) -> list[Any] | NotAvailable:
    """``nvidia-smi -L`` ``MIG …`` lines: handles of the MIG devices that exist on this GPU.

    NVML has slots up to ``nvmlDeviceGetMaxMigDeviceCount``; an empty slot answers Not Found.
    """
    slots = nv.query("nvmlDeviceGetMaxMigDeviceCount", h)
    if is_na(slots):
        return slots
    found = [nv.query("nvmlDeviceGetMigDeviceHandleByIndex", h, i) for i in range(int(slots))]
    return [m for m in found if not is_na(m)]


def ecc_enabled(nv: Nvml, h: Any) -> bool | NotAvailable:
    """``nvidia-smi --query-gpu=ecc.mode.current``; Not Supported on most GeForce boards."""
    return _map(nv.query("nvmlDeviceGetEccMode", h), lambda m: bool(m[0]))


def ecc_uncorrected(nv: Nvml, h: Any, aggregate: bool) -> int | NotAvailable:
    """``nvidia-smi --query-gpu=ecc.errors.uncorrected.{volatile,aggregate}.total``."""
    kind = nv.constant("NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1)
    counter = (
        nv.constant("NVML_AGGREGATE_ECC", 1) if aggregate else nv.constant("NVML_VOLATILE_ECC", 0)
    )
    return _map(nv.query("nvmlDeviceGetTotalEccErrors", h, kind, counter), int)


# nvml.h's nvmlDriverModel_t: NVML_DRIVER_WDM is what nvidia-smi calls TCC.
DRIVER_MODELS = {0: "WDDM", 1: "TCC", 2: "MCDM"}


def driver_model(nv: Nvml, h: Any) -> tuple[str | None, str | None] | NotAvailable:
    """``nvidia-smi --query-gpu=driver_model.current,driver_model.pending`` (Windows only)."""
    fns = ["nvmlDeviceGetDriverModel_v2", "nvmlDeviceGetDriverModel_v1", "nvmlDeviceGetDriverModel"]
    return _map(
        nv.query_first(fns, h),
        lambda m: (DRIVER_MODELS.get(int(m[0])), DRIVER_MODELS.get(int(m[1]))),
    )


def persistence_mode(nv: Nvml, h: Any) -> bool | NotAvailable:
    """``nvidia-smi --query-gpu=persistence_mode`` (Linux only)."""
    return _map(nv.query("nvmlDeviceGetPersistenceMode", h), bool)


def pcie_link(nv: Nvml, h: Any, what: str) -> int | NotAvailable:
    """``nvidia-smi --query-gpu=pcie.link.{gen,width}.{current,max}``; ``what``: e.g. ``gen_max``.

    A link that trains below its maximum at idle is normal (power saving); under load it is not.
    """
    fn = {
        "gen_current": "nvmlDeviceGetCurrPcieLinkGeneration",
        "gen_max": "nvmlDeviceGetMaxPcieLinkGeneration",
        "width_current": "nvmlDeviceGetCurrPcieLinkWidth",
        "width_max": "nvmlDeviceGetMaxPcieLinkWidth",
    }[what]
    return _map(nv.query(fn, h), int)


def running_process_count(nv: Nvml, h: Any) -> int | NotAvailable:
    """``nvidia-smi --query-compute-apps`` plus graphics apps: processes holding this GPU.

    Without root, or inside a container's PID namespace, NVML may list fewer than exist.
    """
    total = 0
    for kind in ("Compute", "Graphics"):
        fn = f"nvmlDeviceGet{kind}RunningProcesses"
        procs = nv.query_first([fn, f"{fn}_v3", f"{fn}_v2"], h)
        if is_na(procs):
            return procs
        total += len(procs)
    return total


def _map(value: Any, convert: Any) -> Any:
    """``convert(value)`` unless it is ``NotAvailable``; a malformed answer becomes one too."""
    if is_na(value):
        return value
    try:
        return convert(value)
    except Exception as exc:  # a fake or an old binding returning an unexpected shape
        return NotAvailable(f"unexpected NVML answer {value!r}: {exc}")
