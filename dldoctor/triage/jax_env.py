"""`jax.print_environment_info()`: jax, jaxlib, plugins, numpy, python, devices, uname."""

from __future__ import annotations

import re

from dldoctor.triage import platforms
from dldoctor.triage.partial import Partial

_VERSIONS = re.compile(
    r"^(?P<name>jax|jaxlib|numpy|jax[_-]cuda\d+[_-](?:plugin|pjrt)|jax[_-]rocm\d+[_-](?:plugin|pjrt)):\s+(?P<version>\d[\w.+-]*)\s*$"
)
_PYTHON = re.compile(r"^python:\s+(?P<version>\d+\.\d+\.\d+)")
_DEVICES = re.compile(
    r"^jax\.devices \((?P<total>\d+) total, (?P<local>\d+) local\): \[(?P<list>.*)\]\s*$"
)
_UNAME = re.compile(r"^platform: uname_result\((?P<fields>.*)\)\s*$")
_FIELD = re.compile(r"(\w+)='([^']*)'")
_GPU_DEVICE = re.compile(r"\b(?:Cuda|Gpu|Rocm)Device\(id=(\d+)")


def parse(lines: list[str]) -> Partial | None:
    if not any(line.startswith("jaxlib:") for line in lines):
        return None
    partial = Partial("jax.print_environment_info")
    for raw in lines:
        line = raw.strip()
        found = _VERSIONS.match(line)
        if found:
            name = found.group("name").replace("_", "-")
            partial.add_distribution(name, found.group("version"))
            continue
        python = _PYTHON.match(line)
        if python:
            platforms.python_version(partial, python.group("version"))
        devices = _DEVICES.match(line)
        if devices:
            # The list is cut ("CudaDevice(id=0) ... CudaDevice(id=7)"): the total counts them.
            kind = "gpu" if _GPU_DEVICE.search(devices.group("list")) else "cpu"
            count = int(devices.group("local"))
            listed = [{"id": f"{kind}:{i}", "kind": kind} for i in range(max(count, 1))]
            partial.put("runtime.frameworks.jax.devices", listed)
            partial.put(
                "runtime.frameworks.jax.import", {"module": "jax", "ok": True, "error": None}
            )
            partial.put("runtime.frameworks.jax.status", "pass")
            partial.put("runtime.frameworks.jax.reason", "pasted: jax.print_environment_info()")
        uname = _UNAME.match(line)
        if uname:
            fields = dict(_FIELD.findall(uname.group("fields")))
            system = {"Linux": "Linux", "Windows": "Windows", "Darwin": "Darwin"}.get(
                fields.get("system", "")
            )
            partial.put("system.os.name", system)
            partial.put("system.os.kernel", fields.get("release"))
            partial.put("system.architecture", fields.get("machine"))
            if system == "Linux":
                wsl = "microsoft" in fields.get("release", "").lower()
                partial.put("system.wsl.is_wsl", wsl)
    platforms.markers_from_os(partial)
    return partial
