"""DD105 nvml-hung and DD106 nvml-crashed: what the NVML child's end becomes, and where it stays
silent (every other NVML status is another check's)."""

from __future__ import annotations

import pytest

from dldoctor.checks import driver
from dldoctor.facts import nvml_child
from dldoctor.facts.nvml import STATUSES
from dldoctor.model import Severity
from tests.checks.scenarios import gpu_machine, make_facts

HUNG = nvml_child.unavailable(
    "hung",
    "NVML did not answer within 5 s in nvmlInit; its process was killed",
    during="nvmlInit",
    timeout_s=5.0,
)
CRASHED = nvml_child.unavailable(
    "crashed", "NVML crashed (SIGSEGV) in nvmlDeviceGetMemoryInfo", during="nvmlDeviceGetMemoryInfo",
    signal="SIGSEGV",
)  # fmt: skip


def test_hung_nvml_is_one_error_naming_the_wedged_driver_and_its_timeout(matrix):
    facts = make_facts({"nvidia": HUNG})
    (verdict,) = driver.nvml_hung(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == "NVML did not answer within 5 s: the driver is wedged"
    assert verdict.evidence["during"] == "nvmlInit"
    assert "Xid" in verdict.fixes[0].summary
    assert verdict.fixes[1].commands == (
        ("sudo", "systemctl", "enable", "--now", "nvidia-persistenced"),
    )


def test_crashed_nvml_names_the_signal_and_the_call(matrix):
    facts = make_facts({"nvidia": CRASHED})
    (verdict,) = driver.nvml_crashed(facts, matrix)
    assert verdict.title == "NVML crashed (SIGSEGV) while in nvmlDeviceGetMemoryInfo"
    assert "libnvidia-ml.so.1" in verdict.fixes[0].summary


def test_crash_in_init_says_initialising(matrix):
    facts = make_facts({"nvidia": dict(CRASHED, nvml=dict(CRASHED["nvml"], during="nvmlInit"))})
    (verdict,) = driver.nvml_crashed(facts, matrix)
    assert verdict.title == "NVML crashed (SIGSEGV) while initialising (nvmlInit)"


@pytest.mark.parametrize("status", [s for s in STATUSES if s not in ("hung", "crashed")])
def test_every_other_status_is_silent_here(matrix, status):
    facts = make_facts({"nvidia": {"nvml": {"status": status, "error": "x"}}})
    assert driver.nvml_hung(facts, matrix) == []
    assert driver.nvml_crashed(facts, matrix) == []


def test_a_hung_or_crashed_nvml_is_no_other_driver_finding(matrix):
    """The driver is there (it hangs or crashes): not "no driver", not DD103's generic failure."""
    toolkit = {"cuda": {"toolkits": [{"path": "/usr/local/cuda-13.0", "version": "13.0.88"}]}}
    pci = {"accelerators": {"pci": {"nvidia": [{"address": "0000:01:00.0", "driver": "nvidia"}]}}}
    for nvidia in (HUNG, CRASHED):
        facts = make_facts({"nvidia": nvidia}, toolkit, pci)
        for fn in (
            driver.toolkit_without_driver,
            driver.gpu_without_driver,
            driver.nvml_failure,
            driver.driver_library_mismatch,
        ):
            assert fn(facts, matrix) == [], fn.__name__


def test_healthy_nvml_is_silent(matrix):
    facts = make_facts(gpu_machine())
    assert driver.nvml_hung(facts, matrix) == []
    assert driver.nvml_crashed(facts, matrix) == []
