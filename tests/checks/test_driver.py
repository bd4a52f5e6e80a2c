"""DD101-DD104: driver and NVML checks, where they must fire and where they must stay silent."""

from __future__ import annotations

import pytest

from dldoctor.checks import driver
from dldoctor.facts.known import Unknown
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


def test_driver_library_mismatch_offers_a_module_reload_without_a_reboot(matrix):
    mismatch = {"status": "lib_rm_version_mismatch", "error": "Driver/library version mismatch"}
    facts = make_facts({"nvidia": {"nvml": mismatch, "proc_driver": {"version": "570.86.15"}}})
    (verdict,) = driver.driver_library_mismatch(facts, matrix)
    _, reload = verdict.fixes
    assert reload.summary == (
        "Or, without a reboot: reload the NVIDIA kernel modules (no process may use the GPU, "
        "and no display server may run on it)."
    )


def test_a_gpu_without_driver_but_with_nvidia_smi_installed_rebuilds_the_kernel_module(matrix):
    """nvidia-smi installed means the driver's user space is there: its module is what is
    missing (a new kernel without a DKMS build), not the driver."""
    facts = make_facts(NVIDIA_PCI, {"nvidia": {"nvidia_smi": {"path": "/usr/bin/nvidia-smi"}}})
    (verdict,) = driver.gpu_without_driver(facts, matrix)
    without = driver.gpu_without_driver(make_facts(NVIDIA_PCI), matrix)[0]
    assert verdict.fixes[0].summary != without.fixes[0].summary
    assert "sudo ubuntu-drivers install" not in shown_all(verdict.fixes[0])


def test_an_unread_pci_bus_names_the_unknown_fact(matrix):
    facts = make_facts({"accelerators": {"pci": None}})
    with pytest.raises(Unknown) as raised:
        driver.gpu_without_driver(facts, matrix)
    assert str(raised.value) == "accelerators.pci.nvidia is unknown"


def test_nvml_hung_and_crashed_say_where_to_look(matrix):
    hung = make_facts(
        {"nvidia": {"nvml": {"status": "hung", "timeout_s": 30.0, "during": "nvmlInit"}}}
    )
    (verdict,) = driver.nvml_hung(hung, matrix)
    assert verdict.title == "NVML did not answer within 30 s: the driver is wedged"
    stuck, persist = verdict.fixes
    assert stuck.summary == (
        "Find what the driver is stuck on in the kernel log (Xid errors), then reset the GPU or "
        "reboot."
    )
    assert persist.summary == (
        "On a machine with many GPUs and persistence mode off, keep the driver initialised so "
        "NVML answers at once, then run dldoctor again."
    )
    crashed = make_facts({"nvidia": {"nvml": {"status": "crashed", "signal": "SIGSEGV"}}})
    (verdict,) = driver.nvml_crashed(crashed, matrix)
    (remedy,) = verdict.fixes
    assert remedy.summary == (
        "Find which libnvidia-ml.so.1 is loaded (LD_LIBRARY_PATH first, then the loader cache) "
        "and make it the running driver's own, or reinstall the driver."
    )
    assert remedy.notes.endswith("`cat /proc/driver/nvidia/version` names the running driver.")
