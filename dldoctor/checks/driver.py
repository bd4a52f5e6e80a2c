"""Checks of the NVIDIA driver and NVML: is a driver loaded, and does it answer."""

from __future__ import annotations

from packaging.version import Version

from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes.driver import (
    container_gpu_access,
    container_lost_gpu,
    floor,
    install_driver,
    rebuild_kernel_module,
    reload_modules,
    sign_kernel_module,
)
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Intent, Severity

# The driver's kernel modules, in the order they unload (each uses the next).
_MODULES = ("nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia")


def _toolkit_versions(facts: Facts) -> list[str]:
    return [t["version"] for t in facts.cuda.get("toolkits") or [] if t.get("version")]


def _driver_loaded(facts: Facts) -> bool:
    return bool(need_value(q.driver_loaded(facts), q.DRIVER_FACTS))


def _needed_driver(facts: Facts, matrix: Matrix) -> tuple[str | None, str]:
    """The lowest driver that runs every installed toolkit, and which toolkit sets it."""
    best: tuple[Version, str, str] | None = None
    for version in _toolkit_versions(facts):
        row = matrix.toolkit_floor(version)
        minimum = floor(row, facts)  # the Windows column on Windows and in WSL
        if row and minimum:
            candidate = (Version(minimum), minimum, f"CUDA {row.cuda}")
            if best is None or candidate[0] > best[0]:
                best = candidate
    return (best[1], best[2]) if best else (None, "")


def _nvml_evidence(facts: Facts) -> dict[str, object]:
    nvml = facts.nvidia.get("nvml") or {}
    smi = facts.nvidia.get("nvidia_smi") or {}
    evidence: dict[str, object] = {
        "nvml_status": nvml.get("status"),
        "nvml_error": nvml.get("error"),
    }
    if smi.get("ran"):
        evidence["nvidia_smi"] = smi.get("output") or ("timed out" if smi.get("timed_out") else "")
    return evidence


