"""The machine's own words: kernel modules, reboots, system packages and services, diagnostics, WSL.

Each needs root, a reboot or the Windows host, so none is ever run by ``fix --apply``; each is
rendered for the platform of the judged facts, or not at all where that platform has no such step.
"""

from __future__ import annotations

import re

from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import Command, rerun
from dldoctor.model import Intent

_MODULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # never an option
_OPTION = re.compile(r"--?[A-Za-z0-9][A-Za-z0-9-]*|[A-Za-z0-9][A-Za-z0-9._-]*")
# Diagnostics by name: the kernel log whole, or its errors and warnings only.
_KERNEL_LOG = {
    "kernel-log": ("sudo", "dmesg"),
    "kernel-errors": ("sudo", "dmesg", "--level=err,warn"),
}
# How each package manager installs (sudo: they change the system).
_INSTALL = {
    "apt-get": ("sudo", "apt-get", "install", "-y"),
    "dnf": ("sudo", "dnf", "install", "-y"),
    "zypper": ("sudo", "zypper", "install", "-y"),
    "pacman": ("sudo", "pacman", "-S", "--needed"),
    "apk": ("sudo", "apk", "add"),
    "winget": ("winget", "install", "--exact", "--id"),  # one package id per command
}


def _os(facts: Facts) -> str:
    return str((facts.system.get("os") or {}).get("name") or "")


def _wsl(facts: Facts) -> bool:
    return bool((facts.system.get("wsl") or {}).get("is_wsl"))


def render(intent: Intent, facts: Facts) -> tuple[Command, ...]:
    """The commands for one of the machine's intents; none where this platform has none."""
    action, linux = intent.action, _os(facts) == "Linux"  # an unknown OS gets words only
    native = linux and not _wsl(facts)  # WSL has no NVIDIA kernel module or driver daemons
    if action == "reload-module" and native and _plain(intent.names, _MODULE):
        names = intent.names
        back = ("-a", *reversed(names)) if len(names) > 1 else names
        return (("sudo", "rmmod", *names), ("sudo", "modprobe", *back))
    if action == "rebuild-module" and native:
        return (("sudo", "dkms", "autoinstall"),)
    if action == "reboot":
        return _reboot(facts)
    if action == "service" and native and len(intent.names) == 1 and _plain(intent.names, _MODULE):
        return (("sudo", "systemctl", "enable", "--now", intent.names[0]),)
    if action == "system-package" and (linux or _os(facts) == "Windows"):
        return _packages(intent.names, facts)
    if action == "diagnose":
        return _diagnose(intent, facts, linux)
    if action == "wsl-update":
        return (("wsl", "--update"), ("wsl", "--shutdown"))
    if action == "wsl-install":
        return (("wsl", "--install"),)
    return ()


def note(intent: Intent, facts: Facts) -> str:
    if intent.action == "wsl-update":
        return "Run these in Windows PowerShell as administrator, not inside WSL."
    if intent.action == "wsl-install":
        return (
            "Run it in Windows PowerShell as administrator (then restart Windows), not inside WSL."
        )
    if intent.action == "system-package" and not render(intent, facts):
        return f"Install {' and '.join(_WHAT.get(n, n) for n in intent.names)} with your system's package manager."
    return ""


_WHAT = {"c-compiler": "a C/C++ compiler", "python-headers": "the Python development headers"}


def _reboot(facts: Facts) -> tuple[Command, ...]:
    if _wsl(facts):  # a reboot inside WSL restarts nothing of the driver: the host stops WSL
        return (("wsl", "--shutdown"),)
    if _os(facts) == "Windows":
        return (("shutdown", "/r", "/t", "0"),)
    if _os(facts) == "Darwin":
        return (("sudo", "shutdown", "-r", "now"),)
    return (("sudo", "reboot"),) if _os(facts) == "Linux" else ()


def _diagnose(intent: Intent, facts: Facts, linux: bool) -> tuple[Command, ...]:
    if intent.value == "dldoctor" and _plain(intent.names, _OPTION):
        return (rerun(facts, *intent.names),)
    if intent.value in _KERNEL_LOG and linux:
        return (_KERNEL_LOG[intent.value],)
    return ()


def _packages(names: tuple[str, ...], facts: Facts) -> tuple[Command, ...]:
    """The distribution's names for what ``names`` provide, for its package manager."""
    from dldoctor.matrix import load

    table = load().tables["system"]
    distro = str((facts.system.get("os") or {}).get("distribution_id") or "").lower()
    if _os(facts) == "Windows":
        distro = "windows"
    manager = next((m["manager"] for m in table["package_manager"] if distro in m["ids"]), None)
    rows = {r["provides"]: r for r in table["system_package"]}
    if manager is None or not names or not all(manager in rows.get(n, {}) for n in names):
        return ()
    wanted = tuple(dict.fromkeys(rows[n][manager] for n in names))
    if manager == "winget":
        return tuple((*_INSTALL[manager], name) for name in wanted)
    return ((*_INSTALL[manager], *wanted),)


def _plain(values: tuple[str, ...], pattern: re.Pattern[str]) -> bool:
    return bool(values) and all(pattern.fullmatch(v) for v in values)
