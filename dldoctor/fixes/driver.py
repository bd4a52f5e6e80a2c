"""What to tell a user who needs an NVIDIA driver (never run automatically: it needs a reboot)."""

from __future__ import annotations

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command
from dldoctor.matrix import DriverFloor
from dldoctor.model import Fix, Intent

DRIVER_DOWNLOADS = "https://www.nvidia.com/en-us/drivers/"


def floor(row: DriverFloor | None, facts: Facts) -> str | None:
    """A driver-floor row's minimum for the judged driver, as the checks read it: Windows
    numbers its drivers apart (CUDA 12.6: 560.76, not Linux's 560.28.03), natively and in WSL
    (q.windows_driver); None when unknown."""
    from dldoctor.facts import queries as q

    return (row.windows if q.windows_driver(facts) else row.linux) if row else None


def commands(facts: Facts) -> tuple[Command, ...]:
    """Ubuntu's own driver installer, then the reboot the new kernel module needs; elsewhere
    (another distribution, or WSL, whose driver is the Windows host's) none: the words say how."""
    from dldoctor.fixes.system import render

    distro = ((facts.system.get("os") or {}).get("distribution_id") or "").lower()
    if distro != "ubuntu" or (facts.system.get("wsl") or {}).get("is_wsl"):
        return ()
    return (("sudo", "ubuntu-drivers", "install"), *render(Intent(action="reboot"), facts))


def install_driver(facts: Facts, minimum: str | None, why: str) -> Fix:
    """A driver install, phrased for this distribution where its usual route is known."""
    from dldoctor.fixes.intents import fix

    at_least = f" {minimum} or newer" if minimum else ""
    intent = Intent(action="driver", driver=minimum)
    if (facts.system.get("wsl") or {}).get("is_wsl"):
        summary = (
            f"Install the NVIDIA Windows driver{at_least} on the Windows host ({why}); "
            "WSL uses the host's driver, never a Linux one."
        )
        return fix(summary, intent, facts=facts, notes=DRIVER_DOWNLOADS)
    summary = f"Install the NVIDIA driver{at_least} ({why}), then reboot."
    notes = (
        ""
        if commands(facts)
        else f"Use your distribution's NVIDIA driver packages or {DRIVER_DOWNLOADS}"
    )
    return fix(summary, intent, facts=facts, notes=notes)


def container_gpu_access(only_if: str | None = None) -> Fix:
    """A container sees the host's GPU on the PCI bus but gets its driver only when given it.
    ``only_if``: the condition the advice rests on ("the host has an NVIDIA GPU")."""
    condition = f"if {only_if}, " if only_if else ""
    return Fix(
        f"This is a container: {condition}the host's NVIDIA driver reaches it only when it is started "
        "with the GPU (`docker run --gpus all`, or the nvidia runtime, with the NVIDIA Container "
        "Toolkit on the host). Do not install a driver inside the container.",
        notes="https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html",
    )


def container_lost_gpu() -> Fix:
    """NVML_ERROR_UNKNOWN in a container whose GPU worked: its cgroup lost the device nodes."""
    return Fix(
        "This is a container, and NVML's 'Unknown Error' there usually means it lost access to "
        "the GPU device nodes (with systemd managing its cgroups, a `systemctl daemon-reload` on "
        "the host re-applies the device rules without them): restart the container. For good, "
        "create the /dev/char symlinks on the host (`sudo nvidia-ctk system "
        "create-dev-char-symlinks --create-all`, or a newer NVIDIA Container Toolkit that does "
        "it), or run the container engine with the cgroupfs cgroup driver.",
        notes="https://github.com/NVIDIA/nvidia-container-toolkit/issues/48",
    )


def sign_kernel_module() -> Fix:
    """Secure Boot on and the driver installed, its module not loaded: the kernel refused it."""
    return Fix(
        "UEFI Secure Boot is on, and the kernel loads only signed modules: the installed nvidia "
        "module is refused (`sudo modprobe nvidia` says 'Key was rejected by service'). Enroll "
        "the key that signs it (DKMS: `sudo mokutil --import /var/lib/dkms/mok.pub`; Fedora's "
        "akmods: `sudo mokutil --import /etc/pki/akmods/certs/public_key.der`), confirm it at "
        "the next boot, or disable Secure Boot in the firmware.",
        notes="https://wiki.ubuntu.com/UEFI/SecureBoot/Signing",
    )


def rebuild_kernel_module(facts: Facts) -> Fix:
    """The driver's userspace is installed but its kernel module is not loaded for this kernel."""
    from dldoctor.fixes.intents import fix

    kernel = (facts.system.get("os") or {}).get("kernel") or "the running kernel"
    return fix(
        f"The NVIDIA driver is installed but its kernel module is not loaded for {kernel} (a kernel "
        "update without a module built for it): rebuild it with DKMS (or reinstall your "
        "distribution's nvidia-dkms package), then reboot.",
        Intent(action="rebuild-module", names=("nvidia",)),
        Intent(action="reboot"),
        facts=facts,
        notes="Installing dkms before kernel updates keeps the module rebuilt for each new kernel.",
    )


def reload_modules(facts: Facts, modules: tuple[str, ...], summary: str, notes: str = "") -> Fix:
    """Unload and load again kernel modules (no process may use the GPU), by hand."""
    from dldoctor.fixes.intents import fix

    return fix(summary, Intent(action="reload-module", names=modules), facts=facts, notes=notes)
