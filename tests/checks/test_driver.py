"""DD101-DD104: driver and NVML checks, where they must fire and where they must stay silent."""

from __future__ import annotations

from dldoctor.checks import driver
from dldoctor.model import Severity
from tests.checks.scenarios import gpu_machine, make_facts, shown_all

TOOLKIT_13 = {"cuda": {"toolkits": [{"path": "/usr/local/cuda-13.0", "version": "13.0.88"}]}}
NVIDIA_PCI = {
    "accelerators": {
        "pci": {
            "nvidia": [
                {
                    "address": "0000:01:00.0",
                    "device_id": "0x2330",
                    "class": "0x030200",
                    "driver": None,
                }
            ]
        }
    }
}


def test_toolkit_without_driver_on_a_gpu_less_machine_is_a_warning_naming_the_driver_needed(matrix):
    verdicts = driver.toolkit_without_driver(make_facts(TOOLKIT_13), matrix)
    assert [v.severity for v in verdicts] == [Severity.WARNING]
    assert "13.0.88" in verdicts[0].title
    assert verdicts[0].evidence["driver_needed"] == "580.65.06"


def test_toolkit_with_a_loaded_driver_is_silent(matrix):
    assert driver.toolkit_without_driver(make_facts(TOOLKIT_13, gpu_machine()), matrix) == []


def test_toolkit_without_driver_defers_to_gpu_without_driver(matrix):
    facts = make_facts(TOOLKIT_13, NVIDIA_PCI)
    assert driver.toolkit_without_driver(facts, matrix) == []
    verdicts = driver.gpu_without_driver(facts, matrix)
    assert [v.severity for v in verdicts] == [Severity.ERROR]
    assert "580.65.06" in verdicts[0].fixes[0].summary


def test_gpu_held_by_nouveau_says_so(matrix):
    facts = make_facts(
        NVIDIA_PCI,
        {"accelerators": {"pci": {"nvidia": [{"address": "0000:01:00.0", "driver": "nouveau"}]}}},
    )
    (verdict,) = driver.gpu_without_driver(facts, matrix)
    assert "nouveau" in verdict.title


def test_gpu_without_driver_on_ubuntu_gives_the_install_command(matrix):
    (verdict,) = driver.gpu_without_driver(make_facts(NVIDIA_PCI), matrix)
    assert "sudo ubuntu-drivers install" in shown_all(verdict.fixes[0])


def test_gpu_without_driver_under_wsl_points_at_the_windows_host(matrix):
    facts = make_facts(NVIDIA_PCI, {"system": {"wsl": {"is_wsl": True, "version": 2}}})
    (verdict,) = driver.gpu_without_driver(facts, matrix)
    assert "Windows host" in verdict.fixes[0].summary
    assert shown_all(verdict.fixes[0]) == ()


def test_driver_library_mismatch_is_an_error_with_the_loaded_module_version(matrix):
    facts = make_facts(
        {
            "nvidia": {
                "nvml": {
                    "status": "lib_rm_version_mismatch",
                    "error": "Driver/library version mismatch",
                },
                "proc_driver": {"version": "570.86.15"},
            }
        }
    )
    (verdict,) = driver.driver_library_mismatch(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert "570.86.15" in verdict.title
    assert "sudo reboot" in shown_all(verdict.fixes[0])


def test_healthy_nvml_is_silent_for_every_driver_check(matrix):
    facts = make_facts(TOOLKIT_13, gpu_machine())
    for fn in (driver.driver_library_mismatch, driver.nvml_failure, driver.gpu_without_driver):
        assert fn(facts, matrix) == []


def test_nvml_no_permission_keeps_the_drivers_own_words(matrix):
    facts = make_facts(
        {"nvidia": {"nvml": {"status": "no_permission", "error": "Insufficient Permissions"}}}
    )
    (verdict,) = driver.nvml_failure(facts, matrix)
    assert "Insufficient Permissions" in verdict.title
    assert "/dev/nvidia" in verdict.fixes[0].summary
