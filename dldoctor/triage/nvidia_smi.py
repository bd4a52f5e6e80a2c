"""`nvidia-smi` (its table), `nvidia-smi -q`, `--query-gpu ... --format=csv`, and its failures."""

from __future__ import annotations

import csv
import re
from typing import Any

from dldoctor.triage.partial import Partial, value, version

_HEADER = re.compile(
    r"NVIDIA-SMI (?P<smi>[\d.]+)\s+Driver Version: (?P<driver>[\d.]+)"
    r"(?:\s+CUDA Version: (?P<cuda>[\d.]+|N/A))?"
)
_ROW = re.compile(
    r"^\|\s+(?P<index>\d+)\s+(?P<name>.+?)\s+(?:On|Off|WDDM|TCC)\s+\|\s+(?P<bus>[0-9A-Fa-f:.]+)\s"
)
_MEMORY = re.compile(r"\|\s*(?P<used>\d+)MiB\s*/\s*(?P<total>\d+)MiB\s*\|")
_Q_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z][\w ./()-]*?)\s*:\s*(?P<value>.*)$")
_Q_GPU = re.compile(r"^GPU (?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)\s*$")
_CSV_FIELD = re.compile(r"^[a-z_.]+(?: \[[^\]]+\])?$")
MIB = 1 << 20
# What nvidia-smi prints when NVML fails: nvmlInit's status, as dldoctor's NVML facts name it.
_FAILURES = (
    ("Driver/library version mismatch", "lib_rm_version_mismatch"),
    ("couldn't communicate with the NVIDIA driver", "driver_not_loaded"),
    ("NVIDIA-SMI has failed because", "driver_not_loaded"),
    ("Insufficient Permissions", "no_permission"),
)


def parse(lines: list[str]) -> list[Partial]:
    found = [p for p in (_table(lines), _query(lines), _csv(lines), _failure(lines)) if p]
    return found


def _table(lines: list[str]) -> Partial | None:
    header = next((m for m in map(_HEADER.search, lines) if m), None)
    if header is None:
        return None
    partial = Partial("nvidia-smi")
    _driver(partial, header.group("driver"), header.group("cuda"))
    gpus: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        row = _ROW.match(line.strip())
        if not row:
            continue
        name = row.group("name").strip()
        gpu: dict[str, Any] = {"index": int(row.group("index")), "pci_bus_id": row.group("bus")}
        gpu["name"] = name  # as the table shows it (it cuts long ones: "Tesla V100-SXM2...")
        memory = _MEMORY.search(lines[i + 1]) if i + 1 < len(lines) else None
        if memory:
            gpu["memory_total_bytes"] = int(memory.group("total")) * MIB
            gpu["memory_used_bytes"] = int(memory.group("used")) * MIB
        gpus.append(gpu)
    if gpus or any("No devices were found" in line for line in lines):
        partial.put("nvidia.gpus", gpus)
        partial.put("nvidia.gpu_count", len(gpus))
    return partial


def _driver(partial: Partial, driver: str | None, cuda: str | None) -> None:
    partial.put("nvidia.nvml.status", "ok")  # nvidia-smi answered through NVML
    partial.put("nvidia.driver_version", version(driver))
    partial.put("nvidia.cuda_driver_version", version(cuda))


def _query(lines: list[str]) -> Partial | None:
    """`nvidia-smi -q`: "Key : value" lines, one indented block per GPU."""
    if not any("NVSMI LOG" in line for line in lines) and not any(
        line.startswith("Attached GPUs") for line in lines
    ):
        return None
    partial = Partial("nvidia-smi -q")
    top: dict[str, str] = {}
    gpus: list[dict[str, Any]] = []
    section = ""
    for line in lines:
        gpu_line = _Q_GPU.match(line.strip())
        if gpu_line:
            gpus.append({"index": len(gpus), "pci_bus_id": gpu_line.group("bus")})
            continue
        match = _Q_KEY.match(line)
        if not match:
            section = line.strip()  # "FB Memory Usage", "MIG Mode": a block's title
            continue
        key, shown = match.group("key").strip(), match.group("value").strip()
        if not shown:
            section = key
            continue
        if not gpus:
            top.setdefault(key, shown)
            continue
        gpu = gpus[-1]
        if key == "Product Name":
            gpu["name"] = shown
        elif key == "GPU UUID":
            gpu["uuid"] = shown
        elif key == "Minor Number" and shown.isdigit():
            gpu["index"] = int(shown)
        elif key == "Total" and section == "FB Memory Usage" and shown.endswith("MiB"):
            gpu["memory_total_bytes"] = int(shown.split()[0]) * MIB
        elif key == "Current" and section == "MIG Mode" and value(shown):
            gpu.setdefault("mig", {})["current"] = shown == "Enabled"
        elif key == "Pending" and section == "MIG Mode" and value(shown):
            gpu.setdefault("mig", {})["pending"] = shown == "Enabled"
        elif key == "Persistence Mode" and value(shown):
            gpu["persistence_mode"] = shown == "Enabled"
    if "Driver Version" not in top:
        return None
    _driver(partial, top.get("Driver Version"), top.get("CUDA Version"))
    attached = top.get("Attached GPUs", "")
    if attached.isdigit() and int(attached) == len(gpus):
        partial.put("nvidia.gpus", gpus)
        partial.put("nvidia.gpu_count", len(gpus))
    return partial


def _csv(lines: list[str]) -> Partial | None:
    """`nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv`."""
    for i, line in enumerate(lines):
        head = [h.strip() for h in line.split(",")]
        if not all(_CSV_FIELD.match(h) for h in head):
            continue  # the command line itself ("--query-gpu=index,name,...") is no header
        if "name" not in head or not ({"compute_cap", "driver_version"} & set(head)):
            continue
        partial = Partial("nvidia-smi --query-gpu")
        gpus: list[dict[str, Any]] = []
        for row in csv.reader(lines[i + 1 :], skipinitialspace=True):
            if len(row) != len(head):
                break
            cells = dict(zip(head, (c.strip() for c in row)))
            gpu: dict[str, Any] = {
                "index": int(cells.get("index") or len(gpus)),
                "name": cells["name"],
            }
            cap = version(cells.get("compute_cap"))
            if cap:
                gpu["compute_capability"] = cap
            if value(cells.get("uuid")):
                gpu["uuid"] = cells["uuid"]
            gpus.append(gpu)
            if cells.get("driver_version"):
                _driver(partial, cells["driver_version"], None)
        if gpus:
            partial.put("nvidia.gpus", gpus)
            partial.put("nvidia.gpu_count", len(gpus))
            return partial
    return None


def _failure(lines: list[str]) -> Partial | None:
    for line in lines:
        for words, status in _FAILURES:
            if words in line:
                partial = Partial("nvidia-smi (failed)")
                partial.put("nvidia.nvml.status", status)
                partial.put("nvidia.nvml.error", line.strip()[:300])
                return partial
    return None
