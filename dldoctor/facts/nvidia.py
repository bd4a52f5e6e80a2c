"""Facts about the NVIDIA driver and GPUs: NVML, kernel module, libcuda, nvidia-smi's own words."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.facts import nvml, nvml_child
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache, read_ldcache
from dldoctor.facts.reaper import read_bounded

JSON = dict[str, Any]

# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 07:09:40 UTC 2025"
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (…)"
_NVRM = re.compile(r"NVRM version:.*?(Open )?Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)")
_NVIDIA_SMI_LINES = 5
_NVIDIA_SMI_BYTES = 64 << 10  # what it prints past this is not the diagnosis: it is stopped


def gather_nvidia(host: Host, ldcache: LdCache | None = None) -> JSON:
    """The ``nvidia`` section. Never raises; what could not be read is None with its reason."""
    cache = ldcache if ldcache is not None else read_ldcache(host)
    section = nvml_child.query(host, cache)  # NVML, behind a timeout, in a child
    errors: dict[str, str] = section.pop("errors")  # it stays the last key
    status = section["nvml"]["status"]
    section["proc_driver"] = _proc_driver(host)
    section["kernel_module"] = _kernel_module(host, errors)
    section["libcuda"] = _libcuda(cache, host, errors)
    # nvidia-smi's first lines are the driver's own diagnosis when NVML failed; when NVML hung,
    # nvidia-smi (NVML's own client) hangs the same way: one timeout is enough.
    run_smi = status not in (nvml.STATUS_OK, nvml.STATUS_HUNG)
    section["nvidia_smi"] = _nvidia_smi(host, run=run_smi, errors=errors)
    section["errors"] = errors
    return section


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
        "secure_boot": _secure_boot(host),
    }


# The UEFI global variable SecureBoot (EFI_GLOBAL_VARIABLE GUID); efivarfs prefixes its one-byte
# value with four bytes of attributes. What `mokutil --sb-state` reads.
_SECURE_BOOT_VAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c4b7e4ab2"


def _secure_boot(host: Host) -> bool | None:
    """Whether UEFI Secure Boot is on: then the kernel loads only signed modules (an unsigned
    nvidia module is refused: "Key was rejected by service"). False on a BIOS boot; None when
    the variable cannot be read."""
    if not host.path("/sys/firmware/efi").is_dir():
        return False if _lists_firmware(host) else None
    raw = read_bounded(host.path(_SECURE_BOOT_VAR), 64)
    if raw is None:
        return False if not host.path(_SECURE_BOOT_VAR).exists() else None
    return raw[4:5] == b"\x01" if len(raw) >= 5 else None


def _lists_firmware(host: Host) -> bool:
    """Whether /sys/firmware shows the firmware (acpi, devicetree...): a BIOS boot then. A
    container runtime masks it with an empty directory, which says nothing."""
    try:
        return any(True for _ in host.path("/sys/firmware").iterdir())
    except OSError:
        return False


def _libcuda(cache: LdCache, host: Host, errors: dict[str, str]) -> JSON:
    """``ldconfig -p | grep libcuda.so``; WSL2 ships its own under /usr/lib/wsl/lib."""
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
    result = host.run([path], limit_bytes=_NVIDIA_SMI_BYTES)  # we keep its first lines only
    if result.error:
        errors["nvidia_smi"] = result.describe_failure()
        return out
    out["ran"] = True
    out["timed_out"] = result.timed_out
    out["exit_code"] = None if result.timed_out or result.truncated else result.returncode
    said = [line.rstrip()[:400] for line in (result.stdout + "\n" + result.stderr).splitlines()]
    out["output"] = "\n".join([line for line in said if line.strip()][:_NVIDIA_SMI_LINES]) or None
    if result.timed_out or result.truncated:
        errors["nvidia_smi"] = result.describe_failure()
    return out
