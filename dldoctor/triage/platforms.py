"""What pasted platform strings say: the OS, the kernel, WSL, the architecture, the Python."""

from __future__ import annotations

import re

from dldoctor.triage.partial import Partial, version

_LINUX_PLATFORM = re.compile(
    r"^Linux-(?P<kernel>.+?)-(?P<arch>x86_64|aarch64|arm64|ppc64le|s390x|i686)(?:-with-.*)?$"
)
_WINDOWS_PLATFORM = re.compile(r"^Windows-(?P<release>[\w.]+)-(?P<build>[\d.]+)")
_MAC_PLATFORM = re.compile(r"^(?:macOS|Darwin)-(?P<version>[\d.]+)-(?P<arch>x86_64|arm64)")
_ARCH_SUFFIX = re.compile(r"\((x86_64|aarch64|arm64|ppc64le|AMD64)\)\s*$")
_MAC_OS = re.compile(r"^(?:macOS|Mac OSX|Mac OS X|OS X)\s+(?P<version>[\d.]+)", re.I)


def python_platform(partial: Partial, text: str) -> None:
    """`platform.platform()`: "Linux-5.15.0-88-generic-x86_64-with-glibc2.35", "Windows-10-10.0.22621-SP0"."""
    text = text.strip()
    linux = _LINUX_PLATFORM.match(text)
    if linux:
        kernel = linux.group("kernel")
        partial.put("system.os.name", "Linux")
        partial.put("system.os.kernel", kernel)
        partial.put("system.architecture", _arch(linux.group("arch")))
        wsl = "microsoft" in kernel.lower()
        partial.put("system.wsl.is_wsl", wsl)
        partial.put("system.wsl.version", (2 if "wsl2" in kernel.lower() else 1) if wsl else False)
        return
    windows = _WINDOWS_PLATFORM.match(text)
    if windows:
        partial.put("system.os.name", "Windows")
        partial.put("system.os.kernel", windows.group("build"))
        partial.put("system.wsl.is_wsl", False)
        return
    mac = _MAC_PLATFORM.match(text)
    if mac:
        partial.put("system.os.name", "Darwin")
        partial.put("system.os.macos_version", mac.group("version"))
        partial.put("system.architecture", _arch(mac.group("arch")))
        partial.put("system.wsl.is_wsl", False)


def os_line(partial: Partial, text: str) -> None:
    """collect_env's "OS:" ("Ubuntu 22.04.3 LTS (x86_64)", "Microsoft Windows 11 Pro", "macOS 14.1 (arm64)")."""
    text = text.strip()
    arch = _ARCH_SUFFIX.search(text)
    name = _ARCH_SUFFIX.sub("", text).strip()
    if arch:
        partial.put("system.architecture", _arch(arch.group(1)))
    mac = _MAC_OS.match(name)
    if "windows" in name.lower():
        partial.facts.setdefault("system", {}).setdefault("os", {}).setdefault("name", "Windows")
        partial.put("system.os.distribution", name)
    elif mac:
        partial.facts.setdefault("system", {}).setdefault("os", {}).setdefault("name", "Darwin")
        partial.put("system.os.macos_version", mac.group("version"))
    elif name and partial.get("system.os.name") in (None, "Linux"):
        partial.put("system.os.name", "Linux")
        partial.put("system.os.distribution", name)


def python_version(partial: Partial, text: str) -> None:
    """ "3.10.12 (main, ...) [GCC 11.4.0] (64-bit runtime)", "3.6": the version and its markers."""
    found = version(text.split("(")[0]) if text else None
    if not found or not re.match(r"^\d+\.\d+", found):
        return
    partial.put("python.version", found)
    major_minor = ".".join(found.split(".")[:2])
    partial.put("python.marker_environment.python_version", major_minor)
    if found.count(".") >= 2:
        partial.put("python.marker_environment.python_full_version", found)
    if "64-bit runtime" in text or "64 bit" in text:
        partial.put("python.bits", 64)
    elif "32-bit runtime" in text or "32 bit" in text:
        partial.put("python.bits", 32)


def markers_from_os(partial: Partial) -> None:
    """The markers a known OS implies (sys_platform, platform_system), for the fix renderers."""
    name = partial.get("system.os.name")
    if name is None:
        return
    platform = {"Linux": "linux", "Windows": "win32", "Darwin": "darwin"}.get(name)
    partial.put("python.marker_environment.platform_system", name)
    partial.put("python.marker_environment.sys_platform", platform)
    arch = partial.get("system.architecture")
    if arch:
        partial.put("python.marker_environment.platform_machine", arch)


def _arch(text: str) -> str:
    return {"AMD64": "x86_64", "arm64": "arm64"}.get(text, text)
