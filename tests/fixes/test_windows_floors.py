"""A GPU build's driver minimum is the judged OS's: native Windows numbers its drivers apart from
Linux (CUDA 11.8: 520.06 on Windows, 520.61.05 on Linux; 12.6: 560.76 and 560.28.03), and the
checks judge Windows drivers by Windows floors, so the fixes and `fix --apply` must too."""

from __future__ import annotations

import pytest

from dldoctor.fixes import gpu_builds
from dldoctor.fixes.driver import floor
from dldoctor.fixes.plan import below
from dldoctor.fixes.torch_builds import torch_build
from dldoctor.matrix import DriverFloor, load
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

MATRIX = load()
WINDOWS = {"system": {"os": {"name": "Windows", "distribution_id": None}}}


def machine(os: str, driver: str, cuda: str, *dists: dict) -> object:
    return make_facts(
        WINDOWS if os == "Windows" else {},
        gpu_machine(driver=driver, cuda=cuda),
        with_packages(*dists),
    )


def test_floor_reads_the_row_of_the_judged_os():
    row = DriverFloor("12.6", "560.28.03", "560.76", "test")
    assert floor(row, machine("Windows", "566.36", "12.7")) == "560.76"
    assert floor(row, machine("Linux", "565.57.01", "12.7")) == "560.28.03"
    assert floor(None, machine("Windows", "566.36", "12.7")) is None
    unknown = DriverFloor("13.0", "580.65.06", None, "test")  # no Windows figure: unknown
    assert floor(unknown, machine("Windows", "581.57", "13.0")) is None
    wsl = make_facts({"system": {"wsl": {"is_wsl": True, "version": 2}}})
    assert floor(row, wsl) == "560.76"  # WSL's driver is the Windows host's, numbered so
    assert floor(unknown, wsl) is None
    not_wsl = make_facts({"system": {"wsl": {"is_wsl": False}}})
    assert floor(row, not_wsl) == "560.28.03"


@pytest.mark.parametrize(("os", "needs"), [("Windows", "520.06"), ("Linux", "520.61.05")])
def test_the_torch_build_a_windows_driver_runs_is_not_refused_by_a_linux_floor(os, needs):
    # Windows' CUDA 11.8 driver 520.06 is numbered below Linux's 520.61.05: a Linux floor would
    # make `fix --apply` refuse the very build the driver runs.
    driver = "520.06" if os == "Windows" else "520.61.05"
    facts = machine(os, driver, "11.8", dist("torch", "2.7.0+cpu"))
    fix = torch_build(facts, MATRIX, "the published build this driver and GPU run")
    (intent,) = fix.intents
    assert intent.requirements[0] == "torch==2.7.0+cu118"
    assert intent.driver == needs
    assert below(driver, intent.driver) is False


@pytest.mark.parametrize(("os", "needs"), [("Windows", "560.76"), ("Linux", "560.28.03")])
def test_the_driver_upgrade_torch_needs_names_the_oss_driver(os, needs):
    facts = machine(
        os, "552.22" if os == "Windows" else "550.54.14", "12.4", dist("torch", "2.13.0+cpu")
    )
    fix = torch_build(facts, MATRIX, "why")
    assert fix.summary == (
        "The driver supports CUDA 12.4, so it is older than every CUDA build of torch 2.13.0 "
        f"(12.6, 13.0, 13.2): upgrade the NVIDIA driver to {needs} or newer (CUDA 12.6), or "
        "install an older torch."
    )
    assert [i.driver for i in fix.intents] == [needs]


@pytest.mark.parametrize(("os", "needs"), [("Windows", "560.76"), ("Linux", "560.28.03")])
def test_paddle_too_old_names_the_oss_driver(os, needs):
    facts = machine(os, "552.22", "12.4", dist("paddlepaddle", "3.3.0"))
    fix = gpu_builds.paddle_gpu_build(facts, MATRIX)
    assert f"upgrade the NVIDIA driver to {needs} or newer (CUDA 12.6)" in fix.summary
    assert [i.driver for i in fix.intents] == [needs]


@pytest.mark.parametrize(("os", "needs"), [("Windows", "560.76"), ("Linux", "560.28.03")])
def test_paddles_gpu_build_needs_its_cudas_driver_for_the_os(os, needs):
    facts = machine(os, "566.36", "12.7", dist("paddlepaddle", "3.3.0"))
    fix = gpu_builds.paddle_gpu_build(facts, MATRIX)
    (intent,) = fix.intents
    assert intent.cuda == "12.6" and intent.driver == needs


@pytest.mark.parametrize(("os", "needs"), [("Windows", "527.41"), ("Linux", "525.60.13")])
def test_onnxruntime_asks_first_for_the_oss_cuda12_driver(os, needs):
    facts = machine(os, "516.01", "11.7", dist("onnxruntime", "1.20.0"))
    fix = gpu_builds.onnxruntime_gpu_build(facts, MATRIX)
    assert fix.summary.startswith(
        f"First upgrade the NVIDIA driver to {needs} or newer (onnxruntime-gpu uses CUDA 12). "
    )
    (intent,) = fix.intents
    assert intent.driver == needs


def test_a_windows_driver_above_its_own_floor_is_not_told_to_upgrade():
    # 526.98 is below Windows' CUDA 12 floor 527.41 but above Linux's 525.60.13.
    facts = machine("Windows", "526.98", "12.0", dist("onnxruntime", "1.20.0"))
    assert gpu_builds.onnxruntime_gpu_build(facts, MATRIX).summary.startswith(
        "First upgrade the NVIDIA driver to 527.41 or newer"
    )
    linux = machine("Linux", "526.98", "12.0", dist("onnxruntime", "1.20.0"))
    assert gpu_builds.onnxruntime_gpu_build(linux, MATRIX).summary.startswith("Replace")


def test_plan_bs_candidate_builds_carry_the_oss_driver_floors():
    from dldoctor.fixes.builds import torch_builds

    def floors(os: str) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        facts = machine(os, "552.22", "12.4", dist("torch", "2.7.0+cpu"))
        return {
            (b.release, b.cuda): (b.driver_full, b.driver_mvc) for b in torch_builds(facts, MATRIX)
        }

    assert floors("Windows")[("2.7", "11.8")] == ("520.06", "452.39")
    assert floors("Linux")[("2.7", "11.8")] == ("520.61.05", "450.80.02")
    assert floors("Windows")[("2.7", "12.6")] == ("560.76", "527.41")
    assert floors("Windows")[("2.13", "13.0")] == (None, None)  # the matrix has no Windows figure
    assert floors("Linux")[("2.13", "13.0")] == ("580.65.06", "580.65.06")
