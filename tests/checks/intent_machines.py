"""Machines whose findings carry each kind of intent a check names (kernel module, reboot, a
variable, a diagnostic, WSL, a service), on the platforms they render differently for."""

from __future__ import annotations

from dldoctor.facts.model import Facts
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

PCI_GPU = {"accelerators": {"pci": {"nvidia": [{"address": "0000:01:00.0", "driver": None}]}}}
WINDOWS = {"system": {"os": {"name": "Windows", "distribution_id": None}}}
WSL = {"system": {"wsl": {"is_wsl": True, "version": 2}}}


def _nvml(status: str, **extra: object) -> dict:
    return {"nvidia": {"nvml": {"status": status, "error": status, **extra}}}


def _visible(value: str) -> dict:
    return {"env": {"variables": {"CUDA_VISIBLE_DEVICES": value}, "withheld": []}}


SCENARIOS: dict[str, Facts] = {
    "driver-library-mismatch": make_facts(gpu_machine(), _nvml("lib_rm_version_mismatch"), PCI_GPU),
    "nvml-error": make_facts(gpu_machine(), _nvml("error")),
    "nvml-hung": make_facts(gpu_machine(), _nvml("hung", timeout_s=10.0)),
    "module-not-loaded": make_facts(
        {"nvidia": {"nvml": {"status": "driver_not_loaded", "error": "Driver Not Loaded"}}},
        PCI_GPU,
    ),
    "visible-devices-empty-linux": make_facts(gpu_machine(2), _visible("")),
    "visible-devices-empty-windows": make_facts(gpu_machine(2), _visible(""), WINDOWS),
    "visible-devices-too-high": make_facts(gpu_machine(2), _visible("0,5")),
    "visible-devices-too-high-windows": make_facts(gpu_machine(2), _visible("3"), WINDOWS),
    "wsl-without-libcuda": make_facts(
        WSL, {"nvidia": {"libcuda": {"wsl_libcuda": False, "paths": []}}}
    ),
    "windows-tensorflow-2-15": make_facts(
        gpu_machine(), WINDOWS, with_packages(dist("tensorflow", "2.15.0"))
    ),
}
