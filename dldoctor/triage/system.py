"""`lspci -k` (the NVIDIA devices on the PCI bus, and the driver bound to each) and `lscpu`."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.triage.partial import Partial

_DEVICE = re.compile(
    r"^(?P<address>(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+"
    r"(?P<kind>VGA compatible controller|3D controller|Display controller)(?: \[(?P<class>[0-9a-f]{4})\])?:\s+"
    r"NVIDIA Corporation\b(?P<rest>.*)$"
)
_IDS = re.compile(r"\[10de:(?P<device>[0-9a-f]{4})\]")
_ANY_DEVICE = re.compile(r"^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\s")
_CLASSES = {
    "VGA compatible controller": "0x030000",
    "3D controller": "0x030200",
    "Display controller": "0x038000",
}
_FLAGS = re.compile(r"^Flags:\s+(?P<flags>(?:\S+\s+){10,}\S+)\s*$")


def parse(lines: list[str]) -> list[Partial]:
    return [p for p in (_lspci(lines), _lscpu(lines)) if p is not None]


def _lspci(lines: list[str]) -> Partial | None:
    devices: list[dict[str, Any]] = []
    with_drivers = False
    current: dict[str, Any] | None = None
    for raw in lines:
        line = raw.strip()
        device = _DEVICE.match(line)
        if device:
            address = device.group("address")
            ids = _IDS.search(device.group("rest"))
            current = {
                "address": address if address.count(":") == 2 else f"0000:{address}",
                "device_id": f"0x{ids.group('device')}" if ids else None,
                "class": _CLASSES[device.group("kind")],
                "driver": None,  # unknown until `lspci -k` says
            }
            devices.append(current)
            continue
        if _ANY_DEVICE.match(line):
            current = None  # another vendor's device, or an NVIDIA audio function
        elif current is not None and line.startswith("Kernel driver in use:"):
            current["driver"] = line.partition(":")[2].strip()
        elif current is not None and line.startswith("Kernel modules:"):
            with_drivers = True
    if not devices:
        return None
    if with_drivers:  # `lspci -k`: a device with modules listed and none in use has no driver
        for found in devices:
            if found["driver"] is None:
                found["driver"] = False
    partial = Partial("lspci")
    partial.put("accelerators.pci.nvidia", devices)
    return partial


def _lscpu(lines: list[str]) -> Partial | None:
    flags = next((m for m in map(_FLAGS.match, (line.strip() for line in lines)) if m), None)
    if flags is None:
        return None
    partial = Partial("lscpu")
    partial.put("system.cpu.flags", flags.group("flags").split())
    partial.put("system.cpu.flags_source", "lscpu (pasted)")
    for raw in lines:
        key, _, rest = raw.strip().partition(":")
        if key == "Model name" and rest.strip():
            partial.put("system.cpu.model", rest.strip())
        elif key == "Architecture" and rest.strip():
            partial.put("system.architecture", rest.strip())
    return partial
