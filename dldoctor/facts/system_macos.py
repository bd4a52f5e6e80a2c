"""The system section on macOS (sysctl, sw_vers) and other non-Linux systems (psutil)."""

from __future__ import annotations

import importlib
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dldoctor.facts.host import Host

JSON = dict[str, Any]

# macOS names instruction sets under hw.optional (Apple's "Determining instruction set
# characteristics"). machdep.cpu.features is not used: it omits AVX-512, which macOS turns on
# only on demand (https://github.com/golang/go/issues/43089).
_SYSCTL_FLAGS = {
    "hw.optional.sse4_1": "sse4_1",
    "hw.optional.sse4_2": "sse4_2",
    "hw.optional.avx1_0": "avx",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma",
    "hw.optional.f16c": "f16c",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx512bw": "avx512bw",
    "hw.optional.avx512vl": "avx512vl",
    "hw.optional.avx512dq": "avx512dq",
    "hw.optional.avx512cd": "avx512cd",
    "hw.optional.neon": "asimd",
    "hw.optional.arm.FEAT_FP16": "asimdhp",
    "hw.optional.arm.FEAT_DotProd": "asimddp",
    "hw.optional.arm.FEAT_FHM": "asimdfhm",
    "hw.optional.arm.FEAT_BF16": "bf16",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_SME": "sme",
    "hw.optional.arm.FEAT_SME2": "sme2",
}
# One sysctl call for everything macOS tells; "hw.optional" lists that whole subtree.
_SYSCTL_KEYS = (
    "machdep.cpu.brand_string",
    "machdep.cpu.vendor",
    "hw.logicalcpu",
    "hw.memsize",
    "kern.osrelease",
    "hw.optional",
)


def is_live(host: Host) -> bool:
    """Whether ``host`` is the machine this process runs on, so the process itself may be asked."""
    return host.root == Path("/")


def read_sysctl(host: Host, keys: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """``sysctl KEY...`` as {name: value}, or why sysctl could not run.

    A key this kernel does not know is simply absent: sysctl complains on stderr, exits non-zero
    and still prints the others.
    """
    exe = host.which("sysctl")
    if exe is None and is_live(host) and Path("/usr/sbin/sysctl").exists():
        exe = "/usr/sbin/sysctl"  # macOS keeps it in /usr/sbin, which a user's PATH may lack
    if exe is None:
        return {}, "sysctl not found"
    result = host.run([exe, *keys])
    if result.error or result.timed_out:
        return {}, result.describe_failure()
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            values[key.strip()] = value.strip()
    return values, None


def macos_product_version(host: Host) -> tuple[str | None, str | None]:
    """``sw_vers -productVersion`` ("14.5"), or None and why."""
    exe = host.which("sw_vers") or ("/usr/bin/sw_vers" if is_live(host) else None)
    if exe is None:
        return None, "sw_vers not found"
    result = host.run([exe, "-productVersion"])
    if not result.ok or not result.stdout.strip():
        return None, result.describe_failure()
    return result.stdout.strip(), None


def gather_darwin(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    """Fill the macOS parts of ``facts``: two commands, sw_vers and one sysctl."""
    facts["os"]["macos_version"], problem = macos_product_version(host)
    if problem:
        errors["os.macos_version"] = problem
    values, problem = read_sysctl(host, _SYSCTL_KEYS)
    if problem:
        errors["cpu"] = problem
    cpu = facts["cpu"]
    facts["os"]["kernel"] = values.get("kern.osrelease")
    cpu["model"] = values.get("machdep.cpu.brand_string")
    cpu["vendor"] = values.get("machdep.cpu.vendor")
    if cpu["vendor"] is None and (cpu["model"] or "").startswith("Apple "):
        cpu["vendor"] = "Apple"  # Apple silicon has no machdep.cpu.vendor
    logical = values.get("hw.logicalcpu", "")
    cpu["logical_cores"] = cpu["usable_cores"] = int(logical) if logical.isdigit() else None
    if any(key.startswith("hw.optional.") for key in values):
        flags = {flag for key, flag in _SYSCTL_FLAGS.items() if values.get(key) == "1"}
        cpu["flags"], cpu["flags_source"] = sorted(flags), "sysctl"
    memsize = values.get("hw.memsize", "")
    facts["memory"]["total_bytes"] = int(memsize) if memsize.isdigit() else None
    _psutil_memory(host, facts, errors, total=False)
    for key in ("model", "logical_cores", "flags"):
        if cpu[key] is None and "cpu" not in errors:
            errors[f"cpu.{key}"] = "sysctl did not report it"


def gather_other(host: Host, facts: JSON, errors: dict[str, str]) -> None:
    """Windows and the rest: only what the running process can tell about itself."""
    name = facts["os"]["name"]
    errors["cpu.flags"] = f"instruction-set flags are not gathered on {name}"
    if not is_live(host):
        errors["cpu"] = f"on {name} only the running process is asked, and this host is not it"
        return
    facts["os"]["kernel"] = platform.version() if name == "Windows" else platform.release()
    facts["cpu"]["model"] = platform.processor() or None
    facts["cpu"]["logical_cores"] = facts["cpu"]["usable_cores"] = os.cpu_count()
    _psutil_memory(host, facts, errors, total=True)


def _psutil_memory(host: Host, facts: JSON, errors: dict[str, str], total: bool) -> None:
    if not is_live(host):
        errors["memory.available_bytes"] = "read only from the running machine (psutil)"
        return
    try:
        # Imported only here: on Linux /proc/meminfo says the same without the import.
        memory = importlib.import_module("psutil").virtual_memory()
    except Exception as exc:
        errors["memory"] = f"psutil: {exc}"
        return
    facts["memory"]["available_bytes"] = int(memory.available)
    if total:
        facts["memory"]["total_bytes"] = int(memory.total)
