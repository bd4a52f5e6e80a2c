"""A node's network links, read from sysfs: InfiniBand/RoCE port rates and Ethernet speeds.

The figure the measured bus bandwidth is set against between nodes: NCCL spreads an all-reduce
over every active InfiniBand port, and falls back to TCP sockets over the fastest interface.
Gathering only (stdlib, bounded); ``root`` is the filesystem root, replaced in tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
MAX_LINKS = 64
_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*Gb/sec")  # "400 Gb/sec (4X NDR)"


def network_links(root: Path = Path("/")) -> JSON:
    """{"infiniband": [{device, port, rate_gbps, active}], "ethernet": [{name, speed_mbps, up}]}."""
    infiniband = []
    for port in sorted((root / "sys/class/infiniband").glob("*/ports/*"))[:MAX_LINKS]:
        rate = _RATE.match(_read(port / "rate"))
        infiniband.append(
            {
                "device": port.parent.parent.name[:64],
                "port": port.name[:16],
                "rate_gbps": float(rate.group(1)) if rate else None,
                "active": "ACTIVE" in _read(port / "state"),
            }
        )
    ethernet = []
    for link in sorted((root / "sys/class/net").glob("*"))[:MAX_LINKS]:
        if link.name == "lo" or not (link / "device").exists():
            continue  # loopback, bridges and veth pairs are no way off the node
        speed = _read(link / "speed").strip()
        ethernet.append(
            {
                "name": link.name[:64],
                "speed_mbps": int(speed) if speed.isdigit() else None,
                "up": _read(link / "operstate").strip() == "up",
            }
        )
    return {"infiniband": infiniband, "ethernet": ethernet}


def node_bandwidth(links: JSON) -> tuple[float, str] | None:
    """Bytes/s a node can send to the others, and in what words; None when nothing is known."""
    ports = [p for p in links.get("infiniband") or [] if isinstance(p, dict) and p.get("active")]
    rates = [float(p["rate_gbps"]) for p in ports if isinstance(p.get("rate_gbps"), (int, float))]
    if rates:
        total = sum(rates)
        return total * 1e9 / 8, f"{len(rates)} InfiniBand port(s), {total:g} Gb/s"
    speeds = [
        int(e["speed_mbps"])
        for e in links.get("ethernet") or []
        if isinstance(e, dict) and e.get("up") and isinstance(e.get("speed_mbps"), int)
    ]
    speeds = [s for s in speeds if 0 < s < 10_000_000]
    if speeds:
        return max(speeds) * 1e6 / 8, f"Ethernet, {max(speeds) / 1000:g} Gb/s"
    return None


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(256)
    except OSError:
        return ""
