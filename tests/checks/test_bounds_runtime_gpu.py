"""What the runtime GPU checks (DD602-DD605) read from a framework's record: the CUDA a driver
supports as CUDA writes it (cuDriverGetVersion's integer), which records are GPU builds, and
the verdict, title, evidence and fix each check gives for every kind of record."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dldoctor.checks import runtime_gpu
from dldoctor.checks.registry import run_checks
from dldoctor.matrix import load
from dldoctor.model import Status
from tests.checks.bounds import machine
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.checks.test_runtime import TORCH_CU121, error, record, runtime

MATRIX = load()


@given(st.integers(1, 20), st.integers(0, 9))
def test_the_drivers_cuda_integer_reads_as_major_dot_minor(major, minor):
    """CUDA writes 13.0 as 13000 and 12.8 as 12080 (major * 1000 + minor * 10)."""
    assert runtime_gpu._driver_cuda(str(major * 1000 + minor * 10)) == f"{major}.{minor}"


def test_a_driver_cuda_that_is_no_integer_is_kept_as_written():
    assert runtime_gpu._driver_cuda("12.8") == "12.8"
    assert runtime_gpu._driver_cuda(None) is None and runtime_gpu._driver_cuda("") == ""


def test_a_record_is_a_gpu_build_by_what_the_framework_said_of_itself():
    facts = make_facts()
    for said in ({"cuda_built": True}, {"compiled_with_cuda": True}, {"hip_version": "6.4"}):
        assert runtime_gpu._gpu_build(facts, MATRIX, "torch", {"info": said}) is True
    for said in ({"cuda_built": False}, {"compiled_with_cuda": False}, {"hip_version": None}, {}):
        assert runtime_gpu._gpu_build(facts, MATRIX, "torch", {"info": said}) is False
    providers = {"available_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
    assert runtime_gpu._gpu_build(facts, MATRIX, "onnxruntime", {"info": providers}) is True
    cpu = {"available_providers": ["CPUExecutionProvider"], "cuda_built": True}
    assert runtime_gpu._gpu_build(facts, MATRIX, "onnxruntime", {"info": cpu}) is False


# -- the checks themselves, through run_checks, as a report is judged ---------------------------

JAX = with_packages(
    dist("jax", "0.7.2"),
    dist("jaxlib", "0.7.2"),
    frameworks={"jax": {"distributions": [{"name": "jaxlib", "version": "0.7.2"}]}},
)
JAX_RECORD = {"import": {"module": "jax", "ok": True, "version": "0.7.2", "error": None}}
NO_GPU = {"nvidia": {"nvml": {"status": "ok", "error": None}, "gpus": [], "gpu_count": 0}}


def outcome(code: str, *overrides: dict[str, Any]):
    (found,) = [o for o in run_checks(make_facts(*overrides), MATRIX) if o.code == code]
    return found


def findings(code: str, *overrides: dict[str, Any]):
    return outcome(code, *overrides).findings


def _init_error(words: str, **info: Any) -> dict[str, Any]:
    return record(
        info={"cuda_built": True, "cuda_version": "12.1", "cuda_init_error": words, **info}
    )


def test_dd602_is_not_applicable_without_a_gpu_and_says_so():
    found = outcome("DD602", NO_GPU, TORCH_CU121, runtime(torch=_init_error("CUDA unknown error")))
    assert found.status is Status.SKIPPED
    assert found.reason == "no NVIDIA GPU on this machine"


def test_init_words_no_signature_knows_are_each_frameworks_own_finding():
    """A framework whose init failure no row knows gets the generic row, titled by its words;
    another framework's known failure before it leaves it judged."""
    odd = "RuntimeError: something odd happened while starting"
    jax = record(**JAX_RECORD, info={"backend_errors": {"cuda": odd}})
    torch = _init_error("RuntimeError: CUDA error: CUDA unknown error")
    found = findings("DD602", gpu_machine(), TORCH_CU121, JAX, runtime(torch=torch, jax=jax))
    by = {f.evidence["framework"]: f for f in found}
    assert set(by) == {"torch", "jax"}
    generic = by["jax"]
    assert generic.title == f"JAX 0.7.2 cannot initialise CUDA: {odd}"
    assert generic.evidence["signature"] == "cuda-error-other"
    assert generic.evidence["cause"] == "cuda-init" and generic.evidence["generic"] is True
    assert generic.evidence["where"] == "cuda backend" and generic.evidence["error"] == odd
    assert generic.evidence["said"] == [f"cuda backend: {odd}"]
    assert by["torch"].evidence["signature"] == "cuda-unknown-error"


