"""Linux readers for the system section: /proc/cpuinfo, cgroup limits, container, WSL, libc."""

from __future__ import annotations

import os
import re
from typing import Any

from dldoctor.facts.host import Host

JSON = dict[str, Any]

# The instruction sets that framework builds require or dispatch kernels on, spelled as in
# /proc/cpuinfo; the rest of the flags line (dozens of entries) is left out.
X86_FLAGS = frozenset(
    {
        "sse4_1",
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx_vnni",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512dq",
        "avx512cd",
        "avx512_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "amx_tile",
        "amx_bf16",
        "amx_int8",
    }
)
ARM_FLAGS = frozenset(
    {
        "asimd",
        "asimdhp",
        "asimddp",
        "asimdfhm",
        "sve",
        "sve2",
        "svebf16",
        "svei8mm",
        "bf16",
        "i8mm",
        "sme",
        "sme2",
    }
)
_WANTED_FLAGS = X86_FLAGS | ARM_FLAGS

# "CPU implementer" codes of arm64 /proc/cpuinfo (Linux arch/arm64/include/asm/cputype.h).
_ARM_IMPLEMENTERS = {
    "0x41": "ARM",
    "0x42": "Broadcom",
    "0x43": "Cavium",
    "0x46": "Fujitsu",
    "0x48": "HiSilicon",
    "0x4e": "NVIDIA",
    "0x50": "APM",
    "0x51": "Qualcomm",
    "0x61": "Apple",
    "0x6d": "Microsoft",
    "0xc0": "Ampere",
}
# cgroup v1 writes "no limit" as the largest page-aligned int64; anything this big is no limit.
_UNLIMITED_BYTES = 1 << 62


def parse_cpuinfo(text: str) -> JSON:
    """Model, vendor, processor count and wanted flags from /proc/cpuinfo (x86-64 or arm64)."""
    processors = 0
    first: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        processors += key == "processor"
        first.setdefault(key, value.strip())
    flags = first.get("flags", first.get("Features"))  # arm64 says "Features"
    implementer = first.get("CPU implementer", "").lower()
    return {
        "model": first.get("model name") or first.get("Model") or None,
        "vendor": first.get("vendor_id") or _ARM_IMPLEMENTERS.get(implementer, implementer) or None,
        "logical_cores": processors or None,
        "flags": None if flags is None else sorted(set(flags.split()) & _WANTED_FLAGS),
    }


def count_cpu_list(text: str) -> int | None:
    """How many CPUs a kernel CPU list names ("0-3,8-11" → 8), or None if it is not one."""
    total = 0
    for part in text.strip().split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        total += int(high or low) - int(low) + 1
    return total or None


