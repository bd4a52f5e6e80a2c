"""Small read-only questions about Facts that several checks ask; no judging here."""

from __future__ import annotations

import functools
import re
from typing import Any

from packaging.version import InvalidVersion, Version

from dldoctor.facts.known import known, need
from dldoctor.facts.model import Facts

_SEPARATORS = re.compile(r"[-_.]+")


@functools.lru_cache(maxsize=8192)  # the same names are asked for again and again
def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them ("TensorFlow_CPU" → "tensorflow-cpu").

    packaging.utils.canonicalize_name does the same; importing it costs ~10 ms (packaging.tags).
    """
    return _SEPARATORS.sub("-", name).lower()


NO_DRIVER_STATUSES = ("library_not_found", "driver_not_loaded")

# What checks name when they cannot judge whether a driver is loaded or a GPU is present.
DRIVER_FACTS = "nvidia.nvml.status, nvidia.proc_driver and nvidia.kernel_module.loaded"
GPU_FACTS = "nvidia.gpus and accelerators.pci.nvidia"


def nvml_status(facts: Facts) -> str | None:
    """nvmlInit's outcome ("ok", "driver_not_loaded", ...); None when unknown."""
    return known(facts, "nvidia.nvml.status")


def driver_version(facts: Facts) -> str | None:
    """The loaded driver's version, from NVML or else /proc/driver/nvidia/version."""
    return (
        known(facts, "nvidia.driver_version") or known(facts, "nvidia.proc_driver.version") or None
    )


def windows_driver(facts: Facts) -> bool:
    """Whether the driver is numbered as Windows numbers it: on native Windows, and in WSL,
    whose driver is the Windows host's (NVIDIA's CUDA on WSL guide: install no Linux driver;
    NVML in WSL reports the host's version, e.g. 551.86). Its floors are the Windows column."""
    on_windows = (facts.system.get("os") or {}).get("name") == "Windows"
    return on_windows or (facts.system.get("wsl") or {}).get("is_wsl") is True


def driver_loaded(facts: Facts) -> bool | None:
    """Whether an NVIDIA driver is loaded: True, False, or None when the facts cannot tell."""
    if driver_version(facts):
        return True
    status = nvml_status(facts)
    if status in NO_DRIVER_STATUSES:
        return False
    if status is not None and status != "module_missing":
        return True  # NVML reached a driver that answered with an error: one is loaded
    loaded = known(facts, "nvidia.kernel_module.loaded")  # no NVML answer: the kernel decides
    return bool(loaded) if loaded is not None else None


def gpus(facts: Facts) -> list[dict[str, Any]]:
    """The GPUs NVML listed (empty when it listed none or could not be asked)."""
    return list(facts.nvidia.get("gpus") or [])


def nvidia_pci_devices(facts: Facts) -> list[dict[str, Any]] | None:
    """NVIDIA display devices on the PCI bus; None when the bus could not be read."""
    devices = known(facts, "accelerators.pci.nvidia")
    if devices is None or (not devices and known(facts, "accelerators.pci.error")):
        return None
    return list(devices)


def nvidia_gpu_present(facts: Facts) -> bool | None:
    """An NVIDIA GPU is on this machine: NVML lists one, or the PCI bus shows one.

    False only when a source that would show one was read and shows none; None when unknown.
    """
    pci = nvidia_pci_devices(facts)
    if gpus(facts) or pci:
        return True
    nvml_listed_none = nvml_status(facts) == "ok" and known(facts, "nvidia.gpus") is not None
    # WSL2's GPUs are not PCI devices (/dev/dxg), so an empty bus proves nothing there.
    pci_shows_none = pci is not None and known(facts, "accelerators.pci.dxg_present") is False
    return False if nvml_listed_none or pci_shows_none else None


def distributions(facts: Facts) -> list[dict[str, Any]]:
    """Every installed distribution; raises Unknown when the list itself is unknown (a check
    asking "is X installed?" then is not judged, rather than told "no")."""
    return list(need(facts, "packages.distributions"))


# Where a Facts keeps its distribution index: (the list it was built from, its length, index).
_INDEX_ATTR = "_dldoctor_distribution_index"


def distribution_index(facts: Facts) -> dict[str, dict[str, Any]]:
    """Canonical name → the first (active) distribution of that name, built once per Facts.

    Checks and fix renderers ask `installed()` once per finding; a scan per question made an
    environment of 3000 distributions with unmet requirements cost ~10 M name comparisons. Facts
    is frozen, so the index rides on the instance (outside its fields: not serialised, not
    compared) and is rebuilt if the distributions list was replaced or grew.
    """
    dists = facts.packages.get("distributions") or []
    cached = facts.__dict__.get(_INDEX_ATTR)
    if cached is not None and cached[0] is dists and cached[1] == len(dists):
        return cached[2]
    index: dict[str, dict[str, Any]] = {}
    for dist in dists:
        if isinstance(dist, dict) and isinstance(dist.get("name"), str) and dist["name"]:
            index.setdefault(canonical(dist["name"]), dist)
    object.__setattr__(facts, _INDEX_ATTR, (dists, len(dists), index))
    return index


