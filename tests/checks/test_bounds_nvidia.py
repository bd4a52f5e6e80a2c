"""DD101 and DD104 for one and several toolkits and GPUs, with and without a floor the matrix
gives; the NVML evidence every driver check carries (its error, nvidia-smi's output); DD501's
unreadable driver version and DD502's evidence."""

from __future__ import annotations

import copy

import pytest

from dldoctor.checks import compat_driver, driver
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts.known import Unknown
from dldoctor.fixes.driver import install_driver
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import torch
from tests.checks.scenarios import gpu_machine, make_facts
from tests.checks.test_driver import NVIDIA_PCI, TOOLKIT_13

MATRIX = load()
NVML = {
    "nvidia": {"nvml": {"status": "library_not_found", "error": "NVML Shared Library Not Found"}}
}


def toolkits(*versions: str) -> dict:
    return {
        "cuda": {"toolkits": [{"path": f"/usr/local/cuda-{v}", "version": v} for v in versions]}
    }


def pci(count: int) -> dict:
    data = copy.deepcopy(NVIDIA_PCI)
    first = data["accelerators"]["pci"]["nvidia"][0]
    data["accelerators"]["pci"]["nvidia"] = [
        dict(first, address=f"0000:0{i + 1}:00.0") for i in range(count)
    ]
    return data


def floor(version: str) -> str:
    return MATRIX.toolkit_floor(version).linux


def test_dd101_the_newest_toolkits_floor_is_the_one_needed():
    facts = make_facts(toolkits("12.4.131", "13.0.88"), NVML)
    (verdict,) = driver.toolkit_without_driver(facts, MATRIX)
    assert verdict.title == (
        "CUDA toolkit 12.4.131, 13.0.88 is installed but no NVIDIA driver is loaded and no "
        "NVIDIA GPU is visible: CUDA code can be compiled here, not run"
    )
    row = MATRIX.toolkit_floor("13.0.88")
    assert verdict.evidence == {
        "toolkits": ["12.4.131", "13.0.88"],
        "nvml_status": "library_not_found",
        "nvml_error": "NVML Shared Library Not Found",
        "driver_needed": row.linux,
        "matrix_row": f"cuda_drivers.toml CUDA {row.cuda}",
    }
    assert verdict.fixes == (
        install_driver(
            facts, row.linux, f"CUDA {row.cuda} needs it; only if this machine has a GPU"
        ),
    )


def test_dd101_a_toolkit_the_matrix_has_no_floor_for_asks_for_no_version():
    facts = make_facts(toolkits("99.1.0"), NVML)
    (verdict,) = driver.toolkit_without_driver(facts, MATRIX)
    assert verdict.evidence["driver_needed"] is None and verdict.evidence["matrix_row"] is None
    assert verdict.fixes == (
        install_driver(facts, None, "the toolkit needs one; only if this machine has a GPU"),
    )


