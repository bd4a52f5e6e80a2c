"""What building a CUDA extension would use here: CUDA_HOME, its nvcc, the host compiler, ninja.

The choices follow torch.utils.cpp_extension, which flash-attn, apex, deepspeed and most
extensions build with: CUDA_HOME (else CUDA_PATH, else the nvcc on PATH's toolkit, else
/usr/local/cuda), that toolkit's bin/nvcc, ``CC`` as nvcc's host compiler (``-ccbin``) else the
``gcc`` on PATH, and ``ninja`` on PATH. The newest GCC this nvcc accepts is read from the
toolkit's own crt/host_config.h, where nvcc stops with "unsupported GNU version".
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from dldoctor.facts.host import Host
from dldoctor.facts.hostpaths import is_file, machine_path, read_text, resolve

JSON = dict[str, Any]

HOST_CONFIG = "include/crt/host_config.h"  # CUDA 9+ (include/host_config.h before)
_GCC_LIMIT = re.compile(
    r"#if __GNUC__ > (\d+)[^\n]*\n(?:[^\n]*\n){0,4}?\s*#error -- unsupported GNU version"
)
_CLANG = re.compile(r"clang version (\d+(?:\.\d+)+)")
_GCC = re.compile(r"^\S+ \([^)]*\) (\d+\.\d+(?:\.\d+)?)")  # GNU: "NAME (PKGVERSION) VERSION"


def cuda_home(host: Host, nvcc_on_path: Any) -> JSON:
    """The toolkit torch.utils.cpp_extension would build with, and what chose it."""
    for name in ("CUDA_HOME", "CUDA_PATH"):
        value = host.env.get(name)
        if value:
            return {"path": machine_path(host, value), "chosen_by": name}
    toolkit = nvcc_on_path.get("toolkit_path") if isinstance(nvcc_on_path, dict) else None
    path = nvcc_on_path.get("path") if isinstance(nvcc_on_path, dict) else None
    if path:  # torch takes the directory above the nvcc on PATH's bin/, symlinks not followed
        return {
            "path": toolkit or posixpath.dirname(posixpath.dirname(path)),
            "chosen_by": "nvcc on PATH",
        }
    if host.path(resolve(host, "/usr/local/cuda")).is_dir():
        return {"path": "/usr/local/cuda", "chosen_by": "/usr/local/cuda"}
    return {"path": False, "chosen_by": False}


def gcc_limit(host: Host, toolkit: str) -> int | None:
    """The newest GCC major this toolkit's nvcc accepts, from its host_config.h; None: unread."""
    text = read_text(host, posixpath.join(toolkit, HOST_CONFIG), 256 << 10)
    match = _GCC_LIMIT.search(text or "")
    return int(match.group(1)) if match else None


def host_compiler(host: Host) -> JSON:
    """nvcc's host compiler: ``CC`` (torch passes it as -ccbin), else ``gcc`` on PATH."""
    command = host.env.get("CC") or "gcc"
    facts: JSON = {
        "command": command,
        "chosen_by": "CC" if host.env.get("CC") else "PATH",
        "path": False,
        "kind": None,
        "version": None,
        "error": None,
    }
    found = host.which(command) if "/" not in command else command
    if found is None or not is_file(host, machine_path(host, found)):
        return facts
    facts["path"] = machine_path(host, found)
    result = host.run([str(host.path(resolve(host, facts["path"]))), "--version"])
    head = result.stdout.strip().splitlines()[0] if result.ok and result.stdout.strip() else ""
    # "gcc (Debian 12.2.0-14+deb12u1) 12.2.0", "clang version 17.0.6 (...)"
    match = _CLANG.search(head) or _GCC.search(head)
    if match is None:
        facts["error"] = result.describe_failure() if not result.ok else f"--version: {head[:80]!r}"
        return facts
    facts["kind"] = "clang" if match.re is _CLANG else "gcc"
    facts["version"] = match.group(1)
    return facts


def gather_build_tools(host: Host, cuda: JSON) -> JSON:
    """The ``cuda.build_tools`` facts; the compiler is asked only when there is a toolkit."""
    home = cuda_home(host, cuda.get("nvcc_on_path"))
    toolkit = resolve(host, home["path"]) if home["path"] else None
    nvcc = posixpath.join(toolkit, "bin", "nvcc") if toolkit else None
    has_nvcc = bool(nvcc and is_file(host, nvcc))
    listed = next((t for t in cuda.get("toolkits") or [] if t.get("path") == toolkit), None)
    ninja = host.which("ninja")
    max_jobs = host.env.get("MAX_JOBS")
    nvcc_threads = host.env.get("NVCC_THREADS")
    return {
        "cuda_home": home["path"],
        "cuda_home_chosen_by": home["chosen_by"],
        "nvcc": nvcc if has_nvcc else False,
        "nvcc_version": (listed or {}).get("nvcc_version") or (listed or {}).get("version")
        if has_nvcc
        else False,
        "host_gcc_max": gcc_limit(host, toolkit) if toolkit and has_nvcc else False,
        "host_compiler": host_compiler(host) if has_nvcc else False,
        "ninja": machine_path(host, ninja) if ninja else False,
        "max_jobs": max_jobs if max_jobs else False,
        "nvcc_threads": nvcc_threads if nvcc_threads else False,
        "build_dir": build_dir(host),
    }


def build_dir(host: Host) -> JSON:
    """Where pip builds (its temporary directory, as Python's tempfile picks it: TMPDIR, TEMP,
    TMP, else /tmp) and the space free there; free_bytes None when it cannot be read."""
    path = next((host.env[k] for k in ("TMPDIR", "TEMP", "TMP") if host.env.get(k)), "/tmp")
    try:
        stat = os.statvfs(host.path(path))
    except (OSError, AttributeError, ValueError):  # absent, or no statvfs (Windows)
        return {"path": path, "free_bytes": None}
    return {"path": path, "free_bytes": stat.f_bavail * stat.f_frsize}