def test_init_words_no_signature_knows_for_two_frameworks_are_two_findings():
    odd = "RuntimeError: something odd happened while starting"
    jax = record(**JAX_RECORD, info={"backend_errors": {"cuda": odd}})
    found = findings(
        "DD602", gpu_machine(), TORCH_CU121, JAX, runtime(torch=_init_error(odd), jax=jax)
    )
    assert sorted(f.evidence["framework"] for f in found) == ["jax", "torch"]
    assert {f.title for f in found} == {
        f"PyTorch 2.5.1+cu121 cannot initialise CUDA: {odd}",
        f"JAX 0.7.2 cannot initialise CUDA: {odd}",
    }


def test_an_insufficient_driver_without_a_number_says_the_cuda_nvml_reports():
    """CUDA's "insufficient driver" names no version: the CUDA the driver supports is NVML's;
    the build's CUDA is what the framework said at run time, before its static build."""
    torch = _init_error("CUDA driver version is insufficient for CUDA runtime version")
    torch["info"]["cuda_version"] = "12.4"  # it said 12.4; the static build says 12.1
    (finding,) = findings(
        "DD602", gpu_machine(driver="470.82.01", cuda="11.4"), TORCH_CU121, runtime(torch=torch)
    )
    assert finding.title == (
        "The NVIDIA driver is too old for PyTorch 2.5.1+cu121 (built for CUDA 12.4): "
        "it supports CUDA 11.4 only"
    )
    assert finding.evidence["driver"] == "470.82.01"
    assert finding.evidence["driver_cuda"] == "11.4"
    assert finding.evidence["gpus"] == ["NVIDIA H100 80GB HBM3"]
    assert "CUDA 12.4 build needs it" in finding.fixes[0].summary


def test_an_insufficient_driver_build_without_a_said_cuda_takes_the_static_build():
    torch = _init_error("CUDA driver version is insufficient for CUDA runtime version")
    torch["info"]["cuda_version"] = None
    (finding,) = findings(
        "DD602", gpu_machine(driver="470.82.01", cuda="11.4"), TORCH_CU121, runtime(torch=torch)
    )
    assert "(built for CUDA 12.1)" in finding.title


def _kernel_record(words: str, **info: Any) -> dict[str, Any]:
    return record(
        devices=[{"id": "cpu", "kind": "cpu"}, {"id": "cuda:0", "kind": "cuda"}],
        info={"cuda_built": True, "cuda_version": "12.1", **info},
        smoke=[
            {"test": "matmul", "device": "cuda:0", "status": "fail", "error": error("E", words)}
        ],
    )


def test_no_kernel_image_names_every_gpus_architecture_and_the_build_list():
    words = "CUDA error: no kernel image is available for execution on the device"
    torch = _kernel_record(words, arch_list=["sm_80", "sm_90"])
    two = machine("580.65.06", "13.0", ("NVIDIA GeForce RTX 5090", "12.0"), ("NVIDIA H100", "9.0"))
    (finding,) = findings("DD603", two, TORCH_CU121, runtime(torch=torch))
    assert "has no GPU code for sm_120, sm_90: " in finding.title
    assert finding.evidence["compute_capabilities"] == ["12.0", "9.0"]
    assert finding.evidence["arch_list"] == ["sm_80", "sm_90"]
    assert finding.evidence["where"] == "matmul on cuda:0"
    assert finding.evidence["error"] == f"E: {words}"


def test_no_kernel_image_on_a_gpu_of_unknown_capability_says_this_gpu():
    words = "CUDA error: no kernel image is available for execution on the device"
    tf = _kernel_record(words)
    tf["import"] = {"module": "tensorflow", "ok": True, "version": "2.16.1", "error": None}
    # torch is installed too: the remedy is still TensorFlow's, not a torch build.
    unknown_cc = machine("580.65.06", "13.0", ("GPU", ""))
    (finding,) = findings("DD603", unknown_cc, TORCH_CU121, runtime(tensorflow=tf))
    assert finding.title.startswith("TensorFlow 2.16.1 has no GPU code for this GPU: ")
    # Not torch: the remedy is words for its own framework, not a torch build.
    (remedy,) = finding.fixes
    assert remedy.summary.startswith("Install a TensorFlow build compiled for this GPU")
    assert not remedy.commands