@pytest.mark.parametrize(("count", "said"), [(1, "1 NVIDIA GPU is"), (2, "2 NVIDIA GPUs are")])
def test_dd104_counts_the_gpus_on_the_bus(count, said):
    facts = make_facts(pci(count), TOOLKIT_13, NVML)
    (verdict,) = driver.gpu_without_driver(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == f"{said} on the PCI bus but no NVIDIA driver is loaded"
    assert verdict.evidence == {
        "pci_devices": pci(count)["accelerators"]["pci"]["nvidia"],
        "nvml_status": "library_not_found",
        "nvml_error": "NVML Shared Library Not Found",
        "driver_needed": floor("13.0.88"),
        "matrix_row": f"cuda_drivers.toml CUDA {MATRIX.toolkit_floor('13.0.88').cuda}",
    }


def test_dd104_without_a_toolkit_asks_for_a_driver_for_the_gpu():
    facts = make_facts(pci(1), NVML)
    (verdict,) = driver.gpu_without_driver(facts, MATRIX)
    assert verdict.evidence["driver_needed"] is None and verdict.evidence["matrix_row"] is None
    assert verdict.fixes == (install_driver(facts, None, "required to use the GPU"),)


@pytest.mark.parametrize(
    ("smi", "shown"),
    [
        (
            {"ran": True, "output": "NVIDIA-SMI has failed", "timed_out": False},
            "NVIDIA-SMI has failed",
        ),
        ({"ran": True, "output": "", "timed_out": True}, "timed out"),
        ({"ran": True, "output": None, "timed_out": False}, ""),
    ],
)
def test_the_nvml_evidence_carries_what_nvidia_smi_said(smi, shown):
    facts = make_facts(pci(1), NVML, {"nvidia": {"nvidia_smi": smi}})
    (verdict,) = driver.gpu_without_driver(facts, MATRIX)
    assert verdict.evidence["nvidia_smi"] == shown
    quiet = make_facts(pci(1), NVML, {"nvidia": {"nvidia_smi": {"ran": False}}})
    assert "nvidia_smi" not in driver.gpu_without_driver(quiet, MATRIX)[0].evidence


def test_dd501_an_unreadable_driver_version_is_the_unknown_fact_it_names():
    facts = make_facts(
        torch("2.13.0+cu130", "13.0"), gpu_machine(driver="not-a-version", cuda="13.0")
    )
    with pytest.raises(Unknown) as raised:
        compat_driver.driver_too_old(facts, MATRIX)
    assert raised.value.path == "nvidia.driver_version"


def test_dd502_shows_the_wsl_facts_and_the_libcuda_paths_it_saw():
    wsl = {"is_wsl": True, "version": 2}
    paths = ["/usr/lib/x86_64-linux-gnu/libcuda.so.1"]
    facts = make_facts(
        {"system": {"wsl": wsl}}, {"nvidia": {"libcuda": {"wsl_libcuda": False, "paths": paths}}}
    )
    (verdict,) = compat_driver.wsl_without_libcuda(facts, MATRIX)
    assert verdict.title == (
        "WSL without /usr/lib/wsl/lib/libcuda.so: no GPU passthrough from the Windows driver"
    )
    assert verdict.evidence == {"wsl": wsl, "libcuda_paths": paths}
    with pytest.raises(NotApplicable, match=r"^not WSL$"):
        compat_driver.wsl_without_libcuda(make_facts(), MATRIX)


def nvml(**fields) -> dict:
    return {"nvidia": {"nvml": {"error": None, **fields}}}


@pytest.mark.parametrize(
    ("during", "doing"),
    [("nvmlInit", "initialising (nvmlInit)"), ("nvmlDeviceGetCount", "in nvmlDeviceGetCount"),
     (None, "answering"), ("", "answering")],
)  # fmt: skip
def test_dd106_says_where_nvml_crashed_and_with_which_signal(during, doing):
    facts = make_facts(nvml(status="crashed", signal="SIGSEGV", during=during))
    (verdict,) = driver.nvml_crashed(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == f"NVML crashed (SIGSEGV) while {doing}"
    assert verdict.evidence == {
        "nvml_status": "crashed",
        "nvml_error": None,
        "during": during,
        "signal": "SIGSEGV",
    }
    assert "libnvidia-ml.so.1" in verdict.fixes[0].summary
    (unsignalled,) = driver.nvml_crashed(make_facts(nvml(status="crashed")), MATRIX)
    assert unsignalled.title == "NVML crashed (a signal) while answering"


@pytest.mark.parametrize(
    ("seconds", "within"), [(20, " within 20 s"), (7.5, " within 7.5 s"), (None, "")]
)
def test_dd105_says_how_long_nvml_was_given(seconds, within):
    facts = make_facts(nvml(status="hung", timeout_s=seconds, during="nvmlInit"))
    (verdict,) = driver.nvml_hung(facts, MATRIX)
    assert verdict.title == f"NVML did not answer{within}: the driver is wedged"
    assert verdict.evidence["timeout_s"] == seconds and verdict.evidence["during"] == "nvmlInit"
    kernel, persistence = verdict.fixes
    assert kernel.intents[0].value == "kernel-errors" and "nvidia-smi -r" in kernel.notes
    assert persistence.intents[0].names == ("nvidia-persistenced",)


@pytest.mark.parametrize("status", ["no_permission", "function_not_found", "error"])
def test_dd103_quotes_nvmls_error_else_its_status(status):
    (verdict,) = driver.nvml_failure(make_facts(nvml(status=status, error="Insufficient")), MATRIX)
    assert verdict.title == "NVML cannot talk to the NVIDIA driver: Insufficient"
    (bare,) = driver.nvml_failure(make_facts(nvml(status=status)), MATRIX)
    assert bare.title == f"NVML cannot talk to the NVIDIA driver: {status}"
    (remedy,) = bare.fixes
    assert bool(remedy.intents) == (status == "error")  # the kernel log is read for "error" only
    for silent in ("ok", "hung", "crashed", "library_not_found"):
        assert driver.nvml_failure(make_facts(nvml(status=silent)), MATRIX) == []
