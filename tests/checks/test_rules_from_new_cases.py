"""Rules the second round of public cases (tests/cases/, 2026-12-02) showed missing, each at and
around its edge: CUDA error 802 (Fabric Manager), TensorFlow's compute-capability floor, NVML's
Unknown Error in a container, and a NumPy older than the C API a binary was compiled against."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks import driver
from dldoctor.checks.registry import run_checks
from dldoctor.diagnosis import diagnose
from dldoctor.matrix import load
from dldoctor.model import Finding, Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.checks.test_runtime import error, record, runtime

ERROR_802 = (
    "UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run "
    "some cuda functions before calling NumCudaDevices() that might have already set an error? "
    "Error 802: system not yet initialized (Triggered internally at "
    "/pytorch/c10/cuda/CUDAFunctions.cpp:109.)"
)


def _judged(*overrides: dict[str, Any]) -> list[Finding]:
    outcomes = run_checks(make_facts(*overrides), load())
    return list(diagnose([f for o in outcomes for f in o.findings]).findings)


def _torch(cuda: str) -> dict[str, Any]:
    version = f"2.6.0+cu{cuda.replace('.', '')}"
    return with_packages(
        dist("torch", version),
        frameworks={
            "torch": {
                "distributions": [{"name": "torch", "version": version}],
                "build": {"cuda": cuda, "hip": None},
            }
        },
    )


def _torch_said(line: str) -> dict[str, Any]:
    info = {"cuda_built": True, "cuda_version": "12.4", "cuda_available": False}
    return runtime(torch=record(warnings=[line], info=info))


@pytest.mark.parametrize(
    ("driver_version", "dd501"), [("535.183.01", "warning"), ("550.54.14", None)]
)
def test_error_802_is_the_fabric_manager_and_a_driver_under_mvc_stays_a_warning(
    driver_version, dd501
):
    """Below the CUDA 12.4 floor (550.54.14) the driver runs torch under minor-version
    compatibility: a warning, never raised to the cause of a failure torch said was error 802."""
    judged = _judged(gpu_machine(8, driver_version, "12.2"), _torch("12.4"), _torch_said(ERROR_802))
    top = judged[0]
    assert (top.code, top.severity) == ("DD602", Severity.ERROR)
    assert top.evidence["cause"] == "fabric-manager"
    assert "nvidia-fabricmanager" in top.fixes[0].summary
    assert {f.code: f.severity.value for f in judged}.get("DD501") == dd501


def test_error_804_is_not_taken_for_the_fabric_manager():
    line = ERROR_802.replace(
        "802: system not yet initialized",
        "804: forward compatibility was attempted on non supported HW",
    )
    top = _judged(gpu_machine(), _torch("12.4"), _torch_said(line))[0]
    assert top.evidence["cause"] == "forward-compat"


def _tf_said(cc: str, minimum: str) -> dict[str, Any]:
    line = (
        "I tensorflow/core/common_runtime/gpu/gpu_device.cc:1283] Ignoring visible gpu device "
        f"(device: 0, name: Quadro K2000M, pci bus id: 0000:01:00.0, compute capability: {cc}) "
        f"with Cuda compute capability {cc}. The minimum required Cuda capability is {minimum}."
    )
    tf = record(output=[line], info={"cuda_built": True})
    tf["import"] = {"module": "tensorflow", "ok": True, "version": "1.6.0", "error": None}
    tf_package = with_packages(
        dist("tensorflow-gpu", "1.6.0"),
        frameworks={
            "tensorflow": {
                "distributions": [{"name": "tensorflow-gpu", "version": "1.6.0"}],
                "build": {"is_cuda_build": True},
            }
        },
    )
    return make_facts(gpu_machine(driver="384.111", cuda="9.0"), tf_package, runtime(tensorflow=tf))


def test_a_gpu_below_tensorflows_minimum_capability_is_told_the_floor_not_a_newer_build(matrix):
    from dldoctor.checks import runtime_gpu

    (verdict,) = runtime_gpu.no_kernel_image(_tf_said("3.0", "3.5"), matrix)
    assert "compute capability 3.0 is below the 3.5" in verdict.title
    assert "TF_CUDA_COMPUTE_CAPABILITIES" in verdict.fixes[0].summary
    assert "newest CUDA variant" not in verdict.fixes[0].summary


def _nvml_unknown(container: bool, code: int | None) -> Any:
    nvml = {"nvidia": {"nvml": {"status": "error", "error": "Unknown Error", "error_code": code}}}
    inside = {"system": {"container": {"kind": "docker", "evidence": "/.dockerenv exists"}}}
    return make_facts(nvml, inside) if container else make_facts(nvml)


@pytest.mark.parametrize(
    ("container", "code", "restart"),
    [(True, 999, True), (False, 999, False), (True, 3, False), (True, None, False)],
)
def test_nvml_unknown_error_in_a_container_is_a_restart(matrix, container, code, restart):
    (verdict,) = driver.nvml_failure(_nvml_unknown(container, code), matrix)
    assert ("restart the container" in verdict.fixes[0].summary) is restart


def _tf_numpy(compiled: str, installed: str) -> dict[str, Any]:
    said = f"RuntimeError: module compiled against API version {compiled} but this version of numpy is {installed}"
    tf = record(output=[said, "ImportError: numpy.core.multiarray failed to import"])
    tf["import"] = {
        "module": "tensorflow",
        "ok": False,
        "version": None,
        "error": error("ImportError", said),
    }
    return runtime(tensorflow=tf)


@pytest.mark.parametrize(
    ("compiled", "installed", "wanted"),
    [
        ("0xc", "0xb", "numpy>=1.14,<2"),  # NumPy 1.14 introduced C API 12
        ("0x10", "0xf", "numpy>=1.23,<2"),  # 1.23 and 1.24 share 16
        ("a", "9", "numpy>=1.10,<2"),  # old NumPy printed hex without 0x
        ("0x12", "0x11", "numpy>=2.0"),  # a NumPy 2 build: no upper bound
    ],
)
def test_a_numpy_older_than_the_compiled_c_api_is_upgraded_not_pinned_below_2(
    compiled, installed, wanted
):
    top = next(f for f in _judged(_tf_numpy(compiled, installed)) if f.code == "DD614")
    assert f"({compiled})" in top.title and "NumPy 2" not in top.title
    requirements = [r for fix in top.fixes for i in fix.intents for r in i.requirements]
    assert requirements == [wanted]


TRT = (
    "W tensorflow/compiler/xla/stream_executor/platform/default/dso_loader.cc:64] Could not load "
    "dynamic library '{lib}'; dlerror: {lib}: cannot open shared object file: No such file or "
    "directory; LD_LIBRARY_PATH: /usr/lib64-nvidia"
)


def _missing(framework: str, libraries: list[str], imported: bool = True) -> Any:
    lines = [TRT.format(lib=lib) for lib in libraries]
    probe = record(output=lines, info={"cuda_built": True})
    probe["import"] = {"module": framework, "ok": imported, "version": "2.11.0", "error": None}
    return make_facts(gpu_machine(driver="510.47.03", cuda="11.6"), runtime(**{framework: probe}))


@pytest.mark.parametrize(
    ("framework", "libraries", "imported", "severity"),
    [
        ("tensorflow", ["libnvinfer.so.7", "libnvinfer_plugin.so.7"], True, Severity.INFO),
        ("tensorflow", ["libnvinfer.so.7", "libcudnn.so.8"], True, Severity.ERROR),
        ("tensorflow", ["libnvinfer.so.7"], False, Severity.ERROR),
        ("torch", ["libnvinfer.so.7"], True, Severity.ERROR),
    ],
)
def test_only_tf_trts_tensorrt_missing_is_information_not_an_error(
    matrix, framework, libraries, imported, severity
):
    from dldoctor.checks import runtime_gpu

    (verdict,) = runtime_gpu.cuda_library_not_loaded(
        _missing(framework, libraries, imported), matrix
    )
    assert verdict.severity is severity


def _sigill_on_mac(python_machine: str, hardware_arm64: bool | None) -> Any:
    tf = record(status="crash", process={"exit_code": -4, "signal": "SIGILL", "output_tail": []})
    tf["import"] = None
    return make_facts(
        {"python": {"machine": python_machine}},
        {"accelerators": {"apple": {"is_macos": True, "hardware_arm64": hardware_arm64}}},
        runtime(tensorflow=tf),
    )


@pytest.mark.parametrize(
    ("python_machine", "hardware_arm64", "rosetta"),
    [
        ("x86_64", True, True),
        ("arm64", True, False),
        ("x86_64", False, False),
        ("x86_64", None, False),
    ],
)
def test_sigill_of_an_x86_python_on_apple_silicon_is_rosetta_without_avx(
    matrix, python_machine, hardware_arm64, rosetta
):
    from dldoctor.checks import runtime as runtime_checks

    facts = _sigill_on_mac(python_machine, hardware_arm64)
    (verdict,) = runtime_checks.illegal_instruction(facts, matrix)
    assert ("native arm64 Python" in verdict.fixes[0].summary) is rosetta


@pytest.mark.parametrize(
    ("needed", "library", "conda_fixes_it"),
    [
        ("GLIBC_2.23", "/lib64/libm.so.6", False),
        ("GLIBCXX_3.4.30", "/usr/lib64/libstdc++.so.6", True),
        ("CXXABI_1.3.13", "/usr/lib64/libstdc++.so.6", True),
    ],
)
def test_a_glibc_too_old_is_not_sent_to_condas_libstdcxx(needed, library, conda_fixes_it):
    said = f"{library}: version `{needed}' not found (required by /env/site-packages/jaxlib/xla_extension.so)"
    jax = record()
    jax["import"] = {
        "module": "jax",
        "ok": False,
        "version": None,
        "error": error("ImportError", said),
    }
    top = next(f for f in _judged(runtime(jax=jax)) if f.code == "DD615")
    assert needed in top.title
    assert ("libstdcxx-ng" in top.fixes[0].summary) is conda_fixes_it


def _flash_attn_on(cc: str, version: str | None) -> Any:
    machine = gpu_machine(driver="535.129.03", cuda="12.2")
    machine["nvidia"]["gpus"][0].update(name="A GPU", compute_capability=cc)
    packages = [dist("torch", "2.1.2+cu121")] + ([dist("flash-attn", version)] if version else [])
    return make_facts(machine, with_packages(*packages))


@pytest.mark.parametrize(
    ("cc", "version", "fires"),
    [
        ("7.5", "2.4.2", True),  # Turing, FlashAttention 2
        ("8.0", "2.4.2", False),  # Ampere: the floor itself
        ("8.6", "2.0.0", False),
        ("7.5", "2.0.0", True),  # the first FlashAttention 2
        ("7.5", "1.0.9", False),  # FlashAttention 1.x supports Turing
        ("7.5", None, False),
    ],
)
def test_flash_attention_2_needs_ampere(matrix, cc, version, fires):
    from dldoctor.checks import compat_arch

    found = [
        v
        for v in compat_arch.gpu_arch_not_in_build(_flash_attn_on(cc, version), matrix)
        if v.evidence.get("extension") == "flash-attn"
    ]
    assert bool(found) is fires
    if fires:
        assert "scaled_dot_product_attention" in found[0].fixes[0].summary


NVIDIA_ON_PCI = {
    "accelerators": {
        "pci": {
            "nvidia": [
                {"address": "0000:01:00.0", "device_id": None, "class": "0x030000", "driver": None}
            ]
        }
    }
}


@pytest.mark.parametrize(
    ("nvml_status", "secure_boot", "advice"),
    [
        (
            "driver_not_loaded",
            True,
            "Enroll the key",
        ),  # the driver is installed, its module refused
        ("driver_not_loaded", False, "rebuild it with DKMS"),
        ("driver_not_loaded", None, "rebuild it with DKMS"),  # unknown: not claimed
        ("library_not_found", True, "Install the NVIDIA driver"),  # no driver to refuse
    ],
)
def test_a_module_not_loaded_under_secure_boot_is_signed_not_rebuilt(
    matrix, nvml_status, secure_boot, advice
):
    facts = make_facts(
        NVIDIA_ON_PCI,
        {
            "nvidia": {
                "nvml": {"status": nvml_status},
                "kernel_module": {"loaded": False, "secure_boot": secure_boot},
            }
        },
    )
    (verdict,) = driver.gpu_without_driver(facts, matrix)
    assert advice in verdict.fixes[0].summary
