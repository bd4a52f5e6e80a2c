"""The machine under the interpreter: OS, distribution, CPU, memory, container, WSL, /dev/shm."""

from __future__ import annotations

import math
import os
import platform
from typing import Any, Callable

from dldoctor.facts.container import (
    ipc_namespace,
    mounts,
    nvidia_injected,
    runtime,
    shm_size_from_mounts,
)
from dldoctor.facts.host import Host
from dldoctor.facts.system_linux import (
    cgroup_cpu_quota_cores,
    cgroup_memory_limit_bytes,
    container,
    count_cpu_list,
    libc,
    parse_cpuinfo,
    wsl,
)
from dldoctor.facts.system_macos import gather_darwin, gather_other, is_live
from dldoctor.facts.windows import registry_module, windows_version

JSON = dict[str, Any]


def gather_system(host: Host, os_name: str | None = None, machine: str | None = None) -> JSON:
    """The ``system`` section. ``os_name``/``machine`` default to the running process's own.

    Facts that only the running process can tell (glibc version, CPU affinity fallback, memory on
    macOS) are read only when ``host`` is this machine (root ``/``).
    """
    name = os_name or platform.system() or "unknown"
    errors: dict[str, str] = {}
    facts: JSON = {
        "os": {
            "name": name,
            "distribution": None,
            "distribution_id": None,
            "distribution_version": None,
            "kernel": None,
            "macos_version": False,  # false: not macOS (system_macos fills it in)
        },
        "architecture": machine or platform.machine() or None,
        "libc": None,
        "cpu": {
            "model": None,
            "vendor": None,
            "logical_cores": None,
            "usable_cores": None,
            "cgroup_quota_cores": False,  # false: no cgroup CPU quota (or not Linux)
            "flags": None,
            "flags_source": None,
        },
        # None is unknown, False is "there is none" (dldoctor/facts/known.py).
        "memory": {"total_bytes": None, "available_bytes": None, "cgroup_limit_bytes": False},
        "wsl": {"is_wsl": False, "version": False},
        "container": {"kind": False, "evidence": None},
        "shm": None,
        "windows": False,  # false: not Windows (the Windows step fills it in)
        "errors": errors,
    }
    if name == "Linux":
        steps: list[tuple[str, Callable[[Host, JSON, dict[str, str]], None]]] = [
            ("os", _linux_os),
            ("libc", _linux_libc),
            ("cpu", _linux_cpu),
            ("memory", _linux_memory),
            ("wsl", _linux_wsl),
            ("container", _linux_container),
            ("shm", _shm),
        ]
    else:  # no glibc/musl and no /dev/shm off Linux: "none", not unknown
        facts["libc"] = facts["shm"] = False
        steps = [("darwin", gather_darwin)] if name == "Darwin" else [("other", gather_other)]
        if name == "Windows":
            steps.append(("windows", _windows))
    for field, step in steps:
        try:
            step(host, facts, errors)
        except Exception as exc:  # a parser bug must cost one field, never the whole report
            errors[field] = f"internal error: {exc!r}"
    return facts


