"""GPUs and accelerators seen without any vendor library: PCI, ROCm, Apple, Intel XPU."""

from __future__ import annotations

import os
import platform
from typing import Any

from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache, read_ldcache
from dldoctor.facts.system_macos import macos_product_version, read_sysctl

JSON = dict[str, Any]

_PCI_VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel"}
_PCI_DEVICES = "/sys/bus/pci/devices"


def gather_accelerators(
    host: Host, ldcache: LdCache | None = None, os_name: str | None = None
) -> JSON:
    """The ``accelerators`` section. ``ldcache`` is read (``ldconfig -p``) only when not given."""
    name = os_name or platform.system()
    linux = name == "Linux"
    if linux and ldcache is None:
        ldcache = read_ldcache(host)
    return {
        "pci": pci_display_devices(host) if linux else _empty_pci(f"no PCI listing on {name}"),
        "rocm": _rocm(host),
        "apple": _apple(host, name == "Darwin"),
        "intel_xpu": _intel_xpu(host, ldcache if linux else None),
    }


def _empty_pci(error: str | None) -> JSON:
    return {"nvidia": [], "amd": [], "intel": [], "dxg_present": False, "error": error}


def pci_display_devices(host: Host) -> JSON:
    """Display and 3D controllers (PCI class 0x03xxxx) of NVIDIA, AMD and Intel, with the kernel
    driver bound to each (None: no driver has claimed it — e.g. the NVIDIA module is not loaded).

    ``dxg_present``: under WSL2 the GPU reaches Linux through /dev/dxg, not as a PCI device.
    """
    found = _empty_pci(None)
    found["dxg_present"] = host.path("/dev/dxg").exists()
    try:
        entries = sorted(host.path(_PCI_DEVICES).iterdir())
    except OSError as exc:
        found["error"] = f"cannot list {_PCI_DEVICES}: {exc.strerror or exc}"
        return found
    for entry in entries:
        base = f"{_PCI_DEVICES}/{entry.name}"
        vendor = (host.read_text(f"{base}/vendor") or "").strip().lower()
        device_class = (host.read_text(f"{base}/class") or "").strip().lower()
        if vendor not in _PCI_VENDORS or not device_class.startswith("0x03"):
            continue
        try:
            driver: str | bool = os.path.basename(os.readlink(entry / "driver"))
        except OSError:  # no link: no driver bound (False is "none", None would be unknown)
            driver = False
        found[_PCI_VENDORS[vendor]].append(
            {
                "address": entry.name,
                "device_id": (host.read_text(f"{base}/device") or "").strip().lower() or None,
                "class": device_class,
                "driver": driver,
            }
        )
    return found


def _rocm(host: Host) -> JSON:
    errors: dict[str, str] = {}
    candidates = [p for p in (host.env.get("ROCM_PATH"), "/opt/rocm") if p]
    path = next((p for p in candidates if host.path(p).is_dir()), None)
    version = None
    if path is not None:
        text = host.read_text(f"{path}/.info/version")
        if text and text.strip():
            version = text.strip().splitlines()[0].split("-")[0]  # "6.2.0-66": drop the build
        else:
            version = _version_from_link(host, path)  # /opt/rocm -> /opt/rocm-6.2.0
            if version is None:
                errors["version"] = f"{path}/.info/version is missing or empty"
    return {  # False: no ROCm installed (None would be unknown)
        "path": path if path is not None else False,
        "version": version if path is not None else False,
        "kfd_present": host.path("/dev/kfd").exists(),
        "errors": errors,
    }


def _version_from_link(host: Host, path: str) -> str | None:
    try:
        target = os.path.basename(os.readlink(host.path(path)).rstrip("/"))
    except OSError:
        return None
    prefix, _, version = target.partition("-")
    return version if prefix == "rocm" and version[:1].isdigit() else None


def _apple(host: Host, is_macos: bool) -> JSON:
    # Off macOS there is no macOS version and no Apple silicon: False ("none"), not unknown.
    none = None if is_macos else False
    facts: JSON = {"is_macos": is_macos, "macos_version": none, "hardware_arm64": none}
    errors: dict[str, str] = {}
    if is_macos:
        facts["macos_version"], problem = macos_product_version(host)
        if problem:
            errors["macos_version"] = problem
        # hw.optional.arm64 is 1 on Apple silicon even for an x86_64 Python under Rosetta 2,
        # and unknown to Intel Macs' kernels (sysctl then prints nothing for it).
        values, problem = read_sysctl(host, ["hw.optional.arm64"])
        if problem:
            errors["hardware_arm64"] = problem
        else:
            facts["hardware_arm64"] = values.get("hw.optional.arm64") == "1"
    facts["errors"] = errors
    return facts


def _intel_xpu(host: Host, ldcache: LdCache | None) -> JSON:
    errors: dict[str, str] = {}
    try:
        nodes = sorted(f"/dev/dri/{p.name}" for p in host.path("/dev/dri").glob("renderD*"))
    except OSError as exc:
        nodes = []
        errors["render_nodes"] = f"/dev/dri: {exc.strerror or exc}"
    candidates = [p for p in (host.env.get("ONEAPI_ROOT"), "/opt/intel/oneapi") if p]
    loaders: list[str] = []
    if ldcache is not None:
        loaders = ldcache.find("libze_loader.so")
        if ldcache.error:
            errors["level_zero_loader"] = ldcache.error
    return {
        "render_nodes": nodes,
        "oneapi_path": next((p for p in candidates if host.path(p).is_dir()), False),
        "level_zero_loader": loaders,
        "errors": errors,
    }
