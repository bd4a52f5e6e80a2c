"""The loaded NVIDIA driver, read again now (for --apply), through the same door the facts use."""

from __future__ import annotations

from dldoctor.facts import queries as q
from dldoctor.facts.host import Host
from dldoctor.facts.model import Facts


def loaded_driver(host: Host | None = None) -> str | None:
    """The driver version NVML (else /proc/driver/nvidia/version) reports now; None if unknown."""
    from dldoctor.facts.nvidia import gather_nvidia

    try:
        section = gather_nvidia(host or Host())
    except Exception:  # a gatherer never raises; if one does, the driver is unknown: refuse
        return None
    return q.driver_version(Facts(nvidia=section))
