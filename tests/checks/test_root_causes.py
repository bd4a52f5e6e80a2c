"""Root causes the corpus showed missing: one conflict seen from two sides is one finding, what a
framework said outranks a prediction, and an import failure's cause is read from its own words."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.diagnosis import diagnose
from dldoctor.model import Area, Finding, Severity
from tests.checks.scenarios import dist, gpu_machine, shown_all, with_packages
from tests.checks.test_runtime import TORCH_CU121, error, judge, record, runtime


def _finding(code: str, **evidence: Any) -> Finding:
    return Finding(code, Severity.ERROR, code, Area.PACKAGES, evidence=evidence)


KERAS_3 = _finding("DD509", keras="3.0.3", backend="tensorflow", backend_distribution="tensorflow")


def _pin(distribution: str, requirement: str) -> Finding:
    return _finding("DD303", distribution=distribution, requirement=requirement, installed="x")


def test_keras_3_and_its_backends_pin_on_keras_2_are_one_finding():
    judged = diagnose([_pin("tensorflow", "keras<2.16,>=2.15.0"), KERAS_3]).findings
    assert [f.code for f in judged] == ["DD509"]
    assert [e["code"] for e in judged[0].explains] == ["DD303"]


def test_keras_3_does_not_fold_the_backends_other_pins_or_other_pairs():
    others = [_pin("tensorflow", "numpy<2.0.0,>=1.23.5"), _pin("keras-nlp", "keras>=3")]
    judged = diagnose([*others, KERAS_3]).findings
    assert sorted(f.code for f in judged) == ["DD303", "DD303", "DD509"]
    assert all(not f.explains for f in judged)


def test_what_a_framework_said_outranks_what_its_versions_predict():
    predicted = _finding("DD504", framework="tensorflow")
    said = _finding("DD604", framework="tensorflow", said=["import output: libcudart.so.10.1"])
    assert [f.code for f in diagnose([predicted, said]).findings] == ["DD604", "DD504"]
    # ...but a prediction that explains what was seen is still the root cause
    cudnn = _finding("DD611", framework="tensorflow", cause="cudnn-version-mismatch", said=["x"])
    judged = diagnose([cudnn, predicted]).findings
    assert [f.code for f in judged] == ["DD504"]


def _companion(module: str, message: str) -> dict[str, Any]:
    return {module: {"module": module, "ok": False, "error": error("ImportError", message)}}


UNDEFINED_C10 = "undefined symbol: _ZN3c104cuda9SetDeviceEi"


def test_an_extension_built_for_another_torch_is_rebuilt_not_reinstalled(matrix):
    message = f"/env/lib/python3.11/site-packages/flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so: {UNDEFINED_C10}"
    torch = record(companions=_companion("flash_attn", message))
    packages = with_packages(dist("torch", "2.5.1+cu121"), dist("flash-attn", "2.7.0"))
    (finding,) = judge(matrix, TORCH_CU121, packages, runtime(torch=torch))["DD601"].findings
    assert finding.evidence["cause"] == "extension-build-mismatch"
    (fix,) = finding.fixes
    assert "built for the installed torch" in fix.summary
    assert "pytorch/pytorch/issues/187727" in fix.notes
    assert not fix.commands  # a reinstall of the same wheel would change nothing


def test_torchvision_missing_a_c10_symbol_gets_the_release_paired_with_torch(matrix):
    message = f"/env/lib/python3.11/site-packages/torchvision/_C.so: {UNDEFINED_C10}"
    torch = record(companions=_companion("torchvision", message))
    (finding,) = judge(matrix, TORCH_CU121, runtime(torch=torch))["DD601"].findings
    assert shown_all(finding.fixes[0]) == (
        "/env/bin/python -m pip install 'torchvision==0.20.*' --index-url https://download.pytorch.org/whl/cu121",
    )


def test_torchs_own_library_missing_a_c10_symbol_is_a_broken_torch(matrix):
    torch = record(status="fail")
    message = f"/env/lib/python3.11/site-packages/torch/lib/libtorch_cuda.so: {UNDEFINED_C10}"
    torch["import"] = {"module": "torch", "ok": False, "error": error("ImportError", message)}
    (finding,) = judge(matrix, TORCH_CU121, runtime(torch=torch))["DD601"].findings
    assert finding.evidence["cause"] is None
    assert finding.fixes[0].summary.startswith("Reinstall torch 2.5.1+cu121")


WIN_126 = (
    '[WinError 126] The specified module could not be found. Error loading "C:\\env\\Lib\\'
    'site-packages\\torch\\lib\\c10.dll" or one of its dependencies.'
)


def _windows_torch(output: list[str]) -> dict[str, Any]:
    torch = record(status="fail")
    torch["import"] = {
        "module": "torch",
        "ok": False,
        "error": error("OSError", WIN_126),
        "output": output,
    }
    return runtime(torch=torch)


def test_torch_saying_the_vc_redistributable_is_missing_names_it(matrix):
    said = "Microsoft Visual C++ Redistributable is not installed, this may lead to the DLL load failure."
    windows = {"system": {"os": {"name": "Windows"}}}
    (finding,) = judge(matrix, TORCH_CU121, windows, _windows_torch([said]))["DD601"].findings
    assert finding.title == (
        "`import torch` fails although it is installed: PyTorch 2.5.1+cu121 cannot load its "
        "DLLs: the Microsoft Visual C++ Redistributable is not installed"
    )
    assert finding.evidence["cause"] == "vc-redist-missing"
    assert shown_all(finding.fixes[0]) == (
        "winget install --exact --id Microsoft.VCRedist.2015+.x64",
    )
    # The same words judged on a Linux machine's facts: no Windows command, the advice in words.
    (linux,) = judge(matrix, TORCH_CU121, _windows_torch([said]))["DD601"].findings
    assert linux.fixes[0].commands == () and "aka.ms" in linux.fixes[0].summary


def test_the_same_dll_error_without_those_words_is_not_called_the_redistributable(matrix):
    (finding,) = judge(matrix, TORCH_CU121, _windows_torch([]))["DD601"].findings
    assert finding.evidence["cause"] is None
    assert finding.title.endswith(f"OSError: {WIN_126}")
    assert "Visual C++" not in " ".join(f.summary for f in finding.fixes)


CUBLASLT_11 = (
    "Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.11: "
    "cannot open shared object file: No such file or directory"
)


def _ort(
    version: str, built_cuda: str, toolkit: str, log: str = CUBLASLT_11
) -> tuple[dict[str, Any], ...]:
    ort = record(
        **{"import": {"module": "onnxruntime", "ok": True, "version": version, "error": None}},
        info={
            "available_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
            "providers_loaded": {"CUDAExecutionProvider": {"loaded": False, "log": [log]}},
        },
    )
    packages = with_packages(
        dist("onnxruntime-gpu", version, top_level=["onnxruntime"]),
        frameworks={
            "onnxruntime": {
                "distributions": [{"name": "onnxruntime-gpu", "version": version}],
                "build": {"package_name": "onnxruntime-gpu", "cuda_version": built_cuda},
            }
        },
    )
    cuda = {"cuda": {"toolkits": [{"path": "/usr/local/cuda", "version": toolkit}]}}
    return gpu_machine(driver="535.104.05", cuda="12.2"), packages, cuda, runtime(onnxruntime=ort)


def test_a_cuda_11_onnxruntime_on_a_cuda_12_machine_gets_its_cuda_12_build(matrix):
    (finding,) = judge(matrix, *_ort("1.18.0", "11.8", "12.1.66"))["DD604"].findings
    fix = finding.fixes[0]
    assert fix.summary.startswith("Install the CUDA 12 build of onnxruntime-gpu 1.18.0")
    assert shown_all(fix) == (
        "/env/bin/python -m pip install --force-reinstall onnxruntime-gpu==1.18.0 --extra-index-url "
        "https://aiinfra.pkgs.visualstudio.com/PublicPackages/_packaging/onnxruntime-cuda-12/pypi/simple/",
    )


def test_an_onnxruntime_older_than_any_cuda_12_build_is_upgraded(matrix):
    (finding,) = judge(matrix, *_ort("1.16.3", "11.8", "12.1.66"))["DD604"].findings
    assert finding.fixes[0].summary.startswith("Upgrade onnxruntime-gpu to 1.19 or newer")


def test_a_cuda_11_onnxruntime_on_a_cuda_11_machine_is_missing_a_library_not_a_build(matrix):
    (finding,) = judge(matrix, *_ort("1.18.0", "11.8", "11.8.89"))["DD604"].findings
    assert "onnxruntime-cuda-12" not in " ".join(" ".join(shown_all(f)) for f in finding.fixes)
    assert finding.fixes[0].summary.startswith("Install libcublasLt.so.11")


@pytest.mark.parametrize(
    ("found", "built", "named"),
    [
        ("8.0.5", "8.1.0", "Install cuDNN 8.1.0 or a newer 8.x"),  # older: the build's version
        ("8.1.0", "8.1.0", None),  # the same: nothing to install
        ("7600", "7102", None),  # newer than the build (torch's old wording): not this fix
        ("8600", "8906", "Install cuDNN 8.9.6 or a newer 8.x"),  # JAX's numbers, dotted
        ("8, 0, 3", "8, 3, 2", "Install cuDNN 8.3.2 or a newer 8.x"),  # torch's tuples
    ],
)
def test_a_cudnn_older_than_the_build_names_the_version_to_install(found, built, named):
    from dldoctor.checks.runtime_libs import _cudnn_needed

    fix = _cudnn_needed({"found": found, "built": built})
    assert (fix.summary.split(" (")[0] if fix else None) == named


def _tf_said(*lines: str) -> dict[str, Any]:
    tf = record(
        **{"import": {"module": "tensorflow", "ok": True, "version": "2.16.1", "error": None}},
        info={"build_info": {"is_cuda_build": True}},
        output=list(lines),
    )
    return runtime(tensorflow=tf)


LIBCUDA = (
    "Could not load dynamic library 'libcuda.so.1'; dlerror: libcuda.so.1: cannot open shared "
    "object file: No such file or directory"
)
CUDART = (
    "Could not load dynamic library 'libcudart.so.12'; dlerror: libcudart.so.12: cannot open "
    "shared object file: No such file or directory"
)


def test_the_drivers_own_library_missing_is_never_a_wheel_to_install(matrix):
    (finding,) = judge(matrix, gpu_machine(), _tf_said(LIBCUDA))["DD604"].findings
    assert finding.evidence["libraries"] == ["libcuda.so.1"]
    (fix,) = finding.fixes
    assert "/usr/lib/wsl/lib" in fix.summary and "comes with the NVIDIA driver" in fix.summary
    assert finding.evidence["said"] == [f"output: {LIBCUDA}"]  # once, though two rows read it


def test_beside_the_driver_library_the_shipped_ones_are_still_installed(matrix):
    (finding,) = judge(matrix, gpu_machine(), _tf_said(LIBCUDA, CUDART))["DD604"].findings
    assert finding.evidence["libraries"] == ["libcuda.so.1", "libcudart.so.12"]
    first, *rest = finding.fixes
    assert first.summary.startswith("Install libcudart.so.12 for the CUDA major")
    assert any("comes with the NVIDIA driver" in f.summary for f in rest)


def test_no_driver_on_the_machine_explains_a_framework_not_finding_libcuda():
    no_driver = _finding("DD104", gpus=1)
    libcuda = _finding("DD604", framework="tensorflow", libraries=["libcuda.so.1"], said=["x"])
    judged = diagnose([libcuda, no_driver]).findings
    assert [f.code for f in judged] == ["DD104"]
    assert [e["code"] for e in judged[0].explains] == ["DD604"]
    # a CUDA library the wheels ship is not the driver's doing
    cudart = _finding("DD604", framework="tensorflow", libraries=["libcudart.so.12"], said=["x"])
    assert sorted(f.code for f in diagnose([cudart, no_driver]).findings) == ["DD104", "DD604"]


ERROR_126 = (
    "[E:onnxruntime:Default, provider_bridge_ort.cc:1745 onnxruntime::TryGetProviderInfo_CUDA] "
    "onnxruntime::ProviderLibrary::Get [ONNXRuntimeError] : 1 : FAIL : LoadLibrary failed with "
    'error 126 "" when trying to load "C:\\env\\Lib\\site-packages\\onnxruntime\\capi\\'
    'onnxruntime_providers_cuda.dll"'
)


def test_windows_error_126_is_a_dependency_of_the_provider_not_the_provider(matrix):
    (finding,) = judge(matrix, *_ort("1.17.1", "11.8", "11.8.89", ERROR_126))["DD604"].findings
    assert finding.evidence["libraries"] == ["onnxruntime_providers_cuda.dll"]
    (fix,) = finding.fixes  # PATH for CUDA's and cuDNN's DLLs, not "install the provider"
    assert fix.summary.startswith("Windows error 126: a DLL the provider needs is missing")
    # on a machine with another CUDA major, the build for that major comes first
    (finding,) = judge(matrix, *_ort("1.18.0", "11.8", "12.4.131", ERROR_126))["DD604"].findings
    assert finding.fixes[0].summary.startswith(
        "Install the CUDA 12 build of onnxruntime-gpu 1.18.0"
    )