@check(
    "DD101",
    "toolkit-without-driver",
    "A CUDA toolkit is installed but no NVIDIA driver is loaded",
    Area.NVIDIA,
)
def toolkit_without_driver(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a CUDA toolkit is installed while no NVIDIA driver is loaded and no GPU is seen.

    Why: code compiles against the toolkit but every CUDA program fails at run time with "no CUDA
    driver"; tools that print the toolkit's nvcc as "CUDA runtime" mislead here.

    Fix: none needed on a build-only machine; if a GPU should be here, attach it and install a
    driver at least as new as the toolkit needs; in a container, start it with the host's GPU.
    """
    if not need(facts, "cuda.toolkits"):
        raise NotApplicable("no CUDA toolkit installed")
    toolkits = need_value(_toolkit_versions(facts) or None, "cuda.toolkits.version")
    if _driver_loaded(facts) or need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS):
        return []  # a GPU without a driver is DD104's, with a stronger verdict
    minimum, source = _needed_driver(facts, matrix)
    why = f"{source} needs it" if minimum else "the toolkit needs one"
    return [
        Verdict(
            Severity.WARNING,
            f"CUDA toolkit {', '.join(toolkits)} is installed but no NVIDIA driver is loaded "
            "and no NVIDIA GPU is visible: CUDA code can be compiled here, not run",
            evidence={
                "toolkits": toolkits,
                **_nvml_evidence(facts),
                "driver_needed": minimum,
                "matrix_row": f"cuda_drivers.toml {source}" if source else None,
            },
            fixes=(_toolkit_driver_fix(facts, minimum, why),),
        )
    ]


@check(
    "DD102",
    "driver-library-mismatch",
    "The loaded NVIDIA kernel module and user-space driver differ",
    Area.NVIDIA,
)
def driver_library_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: NVML reports "Driver/library version mismatch".

    Why: the driver was upgraded but the old kernel module is still loaded; every CUDA program
    and nvidia-smi fail until the module is reloaded.

    Fix: reboot (or unload and reload the nvidia kernel modules when no process uses the GPU).
    """
    if need(facts, "nvidia.nvml.status") != "lib_rm_version_mismatch":
        return []
    module = (facts.nvidia.get("proc_driver") or {}).get("version") or (
        facts.nvidia.get("kernel_module") or {}
    ).get("version")
    loaded = f" (loaded kernel module: {module})" if module else ""
    return [
        Verdict(
            Severity.ERROR,
            f"NVIDIA driver/library version mismatch{loaded}: the driver was updated "
            "but the old kernel module is still loaded",
            evidence={**_nvml_evidence(facts), "kernel_module_version": module},
            fixes=(
                fix("Reboot so the new kernel module loads.", Intent(action="reboot"), facts=facts),
                reload_modules(
                    facts,
                    _MODULES,
                    "Or, without a reboot: reload the NVIDIA kernel modules (no process may use "
                    "the GPU, and no display server may run on it).",
                ),
            ),
        )
    ]


_NVML_HINTS = {
    "no_permission": "The user cannot open /dev/nvidia*: add the user to the group that owns "
    "them (often 'video'), or in a container pass the GPU (docker run --gpus all).",
    "function_not_found": "The NVML library is older than the nvidia-ml-py bindings expect: "
    "update the driver, or install an older nvidia-ml-py.",
    "error": "NVML failed; the message above is the driver's own (nvidia-smi shows the same "
    "failure). The kernel log's NVRM lines usually say why.",
}


@check(
    "DD103", "nvml-failure", "NVML, the driver's management library, fails to answer", Area.NVIDIA
)
def nvml_failure(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: NVML initialisation fails for a reason other than "no driver" or "version mismatch".

    Why: frameworks use the same driver; its error is usually theirs too, and today's tools
    print "Could not collect" instead of it.

    Fix: depends on the error: permissions on /dev/nvidia*, a driver older than the bindings,
    or what the kernel log says.
    """
    status = need(facts, "nvidia.nvml.status")  # unknown is not "NVML cannot talk to the driver"
    if status not in _NVML_HINTS:
        return []
    error = (facts.nvidia.get("nvml") or {}).get("error") or status
    return [
        Verdict(
            Severity.ERROR,
            f"NVML cannot talk to the NVIDIA driver: {error}",
            evidence=_nvml_evidence(facts),
            fixes=(_nvml_fix(facts, status or "error"),),
        )
    ]


# NVML_ERROR_UNKNOWN (nvml.h): "An internal driver error occurred"; in a container whose driver
# libraries were mounted, the cgroup refusing the device nodes (nvidia-container-toolkit#48).
_NVML_ERROR_UNKNOWN = 999


def _nvml_fix(facts: Facts, status: str) -> Fix:
    nvml = facts.nvidia.get("nvml") or {}
    in_container = bool((facts.system.get("container") or {}).get("kind"))
    if status == "error" and in_container and nvml.get("error_code") == _NVML_ERROR_UNKNOWN:
        return container_lost_gpu()
    if status == "error":  # the driver's own account is in the kernel log
        return fix(_NVML_HINTS[status], Intent(action="diagnose", value="kernel-log"), facts=facts)
    return Fix(_NVML_HINTS[status])


@check(
    "DD104",
    "gpu-without-driver",
    "An NVIDIA GPU is on the PCI bus but no driver is loaded",
    Area.NVIDIA,
)
def gpu_without_driver(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the PCI bus shows an NVIDIA GPU but no NVIDIA driver is loaded.

    Why: no framework can use the GPU; they silently fall back to the CPU ("CUDA not available").

    Fix: install the NVIDIA driver (at least what the installed CUDA needs) and reboot; if
    nouveau holds the GPU, the driver install blacklists it. In a container, start it with the GPU
    (--gpus all) instead; where the driver is installed but its kernel module is not loaded (a new
    kernel without a DKMS build), rebuild the module.
    """
    devices = need_value(q.nvidia_pci_devices(facts), "accelerators.pci.nvidia")
    if not devices or _driver_loaded(facts):
        return []
    minimum, source = _needed_driver(facts, matrix)
    holders = sorted({str(d["driver"]) for d in devices if d.get("driver")})
    held = (
        f"; the GPU is bound to '{holders[0]}' instead"
        if holders and holders[0] != "nvidia"
        else ""
    )
    count = f"{len(devices)} NVIDIA GPU" + ("s are" if len(devices) > 1 else " is")
    why = f"{source} needs it" if minimum else "required to use the GPU"
    return [
        Verdict(
            Severity.ERROR,
            f"{count} on the PCI bus but no NVIDIA driver is loaded{held}",
            evidence={
                "pci_devices": devices,
                **_nvml_evidence(facts),
                "driver_needed": minimum,
                "matrix_row": f"cuda_drivers.toml {source}" if source else None,
            },
            fixes=(_driver_fix(facts, minimum, why),),
        )
    ]


def _toolkit_driver_fix(facts: Facts, minimum: str | None, why: str) -> Fix:
    """DD101's: no GPU is seen, so the advice holds only if one should be here. In a container
    that GPU is the host's, given at the container's start; no driver is installed inside."""
    if (facts.system.get("container") or {}).get("kind"):
        return container_gpu_access(only_if="the host has an NVIDIA GPU")
    return install_driver(facts, minimum, f"{why}; only if this machine has a GPU")


def _driver_fix(facts: Facts, minimum: str | None, why: str) -> Fix:
    """What brings the driver: the container's GPU access, the kernel module, or a driver."""
    if (facts.system.get("container") or {}).get("kind"):
        return container_gpu_access()
    userspace = q.nvml_status(facts) == "driver_not_loaded" or (
        (facts.nvidia.get("nvidia_smi") or {}).get("path")
    )
    if userspace and (facts.nvidia.get("kernel_module") or {}).get("secure_boot") is True:
        return sign_kernel_module()  # built or not, an unsigned module is refused
    if userspace:  # libnvidia-ml answered "driver not loaded", or nvidia-smi is installed
        return rebuild_kernel_module(facts)
    return install_driver(facts, minimum, why)


@check("DD105", "nvml-hung", "NVML does not answer: the driver is wedged", Area.NVIDIA)
def nvml_hung(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the process asking NVML got no answer within its timeout and was killed.

    Why: a driver that hangs NVML hangs nvidia-smi and every CUDA program the same way: a
    framework blocks at its first CUDA call. Usually a GPU in a bad state (an Xid error in the
    kernel log) or a process stuck in the driver; on a machine with many GPUs and persistence
    mode off, NVML's first initialisation alone can be that slow.

    Fix: read the kernel log for Xid errors, then reset the GPU or reboot; start the
    persistence daemon on a many-GPU machine.
    """
    nvml = facts.nvidia.get("nvml") or {}
    if need(facts, "nvidia.nvml.status") != "hung":
        return []
    seconds = nvml.get("timeout_s")
    within = f" within {seconds:g} s" if isinstance(seconds, (int, float)) else ""
    return [
        Verdict(
            Severity.ERROR,
            f"NVML did not answer{within}: the driver is wedged",
            evidence={**_nvml_evidence(facts), "during": nvml.get("during"), "timeout_s": seconds},
            fixes=(
                fix(
                    "Find what the driver is stuck on in the kernel log (Xid errors), then reset "
                    "the GPU or reboot.",
                    Intent(action="diagnose", value="kernel-errors"),
                    facts=facts,
                    notes="An idle GPU can be reset with `sudo nvidia-smi -r -i INDEX` (no "
                    "process may use it); a GPU that fell off the bus needs a reboot.",
                ),
                fix(
                    "On a machine with many GPUs and persistence mode off, keep the driver "
                    "initialised so NVML answers at once, then run dldoctor again.",
                    Intent(action="service", names=("nvidia-persistenced",)),
                    facts=facts,
                ),
            ),
        )
    ]


def _doing(call: object) -> str:
    if not isinstance(call, str) or not call:
        return "answering"
    return "initialising (nvmlInit)" if call == "nvmlInit" else f"in {call}"


@check("DD106", "nvml-crashed", "NVML crashes when asked about the driver", Area.NVIDIA)
def nvml_crashed(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the process asking NVML died of a signal (SIGSEGV, SIGABRT) in an NVML call.

    Why: the libnvidia-ml.so.1 the loader finds is usually not the running driver's own: a
    stub or another driver's copy earlier on the path (LD_LIBRARY_PATH, a container's stale
    mount). Frameworks load the same library and crash or fail the same way.

    Fix: find which libnvidia-ml.so.1 loads and make it the driver's own (or reinstall the
    driver).
    """
    nvml = facts.nvidia.get("nvml") or {}
    if need(facts, "nvidia.nvml.status") != "crashed":
        return []
    signal = nvml.get("signal") or "a signal"
    return [
        Verdict(
            Severity.ERROR,
            f"NVML crashed ({signal}) while {_doing(nvml.get('during'))}",
            evidence={**_nvml_evidence(facts), "during": nvml.get("during"), "signal": signal},
            fixes=(
                Fix(
                    "Find which libnvidia-ml.so.1 is loaded (LD_LIBRARY_PATH first, then the "
                    "loader cache) and make it the running driver's own, or reinstall the driver.",
                    notes="`ldconfig -p | grep libnvidia-ml` lists the cached copies; one under "
                    "LD_LIBRARY_PATH or left from another driver version wins over the driver's; "
                    "`cat /proc/driver/nvidia/version` names the running driver.",
                ),
            ),
        )
    ]
