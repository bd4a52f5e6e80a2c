"""What to tell a user who needs an NVIDIA driver (never run automatically: it needs a reboot)."""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.model import Fix

DRIVER_DOWNLOADS = "https://www.nvidia.com/en-us/drivers/"


def install_driver(facts: Facts, minimum: str | None, why: str) -> Fix:
    """A driver install, phrased for this distribution where its usual route is known."""
    distro = ((facts.system.get("os") or {}).get("distribution_id") or "").lower()
    at_least = f" {minimum} or newer" if minimum else ""
    summary = f"Install the NVIDIA driver{at_least} ({why}), then reboot."
    if facts.system.get("wsl", {}).get("is_wsl"):
        return Fix(
            summary=f"Install the NVIDIA Windows driver{at_least} on the Windows host ({why}); "
            "WSL uses the host's driver, never a Linux one.",
            notes=DRIVER_DOWNLOADS,
        )
    if distro == "ubuntu":
        return Fix(summary, (("sudo", "ubuntu-drivers", "install"), ("sudo", "reboot")))
    return Fix(
        summary, notes=f"Use your distribution's NVIDIA driver packages or {DRIVER_DOWNLOADS}"
    )