def test_ptx_that_cannot_be_jit_compiled_keeps_its_rows_title_and_advice():
    words = "RuntimeError: CUDA error: the provided PTX was compiled with an unsupported toolchain."
    (finding,) = findings("DD603", gpu_machine(), TORCH_CU121, runtime(torch=_kernel_record(words)))
    row = MATRIX.signatures.by_id("ptx-unsupported-toolchain")
    assert row is not None
    assert finding.title == row.title.format(framework="PyTorch 2.5.1+cu121")
    assert finding.fixes[0].summary == row.advice


def _tf_said(*lines: str, ok: Any = True) -> dict[str, Any]:
    return record(
        **{"import": {"module": "tensorflow", "ok": ok, "version": "2.16.1", "error": None}},
        info={"build_info": {"is_cuda_build": True}},
        output=list(lines),
        libraries=[{"path": "/env/lib/libcudart.so.12", "name": "libcudart.so.12"}],
    )


CUDNN_MISSING = (
    "Could not load dynamic library 'libcudnn.so.9'; dlerror: libcudnn.so.9: cannot open shared "
    "object file: No such file or directory"
)


def test_a_missing_library_names_where_copies_were_found_and_the_loader_path():
    static = {
        "cuda": {
            "libraries": {
                "cudnn": [{"path": "/opt/cudnn/libcudnn.so.8", "version": "8.9.7"}],
                "cudart": [{"path": "/usr/local/cuda/lib64/libcudart.so.12", "version": "12.4"}],
            },
            "pip_libraries": [
                {"name": "nvidia-cudnn-cu11", "version": "8.6.0", "component": "cudnn"},
                {"name": "nvidia-nccl-cu12", "version": "2.21.5", "component": "nccl"},
            ],
        },
        "env": {"variables": {"LD_LIBRARY_PATH": "/opt/cudnn"}},
    }
    (finding,) = findings(
        "DD604", gpu_machine(), static, runtime(tensorflow=_tf_said(CUDNN_MISSING))
    )
    assert finding.evidence["copies_found"] == [
        "/opt/cudnn/libcudnn.so.8 (8.9.7)",
        "pip nvidia-cudnn-cu11 8.6.0",
    ]
    assert finding.evidence["LD_LIBRARY_PATH"] == "/opt/cudnn"
    assert finding.evidence["loaded"] == ["/env/lib/libcudart.so.12"]
    assert finding.title == "TensorFlow 2.16.1 could not load libcudnn.so.9 (output)"
    (remedy,) = finding.fixes  # no pins known: the generic words
    assert remedy.summary == (
        "Install libcudnn.so.9 for the CUDA major TensorFlow was built for (its NVIDIA pip "
        "wheels, or the CUDA toolkit), and make sure the dynamic loader finds it "
        "(LD_LIBRARY_PATH or ldconfig)."
    )


def test_a_missing_cuda_runtime_lists_the_cudart_copies():
    static = {
        "cuda": {
            "libraries": {
                "cudart": [{"path": "/usr/local/cuda/lib64/libcudart.so.11.0", "version": "11.8"}],
                "cudnn": [{"path": "/opt/cudnn/libcudnn.so.8", "version": "8.9.7"}],
            }
        }
    }
    words = (
        "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory"
    )
    (finding,) = findings("DD604", gpu_machine(), static, runtime(tensorflow=_tf_said(words)))
    assert finding.evidence["copies_found"] == ["/usr/local/cuda/lib64/libcudart.so.11.0 (11.8)"]


def test_a_framework_that_crashed_while_importing_cannot_be_imported_even_without_a_gpu():
    """A probe that died in the import recorded no import result: the library it could not load
    is why it cannot be imported, GPU or not."""
    words = (
        "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory"
    )
    tf = _tf_said(words)
    tf.update({"import": None, "status": "crash"})
    tf["output"] = []
    tf["process"] = {"exit_code": 1, "signal": None, "timed_out": False, "output_tail": [words]}
    (finding,) = findings("DD604", NO_GPU, runtime(tensorflow=tf))
    assert finding.title == "TensorFlow could not load libcudart.so.12 so it cannot be imported"


def test_pasted_library_words_are_judged_by_whether_a_gpu_is_there():
    """Pasted words do not say whether the import worked: with a GPU the missing library is a
    finding, without one it is harmless, and with no GPU facts it is not judged."""
    pasted = _tf_said(CUDNN_MISSING, ok=None)
    assert findings("DD604", gpu_machine(), runtime(tensorflow=pasted))
    assert outcome("DD604", NO_GPU, runtime(tensorflow=pasted)).status is Status.PASSED
    unknown = {"nvidia": {"nvml": {"status": "unknown", "error": None}, "gpus": None}}
    unknown["accelerators"] = {"pci": None}
    assert outcome("DD604", unknown, runtime(tensorflow=pasted)).status is Status.NOT_JUDGED