def _cgroup_dirs(host: Host, controller: str) -> list[tuple[int, str]]:
    """(version, directory) of this process's cgroup and its ancestors, v2 and v1 ``controller``.

    Inside a container without a cgroup namespace /proc/self/cgroup names the host's path
    (/docker/ID), which is not mounted there; walking up reaches the container's own root.
    """
    dirs: list[tuple[int, str]] = []
    for line in (host.read_text("/proc/self/cgroup") or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            version, bases = 2, ["/sys/fs/cgroup"]
        elif controller in controllers.split(","):
            version, bases = 1, [f"/sys/fs/cgroup/{controllers}", f"/sys/fs/cgroup/{controller}"]
        else:
            continue
        base = next((b for b in bases if host.path(b).is_dir()), None)
        if base is None:
            continue
        parts = [p for p in path.strip().split("/") if p]
        dirs.extend(
            (version, "/".join([base, *parts[:depth]])) for depth in range(len(parts), -1, -1)
        )
    return dirs


def cgroup_cpu_quota_cores(host: Host) -> float | None:
    """The tightest CPU quota (in CPUs, 1.5 = 150000/100000) on this process's cgroup path."""
    limits = []
    for version, directory in _cgroup_dirs(host, "cpu"):
        if version == 2:
            fields = (host.read_text(f"{directory}/cpu.max") or "").split()
            quota, period = fields if len(fields) == 2 else ("max", "")
        else:
            quota = (host.read_text(f"{directory}/cpu.cfs_quota_us") or "").strip()
            period = (host.read_text(f"{directory}/cpu.cfs_period_us") or "").strip()
        if quota.isdigit() and period.isdigit() and int(period) > 0:  # "max" and "-1": no quota
            limits.append(int(quota) / int(period))
    return min(limits) if limits else None


def cgroup_memory_limit_bytes(host: Host) -> int | None:
    """The tightest memory limit on this process's cgroup path, or None when there is none."""
    limits = []
    for version, directory in _cgroup_dirs(host, "memory"):
        name = "memory.max" if version == 2 else "memory.limit_in_bytes"
        value = (host.read_text(f"{directory}/{name}") or "").strip()
        if value.isdigit() and int(value) < _UNLIMITED_BYTES:
            limits.append(int(value))
    return min(limits) if limits else None


def container(host: Host) -> tuple[str | None, str | None]:
    """(kind, evidence): which container runtime this looks like, and what says so."""
    if host.env.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes", "KUBERNETES_SERVICE_HOST is set"
    if host.path("/run/.containerenv").exists():
        return "podman", "/run/.containerenv exists"
    if host.path("/.dockerenv").exists():
        return "docker", "/.dockerenv exists"
    cgroup = host.read_text("/proc/1/cgroup") or ""
    markers = (
        ("kubepods", "kubernetes"),
        ("libpod", "podman"),
        ("docker", "docker"),
        ("lxc", "lxc"),
    )
    for marker, kind in markers:
        if marker in cgroup:
            return kind, f"/proc/1/cgroup mentions {marker}"
    # LXC and systemd-nspawn tell their init through container=NAME (readable by root only).
    for entry in (host.read_text("/proc/1/environ") or "").split("\0"):
        if entry.startswith("container=") and entry[10:]:
            return entry[10:], f"/proc/1/environ has {entry}"
    return None, None


def wsl(proc_version: str | None, osrelease: str | None) -> tuple[bool, int | None]:
    """(is WSL, 1 or 2 or None) from the kernel's own strings.

    WSL2 kernels are "5.15.153.1-microsoft-standard-WSL2" (before 5.10: "4.19.128-microsoft-
    standard"); WSL1 has no Linux kernel and reports "4.4.0-19041-Microsoft".
    """
    text = f"{osrelease or ''} {proc_version or ''}"
    if "microsoft" not in text.lower():
        return False, None
    if "microsoft-standard" in text.lower():
        return True, 2
    if re.search(r"\d-Microsoft\b", text):
        return True, 1
    return True, None


def libc(host: Host, live: bool) -> tuple[JSON | None, str | None]:
    """({"name", "version"}, None) or (None, why). glibc answers only to the running process."""
    if live:
        try:
            text = os.confstr("CS_GNU_LIBC_VERSION")
        except (ValueError, OSError, AttributeError):  # musl and non-Linux builds lack the name
            text = None
        if text:
            name, _, version = text.partition(" ")
            return {"name": name, "version": version or None}, None
    loaders = sorted(host.path("/lib").glob("ld-musl-*.so.1"))
    if loaders:  # run bare, musl's loader prints "musl libc (x86_64)\nVersion 1.2.4" and exits 1
        result = host.run([str(loaders[0])])
        match = re.search(r"^Version\s+(\S+)", f"{result.stderr}\n{result.stdout}", re.MULTILINE)
        if match:
            return {"name": "musl", "version": match.group(1)}, None
        return {"name": "musl", "version": None}, result.describe_failure()
    if not live:
        return None, "the glibc version is read from the running process, and this host is not it"
    return None, "no glibc version from confstr and no musl loader in /lib"