def _windows(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    facts["windows"], problems = windows_version(registry_module(host), is_live(host))
    errors.update({f"windows.{k}": v for k, v in problems.items()})


def _missing(host: Host, path: str) -> str:
    return f"{path} is unreadable" if host.path(path).exists() else f"{path} does not exist"


def _linux_os(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    text = host.read_text("/etc/os-release") or host.read_text("/usr/lib/os-release")
    if text is None:
        errors["os.distribution"] = "neither /etc/os-release nor /usr/lib/os-release is readable"
    else:
        release = parse_os_release(text)
        facts["os"]["distribution"] = release.get("PRETTY_NAME") or release.get("NAME")
        facts["os"]["distribution_id"] = release.get("ID")
        facts["os"]["distribution_version"] = release.get("VERSION_ID")
    kernel = host.read_text("/proc/sys/kernel/osrelease")
    if kernel is None and is_live(host):
        kernel = platform.release()
    if kernel:
        facts["os"]["kernel"] = kernel.strip()
    else:
        errors["os.kernel"] = _missing(host, "/proc/sys/kernel/osrelease")


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of os-release(5); values may be quoted and backslash-escaped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key] = value
    return values


def _linux_libc(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    facts["libc"], problem = libc(host, is_live(host))
    if problem:
        errors["libc"] = problem


def _linux_cpu(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    cpu = facts["cpu"]
    text = host.read_text("/proc/cpuinfo")
    if text is None:
        errors["cpu"] = _missing(host, "/proc/cpuinfo")
    else:
        info = parse_cpuinfo(text)
        cpu.update(info)
        if info["flags"] is not None:
            cpu["flags_source"] = "/proc/cpuinfo"
        for key in ("model", "vendor", "flags"):
            if info[key] is None:
                errors[f"cpu.{key}"] = f"/proc/cpuinfo has no {key} line"
    if not cpu["logical_cores"]:
        online = host.read_text("/sys/devices/system/cpu/online")
        cpu["logical_cores"] = count_cpu_list(online) if online else None
        if cpu["logical_cores"] is None and is_live(host):
            cpu["logical_cores"] = os.cpu_count()
    allowed = None
    for line in (host.read_text("/proc/self/status") or "").splitlines():
        if line.startswith("Cpus_allowed_list:"):
            allowed = count_cpu_list(line.split(":", 1)[1])
    if allowed is None and is_live(host) and hasattr(os, "sched_getaffinity"):
        allowed = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota_cores(host)
    cpu["cgroup_quota_cores"] = quota if quota is not None else False
    usable = allowed or cpu["logical_cores"]
    if quota is not None:
        # Rounded up: a 1.5-CPU quota lets two threads run at once, each throttled to 75%.
        # This is how the JVM and .NET size their pools under a quota.
        usable = min(usable, math.ceil(quota)) if usable else math.ceil(quota)
    cpu["usable_cores"] = usable
    if usable is None:
        errors["cpu.usable_cores"] = "neither the CPU affinity nor the CPU count could be read"


def _linux_memory(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    text = host.read_text("/proc/meminfo")
    if text is None:
        errors["memory"] = _missing(host, "/proc/meminfo")
    else:
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            fields = rest.split()
            if key in ("MemTotal", "MemAvailable") and fields and fields[0].isdigit():
                scale = 1024 if fields[1:] == ["kB"] else 1
                name = "total_bytes" if key == "MemTotal" else "available_bytes"
                facts["memory"][name] = int(fields[0]) * scale
        for name in ("total_bytes", "available_bytes"):
            if facts["memory"][name] is None:
                errors[f"memory.{name}"] = f"/proc/meminfo has no value for {name}"
    limit = cgroup_memory_limit_bytes(host)
    facts["memory"]["cgroup_limit_bytes"] = limit if limit is not None else False


def _linux_wsl(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    proc_version = host.read_text("/proc/version")
    osrelease = host.read_text("/proc/sys/kernel/osrelease")
    if proc_version is None and osrelease is None:  # nothing to tell WSL by: unknown, not "no"
        facts["wsl"] = {"is_wsl": None, "version": None}
        errors["wsl"] = "neither /proc/version nor /proc/sys/kernel/osrelease is readable"
        return
    is_wsl, version = wsl(proc_version, osrelease)
    facts["wsl"] = {"is_wsl": is_wsl, "version": version if is_wsl else False}


def _linux_container(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    kind, evidence = container(host)
    table = mounts(host)
    name, how = runtime(host, table)
    ipc, ipc_evidence = ipc_namespace(host)
    facts["container"] = {
        "kind": kind or False,  # False: no container seen (None would be unknown)
        "evidence": evidence,
        "runtime": name or False,  # False: no runtime recognised
        "runtime_evidence": how,
        "ipc": ipc,
        "ipc_evidence": ipc_evidence,
        "nvidia": nvidia_injected(host, table),
    }


def _shm(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    """/dev/shm's size: the tmpfs ``size=`` option in the mount table (what the kernel
    enforces, and what docker --shm-size sets), else statvfs."""
    size, options = shm_size_from_mounts(mounts(host))
    try:
        stat = os.statvfs(host.path("/dev/shm"))
    except (OSError, AttributeError) as exc:
        if size is None:
            errors["shm"] = f"/dev/shm: {getattr(exc, 'strerror', None) or exc}"
            return
        stat = None
    stat_total = stat.f_blocks * stat.f_frsize if stat else None
    same = stat is not None and (size is None or stat_total == size)  # statvfs saw that tmpfs
    facts["shm"] = {
        "path": "/dev/shm",
        "total_bytes": size if size is not None else stat_total,
        "free_bytes": stat.f_bavail * stat.f_frsize if stat and same else None,
        "size_source": "mount size= option" if size is not None else "statvfs",
        "mount_options": options,
    }