# -- DD605: a GPU build that lists no GPU --------------------------------------------------------


def _silent(**fields: Any) -> dict[str, Any]:
    info = {"cuda_built": True, "cuda_version": "12.1", "cuda_available": False}
    return record(info={**info, "cuda_device_count": 0, "gpu_error": "none", "other": 1}, **fields)


def test_a_gpu_build_seeing_no_gpu_quotes_its_words_and_what_it_reported():
    torch = _silent(
        warnings=["UserWarning: found no CUDA device", "unrelated words", "No GPU/TPU found"]
    )
    env = {"env": {"variables": {"CUDA_VISIBLE_DEVICES": ""}}}
    (finding,) = findings("DD605", gpu_machine(2), TORCH_CU121, env, runtime(torch=torch))
    assert finding.title == (
        "PyTorch 2.5.1+cu121 sees no GPU although NVML lists 2: UserWarning: found no CUDA device"
    )
    assert finding.evidence == {
        "framework": "torch",
        "framework_said": ["UserWarning: found no CUDA device", "No GPU/TPU found"],
        "info": {"cuda_available": False, "cuda_device_count": 0, "gpu_error": "none"},
        "CUDA_VISIBLE_DEVICES": "",
    }
    assert not finding.fixes  # torch: the warning says why, no build to name


def test_a_gpu_build_seeing_no_gpu_without_words_has_a_plain_title():
    (finding,) = findings("DD605", gpu_machine(), TORCH_CU121, runtime(torch=_silent()))
    assert finding.title == "PyTorch 2.5.1+cu121 sees no GPU although NVML lists 1"


def test_jax_seeing_no_gpu_gets_its_cuda_plugin():
    jax = record(**JAX_RECORD, info={"cuda_built": True}, warnings=["An NVIDIA GPU may be present"])
    (finding,) = findings("DD605", gpu_machine(), JAX, runtime(jax=jax))
    (remedy,) = finding.fixes
    assert "jax[cuda13]==0.7.2" in " ".join(" ".join(c) for c in remedy.commands)


def test_keras_and_skipped_probes_are_not_judged_but_the_next_framework_is():
    keras = _silent()
    keras["import"] = {"module": "keras", "ok": True, "version": "3.6.0", "error": None}
    skipped = _silent(status="skip")
    found = findings(
        "DD605",
        gpu_machine(),
        TORCH_CU121,
        runtime(keras=keras, tensorflow=skipped, torch=_silent()),
    )
    assert [f.evidence["framework"] for f in found] == ["torch"]


def test_a_framework_whose_words_another_check_reports_leaves_the_next_one_judged():
    tf = _tf_said(CUDNN_MISSING)  # DD604 reports it
    tf["info"]["cuda_built"] = True  # a GPU build: only its words leave it to DD604
    found = findings("DD605", gpu_machine(), TORCH_CU121, runtime(tensorflow=tf, torch=_silent()))
    assert [f.evidence["framework"] for f in found] == ["torch"]


def test_a_probe_that_failed_before_listing_devices_is_unjudged_by_name():
    torch = _silent(devices=[], probe_error="the child died")
    found = outcome("DD605", gpu_machine(), TORCH_CU121, runtime(torch=torch))
    assert found.status is Status.NOT_JUDGED
    assert "PyTorch" in found.reason and "runtime.frameworks.torch.devices" in found.reason


def test_a_build_for_another_cuda_major_than_the_machines_runtime_gets_the_fitting_build():
    """onnxruntime-gpu is one build per CUDA major: its CUDA 11 libraries missing on a machine
    whose only CUDA runtime (no toolkit) is 12 is the wrong build, not a missing library."""
    ort = with_packages(
        dist("onnxruntime-gpu", "1.18.0"),
        frameworks={
            "onnxruntime": {"distributions": [{"name": "onnxruntime-gpu", "version": "1.18.0"}]}
        },
    )
    words = "libcublasLt.so.11: cannot open shared object file: No such file or directory"
    rec = record(output=[words], info={"cuda_version": "11.8"})
    rec["import"] = {"module": "onnxruntime", "ok": True, "version": "1.18.0", "error": None}
    cudart = {"path": "/env/lib/libcudart.so.12", "version": "12.4.127"}
    static = {"cuda": {"toolkits": [], "libraries": {"cudart": [cudart]}}}
    (finding,) = findings("DD604", gpu_machine(), ort, static, runtime(onnxruntime=rec))
    remedy = finding.fixes[0]
    assert "CUDA 12" in remedy.summary and remedy.commands
