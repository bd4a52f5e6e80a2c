"""What to tell a user who needs an NVIDIA driver (never run automatically: it needs a reboot)."""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.model import Fix, Intent

DRIVER_DOWNLOADS = "https://www.nvidia.com/en-us/drivers/"


def install_driver(facts: Facts, minimum: str | None, why: str) -> Fix:
    """A driver install, phrased for this distribution where its usual route is known."""
    distro = ((facts.system.get("os") or {}).get("distribution_id") or "").lower()
    at_least = f" {minimum} or newer" if minimum else ""
    summary = f"Install the NVIDIA driver{at_least} ({why}), then reboot."
    intents = (Intent(action="driver", driver=minimum),)
    if facts.system.get("wsl", {}).get("is_wsl"):
        return Fix(
            summary=f"Install the NVIDIA Windows driver{at_least} on the Windows host ({why}); "
            "WSL uses the host's driver, never a Linux one.",
            notes=DRIVER_DOWNLOADS,
            intents=intents,
        )
    if distro == "ubuntu":
        commands = (("sudo", "ubuntu-drivers", "install"), ("sudo", "reboot"))
        return Fix(summary, commands, intents=intents)
    return Fix(
        summary,
        notes=f"Use your distribution's NVIDIA driver packages or {DRIVER_DOWNLOADS}",
        intents=intents,
    )


def container_gpu_access() -> Fix:
    """A container sees the host's GPU on the PCI bus but gets its driver only when given it."""
    return Fix(
        "This is a container: the host's NVIDIA driver reaches it only when it is started with the "
        "GPU (`docker run --gpus all`, or the nvidia runtime, with the NVIDIA Container Toolkit on "
        "the host). Do not install a driver inside the container.",
        notes="https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html",
    )


def rebuild_kernel_module(facts: Facts) -> Fix:
    """The driver's userspace is installed but its kernel module is not loaded for this kernel."""
    kernel = (facts.system.get("os") or {}).get("kernel") or "the running kernel"
    return Fix(
        f"The NVIDIA driver is installed but its kernel module is not loaded for {kernel} (a kernel "
        "update without a module built for it): rebuild it with DKMS (or reinstall your "
        "distribution's nvidia-dkms package), then reboot.",
        (("sudo", "dkms", "autoinstall"), ("sudo", "reboot")),
        notes="Installing dkms before kernel updates keeps the module rebuilt for each new kernel.",
    )