def installed(facts: Facts, name: str) -> dict[str, Any] | None:
    """The first (active) installed distribution of that name, as Python would import it.

    None: not installed. Raises Unknown when the distributions are unknown.
    """
    distributions(facts)  # raises Unknown when the list itself is unknown
    return distribution_index(facts).get(canonical(name))


def framework(facts: Facts, key: str) -> dict[str, Any] | None:
    return (facts.packages.get("frameworks") or {}).get(key)


class Written(Version):
    """A parsed version that prints as its source wrote it: driver "580.82.07" compares as
    580.82.7 but is shown "580.82.07", never re-rendered from the parse."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._text = text.strip()

    def __str__(self) -> str:
        return self._text


def version_of(text: str | None) -> Version | None:
    """The parsed version (shown as written), or None for no text or a text that is no version."""
    if not text:
        return None
    try:
        return Written(str(text))
    except InvalidVersion:
        return None


def public_of(text: str | None) -> Version | None:
    """The version without its local label: '0.4.7+cuda11.cudnn86' orders as 0.4.7.

    A local label says how a wheel was built (CUDA 11, cuDNN 8.6, +cu118), not which release
    it is: two pieces of one release compare equal whatever their builds."""
    parsed = version_of(text)
    return None if parsed is None else Written(release_of(str(text)))


_LOCAL_CUDA = re.compile(r"^cuda(\d+)(?:\.cudnn(\d+))?$")


def local_cuda(text: str | None) -> tuple[str, str | None] | None:
    """The CUDA (and cuDNN) a jaxlib local label names: '0.4.7+cuda11.cudnn86' → ('11', '8.6'),
    '0.1.69+cuda101' → ('10.1', None); None for no such label.

    Labels with a cuDNN part name the CUDA major ("cuda11.cudnn805": 11, cuDNN 8.0.5); the
    older ones without it end with the minor ("cuda92": 9.2, "cuda110": 11.0)."""
    parsed = version_of(text)
    match = _LOCAL_CUDA.match(parsed.local or "") if parsed else None
    if match is None:
        return None
    digits, cudnn = match.groups()
    if cudnn is None:
        return (f"{digits[:-1]}.{digits[-1]}" if len(digits) > 1 else digits), None
    return digits, ".".join(p for p in (cudnn[:1], cudnn[1:2], cudnn[2:]) if p)


def jaxlib_cuda(frame: dict[str, Any] | None) -> tuple[str, str | None] | None:
    """The CUDA (and cuDNN) a jaxlib of the pre-plugin era was built for, from its local label
    (jaxlib 0.4.7+cuda11.cudnn86 is a CUDA build with no separate plugin)."""
    for dist in (frame or {}).get("distributions") or []:
        if canonical(str(dist.get("name", ""))) == "jaxlib":
            return local_cuda(dist.get("version"))
    return None


def release_of(version: str) -> str:
    """'2.13.0+cpu' → '2.13.0' (the public version a pin uses), as written: never re-rendered."""
    return version.partition("+")[0].strip() if version_of(version) else version


def library_candidates(facts: Facts, framework: str, library: str) -> list[dict[str, Any]] | None:
    """The copies of a CUDA library the dynamic loader would try for a framework, in its order
    (the library map); None when the report has no map for that framework."""
    frameworks = (facts.cuda.get("library_map") or {}).get("frameworks") or {}
    if framework not in frameworks:
        return None
    entry = (frameworks[framework].get("libraries") or {}).get(library) or {}
    return list(entry.get("candidates") or [])


def loaded_copy(facts: Facts, framework: str, library: str, major: int) -> dict[str, Any] | None:
    """The copy of ``lib<library>.so.<major>`` the loader would pick for a framework, if known."""
    for copy in library_candidates(facts, framework, library) or []:
        found = version_of(copy.get("version")) or version_of(
            str(copy.get("soname") or "").rpartition(".so.")[2] or None
        )
        if found is not None and found.major == major:
            return copy
    return None


def conda_packages(facts: Facts) -> list[dict[str, Any]]:
    """The conda environment's package records (empty outside conda, or in old reports)."""
    conda = facts.packages.get("conda")
    return list(conda.get("packages") or []) if isinstance(conda, dict) else []


def conda_package(facts: Facts, name: str) -> dict[str, Any] | None:
    return next((p for p in conda_packages(facts) if p.get("name") == name), None)
