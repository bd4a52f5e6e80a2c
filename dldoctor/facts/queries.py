"""Small read-only questions about Facts that several checks ask; no judging here."""

from __future__ import annotations

import re
from typing import Any

from packaging.version import InvalidVersion, Version

from dldoctor.facts.model import Facts

_SEPARATORS = re.compile(r"[-_.]+")


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them ("TensorFlow_CPU" → "tensorflow-cpu").

    packaging.utils.canonicalize_name does the same; importing it costs ~10 ms (packaging.tags).
    """
    return _SEPARATORS.sub("-", name).lower()


NO_DRIVER_STATUSES = ("library_not_found", "driver_not_loaded")


def nvml_status(facts: Facts) -> str | None:
    return (facts.nvidia.get("nvml") or {}).get("status")


def driver_version(facts: Facts) -> str | None:
    """The loaded driver's version, from NVML or else /proc/driver/nvidia/version."""
    return facts.nvidia.get("driver_version") or (facts.nvidia.get("proc_driver") or {}).get(
        "version"
    )


def driver_loaded(facts: Facts) -> bool:
    if driver_version(facts):
        return True
    return nvml_status(facts) not in (*NO_DRIVER_STATUSES, "module_missing", None)


def gpus(facts: Facts) -> list[dict[str, Any]]:
    return list(facts.nvidia.get("gpus") or [])


def nvidia_pci_devices(facts: Facts) -> list[dict[str, Any]]:
    return list(((facts.accelerators.get("pci") or {}).get("nvidia")) or [])


def nvidia_gpu_present(facts: Facts) -> bool:
    """An NVIDIA GPU is on this machine: NVML lists one, or the PCI bus shows one."""
    return bool(gpus(facts)) or bool(nvidia_pci_devices(facts))


def distributions(facts: Facts) -> list[dict[str, Any]]:
    return list(facts.packages.get("distributions") or [])


def installed(facts: Facts, name: str) -> dict[str, Any] | None:
    """The first (active) installed distribution of that name, as Python would import it."""
    wanted = canonical(name)
    for dist in distributions(facts):
        if dist.get("name") and canonical(dist["name"]) == wanted:
            return dist
    return None


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
    return list((facts.packages.get("conda") or {}).get("packages") or [])


def conda_package(facts: Facts, name: str) -> dict[str, Any] | None:
    return next((p for p in conda_packages(facts) if p.get("name") == name), None)
