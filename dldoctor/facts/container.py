"""The container's view of the machine: runtime, IPC namespace, /dev/shm, the NVIDIA driver
files the container toolkit injected and the host driver as /proc/driver/nvidia shows it.

Everything is read from /proc and /run under the host's root, so a test builds a Docker-like
tree (a 64 MB ``/dev/shm`` in /proc/self/mountinfo) and takes the code path a container takes.
"""

from __future__ import annotations

import os
import re
from typing import Any

from dldoctor.facts.host import Host

JSON = dict[str, Any]

# The initial IPC namespace's inode (PROC_IPC_INIT_INO in the kernel's include/linux/proc_ns.h):
# a process that sees it shares the host's IPC namespace (docker --ipc=host).
HOST_IPC_INODE = 4026531839
MAX_MOUNTS = 5000
_MOUNTINFO_BYTES = 4 << 20
# Files nvidia-container-toolkit bind-mounts from the host driver: "libcuda.so.550.54.15".
_DRIVER_FILE = re.compile(
    r"^(lib(?:cuda|nvidia-[a-z0-9-]+|nvcuvid|nvoptix|GLX_nvidia|EGL_nvidia|GLESv\d(?:_CM)?_nvidia)"
    r"\.so)\.(\d+\.\d+(?:\.\d+)?)$"
)
_DRIVER_BINARIES = frozenset(
    {
        "nvidia-smi",
        "nvidia-debugdump",
        "nvidia-persistenced",
        "nvidia-cuda-mps-control",
        "nvidia-cuda-mps-server",
    }
)
# Which runtime a container's root filesystem comes from, by its overlay's storage directory.
_STORAGE = (
    ("/var/lib/docker/", "docker"),
    ("/var/lib/containerd/", "containerd"),
    ("/var/lib/containers/storage/", "podman or cri-o"),
    ("/var/lib/rancher/k3s/agent/containerd/", "containerd"),
)
_CGROUP_RUNTIMES = (
    ("cri-containerd-", "containerd"),
    ("crio-", "cri-o"),
    ("libpod-", "podman"),
    ("docker-", "docker"),
    ("/docker/", "docker"),
)
_PROC_VERSION = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")


def mounts(host: Host) -> list[JSON]:
    """/proc/self/mountinfo as {mount_point, fstype, source, options}; /proc/mounts if absent."""
    text = host.read_text("/proc/self/mountinfo", _MOUNTINFO_BYTES)
    entries: list[JSON] = []
    if text is not None:
        for line in text.splitlines()[:MAX_MOUNTS]:
            fields = line.split()
            if "-" not in fields[6:]:
                continue
            dash = fields.index("-", 6)
            if len(fields) < dash + 3 or len(fields) < 5:
                continue
            entries.append(
                {
                    "mount_point": _unescape(fields[4]),
                    "fstype": fields[dash + 1],
                    "source": _unescape(fields[dash + 2]),
                    "options": ",".join(
                        f
                        for f in (fields[5], fields[dash + 3] if len(fields) > dash + 3 else "")
                        if f
                    ),
                }
            )
        return entries
    for line in (host.read_text("/proc/mounts", _MOUNTINFO_BYTES) or "").splitlines()[:MAX_MOUNTS]:
        fields = line.split()
        if len(fields) >= 4:
            entries.append(
                {
                    "mount_point": _unescape(fields[1]),
                    "fstype": fields[2],
                    "source": _unescape(fields[0]),
                    "options": fields[3],
                }
            )
    return entries


def _unescape(text: str) -> str:
    """Mount tables write space, tab, newline and backslash as octal escapes (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def shm_size_from_mounts(entries: list[JSON]) -> tuple[int | None, str | None]:
    """(bytes, options) of the tmpfs at /dev/shm from its ``size=`` option (the last mount wins)."""
    found: tuple[int | None, str | None] = (None, None)
    for entry in entries:
        if entry["mount_point"] != "/dev/shm":
            continue
        size = None
        for option in entry["options"].split(","):
            if option.startswith("size="):
                size = _bytes(option[5:])
        found = (size, entry["options"])
    return found


def _bytes(text: str) -> int | None:
    """tmpfs sizes: "65536k", "64m", "1g", or bytes."""
    match = re.fullmatch(r"(\d+)([kKmMgGtT]?)", text)
    if not match:
        return None
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[match.group(2).lower()]
    return int(match.group(1)) * scale


def ipc_namespace(host: Host) -> tuple[str | None, str | None]:
    """("host" | "private", evidence): whether this process shares the host's IPC namespace."""
    try:
        link = os.readlink(host.path("/proc/self/ns/ipc"))
    except OSError:
        return None, None
    match = re.fullmatch(r"ipc:\[(\d+)\]", link)
    if not match:
        return None, None
    kind = "host" if int(match.group(1)) == HOST_IPC_INODE else "private"
    return kind, f"/proc/self/ns/ipc -> {link}"


def runtime(host: Host, entries: list[JSON]) -> tuple[str | None, str | None]:
    """(runtime, evidence): podman's .containerenv, the cgroup path, else the root overlay's
    storage directory (visible in its lowerdir= option)."""
    env_file = host.read_text("/run/.containerenv", 64 * 1024)
    if env_file is not None:
        match = re.search(r'^engine="([^"\n]{1,80})"', env_file, re.M)
        return (
            "podman",
            f"/run/.containerenv engine={match.group(1)}" if match else "/run/.containerenv exists",
        )
    cgroup = host.read_text("/proc/self/cgroup", 64 * 1024) or ""
    for marker, name in _CGROUP_RUNTIMES:
        if marker in cgroup:
            return name, f"/proc/self/cgroup mentions {marker.strip('/')}"
    root = next((e for e in entries if e["mount_point"] == "/"), None)
    if root is not None and root["fstype"] == "overlay":
        for directory, name in _STORAGE:
            if directory in root["options"]:
                return name, f"root overlay is stored under {directory}"
    return None, None


def nvidia_injected(host: Host, entries: list[JSON]) -> JSON:
    """Driver files bind-mounted one by one (what nvidia-container-toolkit does), their driver
    versions, and the host's kernel module version from /proc/driver/nvidia/version."""
    libraries = []
    binaries = []
    for entry in entries:
        name = entry["mount_point"].rsplit("/", 1)[-1]
        match = _DRIVER_FILE.match(name)
        if match:
            libraries.append({"path": entry["mount_point"], "version": match.group(2)})
        elif name in _DRIVER_BINARIES:
            binaries.append(entry["mount_point"])
    proc = host.read_text("/proc/driver/nvidia/version", 64 * 1024)
    version = _PROC_VERSION.search(proc or "")
    host_driver: str | bool | None = version.group(1) if version else None
    if proc is None and not host.path("/proc/driver/nvidia/version").exists():
        host_driver = False  # no NVIDIA kernel module visible here (None: there, unreadable)
    return {
        "libraries": libraries[:200],
        "binaries": binaries[:50],
        "host_driver_version": host_driver,
        # False: the variable is unset (the toolkit's hooks then inject nothing by it).
        "visible_devices": host.env.get("NVIDIA_VISIBLE_DEVICES", False),
        "driver_capabilities": host.env.get("NVIDIA_DRIVER_CAPABILITIES", False),
    }
