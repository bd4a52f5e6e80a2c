"""Rules the public regression corpus (tests/cases/) showed missing, each at and around its edge."""

from __future__ import annotations

from dldoctor.checks import builds, compat_driver, compat_platform, driver
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages

NVIDIA_PCI = {
    "accelerators": {
        "pci": {
            "nvidia": [
                {"address": "0000:01:00.0", "device_id": None, "class": "0x030000", "driver": None}
            ]
        }
    }
}
CONTAINER = {"system": {"container": {"kind": "docker", "evidence": "/.dockerenv exists"}}}
NOT_LOADED = {"nvidia": {"nvml": {"status": "driver_not_loaded", "error": "Driver Not Loaded"}}}


def test_a_container_seeing_the_gpu_without_a_driver_needs_gpu_access_not_a_driver(matrix):
    (verdict,) = driver.gpu_without_driver(make_facts(NVIDIA_PCI, CONTAINER), matrix)
    (fix,) = verdict.fixes
    assert "--gpus all" in fix.summary and "Do not install a driver" in fix.summary
    assert fix.commands == ()


def test_an_installed_driver_without_its_kernel_module_is_rebuilt_with_dkms(matrix):
    facts = make_facts(NVIDIA_PCI, NOT_LOADED, {"system": {"os": {"kernel": "6.3.7-2-cachyos"}}})
    (verdict,) = driver.gpu_without_driver(facts, matrix)
    (fix,) = verdict.fixes
    assert "6.3.7-2-cachyos" in fix.summary
    assert shown_all(fix) == ("sudo dkms autoinstall", "sudo reboot")


def test_no_driver_at_all_is_still_a_driver_install(matrix):
    (verdict,) = driver.gpu_without_driver(make_facts(NVIDIA_PCI), matrix)
    assert "Install the NVIDIA driver" in verdict.fixes[0].summary


def _windows_tf(version: str) -> dict:
    return make_facts(
        gpu_machine(driver="560.94", cuda="12.6"),
        {"system": {"os": {"name": "Windows"}}},
        with_packages(
            dist("tensorflow", version),
            frameworks={
                "tensorflow": {
                    "distributions": [{"name": "tensorflow", "version": version}],
                    "build": {"is_cuda_build": False, "source": "build_info.py"},
                }
            },
        ),
    )


def test_native_windows_tensorflow_after_2_10_is_dd511s_not_a_missing_cuda_build(matrix):
    """No CUDA build of TensorFlow exists for native Windows after 2.10: DD201 must not offer one."""
    for version, cpu_only_fires in (("2.10.1", True), ("2.11.0", False), ("2.16.1", False)):
        dd201 = builds.cpu_only_build_on_gpu(_windows_tf(version), matrix)
        dd511 = compat_platform.windows_native_tensorflow_gpu(_windows_tf(version), matrix)
        assert bool(dd201) is cpu_only_fires, version
        assert bool(dd511) is not cpu_only_fires, version


def _torch_cuda(build_cuda: str, driver_version: str) -> dict:
    return make_facts(
        gpu_machine(driver=driver_version, cuda="9.0"),
        with_packages(
            dist("torch", "1.0.0"),
            frameworks={
                "torch": {
                    "distributions": [{"name": "torch", "version": "1.0.0"}],
                    "build": {"cuda": build_cuda, "hip": None},
                }
            },
        ),
    )


def test_a_cuda_10_0_build_needs_driver_410_48(matrix):
    """Releases before 10.2 have rows of their own (no minor-version compatibility then)."""
    for driver_version, fires in (("384.130", True), ("410.47", True), ("410.48", False)):
        verdicts = compat_driver.driver_too_old(_torch_cuda("10.0.130", driver_version), matrix)
        assert [v.severity for v in verdicts] == ([Severity.ERROR] if fires else []), driver_version
        for verdict in verdicts:
            assert verdict.evidence["driver_needed"] == "410.48"


def _onnxruntime_gpu(driver_version: str) -> dict:
    return make_facts(
        gpu_machine(driver=driver_version, cuda="12.2"),
        with_packages(
            dist("onnxruntime-gpu", "1.20.1"),
            frameworks={
                "onnxruntime": {
                    "distributions": [{"name": "onnxruntime-gpu", "version": "1.20.1"}],
                    "build": {"package_name": "onnxruntime-gpu"},
                }
            },
        ),
    )


def test_a_build_known_only_by_its_cuda_major_runs_on_that_majors_first_driver(matrix):
    """onnxruntime-gpu 1.20 is 'CUDA 12' with no minor: 525.60.13 runs every 12.x, below it none."""
    assert compat_driver.driver_too_old(_onnxruntime_gpu("535.183.01"), matrix) == []
    assert compat_driver.driver_too_old(_onnxruntime_gpu("525.60.13"), matrix) == []
    (verdict,) = compat_driver.driver_too_old(_onnxruntime_gpu("470.82.01"), matrix)
    assert verdict.severity is Severity.ERROR
