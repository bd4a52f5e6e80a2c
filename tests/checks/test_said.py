"""Every failure signature, recorded as a probe would record it, becomes the finding its row
names: the root cause first, its consequences folded under it."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks.registry import all_checks, run_checks
from dldoctor.diagnosis import diagnose
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.checks.test_runtime import TORCH_CU121, error, record, runtime

ROWS = load().signatures.rows


def judged(*overrides: dict[str, Any]):
    facts = make_facts(*overrides)
    outcomes = run_checks(facts, load())
    return {o.code: o for o in outcomes}, diagnose([f for o in outcomes for f in o.findings])


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_each_signature_is_reported_by_the_check_it_names(row):
    torch = record(output=[row.examples[0]])
    if row.code == "DD601":  # import failures: a companion's, as torchvision's operators fail
        companion = {"module": "torchvision", "ok": False, "error": error("E", row.examples[0])}
        torch = record(companions={"torchvision": companion})
    others = {}
    if row.code == "DD620":  # a deployment chain's words: its failed smoke test, both ends working
        chain = {"test": "onnx-export", "device": "cpu", "status": "fail", "stage": "load"}
        chain.update(
            chain="torch → torch.onnx.export → ONNX Runtime", error=error("E", row.examples[0])
        )
        torch = record(smoke=[chain])
        others["onnxruntime"] = record()  # its own probe passed: the chain is judged
    outcomes, _ = judged(gpu_machine(), TORCH_CU121, runtime(torch=torch, **others))
    codes = {c.code for c in all_checks()}
    assert row.code in codes
    findings = outcomes[row.code].findings
    assert findings, f"{row.code} reported nothing for {row.id}"
    # A chain's words past the export are ONNX Runtime's: the finding is about it.
    assert findings[0].evidence["framework"] == ("onnxruntime" if row.code == "DD620" else "torch")


def test_every_check_that_reads_signatures_has_one():
    named = {r.code for r in ROWS}
    assert {"DD602", "DD603", "DD604", "DD611", "DD612", "DD613", "DD614"} <= named
    assert {"DD615", "DD616", "DD617", "DD618", "DD609", "DD601"} <= named


def _smoke(test: str, device: str, message: str) -> dict[str, Any]:
    return {
        "test": test,
        "device": device,
        "status": "fail",
        "error": error("RuntimeError", message),
    }


def test_a_cudnn_mismatch_and_six_failing_gpu_tests_are_one_finding():
    said = (
        "Loaded runtime CuDNN library: 8.5.0 but source was compiled with: 8.6.0.  CuDNN library "
        "needs to have matching major version and equal or higher minor version."
    )
    failed = "FAILED_PRECONDITION: DNN library initialization failed. Look at the errors above."
    tests = ["autograd", "graph", "train", "matmul", "mixed-precision", "memory"]
    tf = record(
        **{"import": {"module": "tensorflow", "ok": True, "version": "2.12.0", "error": None}},
        info={"build_info": {"is_cuda_build": True}},
        devices=[{"id": "cpu", "kind": "cpu"}, {"id": "gpu:0", "kind": "gpu"}],
        output=[said],
        smoke=[_smoke(t, "gpu:0", failed) for t in tests],
    )
    outcomes, diagnosis = judged(gpu_machine(), runtime(tensorflow=tf))
    assert len(outcomes["DD606"].findings) == 6  # each check still sees its side
    errors = [f for f in diagnosis.findings if f.severity is Severity.ERROR]
    (finding,) = errors
    assert finding.code == "DD611"
    assert finding.title == "TensorFlow 2.12.0 was built against cuDNN 8.6.0 but loaded cuDNN 8.5.0"
    assert [e["code"] for e in finding.explains].count("DD606") == 6
    assert diagnosis.primary is finding


def test_six_tests_failing_with_the_same_unknown_words_are_one_finding():
    tests = ["autograd", "graph", "train", "matmul", "mixed-precision", "memory"]
    torch = record(
        devices=[{"id": "cpu", "kind": "cpu"}, {"id": "cuda:0", "kind": "cuda"}],
        smoke=[_smoke(t, "cuda:0", "CUDA error: an illegal memory access") for t in tests],
    )
    _, diagnosis = judged(gpu_machine(), TORCH_CU121, runtime(torch=torch))
    (finding,) = [f for f in diagnosis.findings if f.severity is Severity.ERROR]
    assert finding.code == "DD606"
    assert len(finding.explains) == 5


def test_tests_failing_with_different_words_stay_apart():
    torch = record(
        devices=[{"id": "cpu", "kind": "cpu"}, {"id": "cuda:0", "kind": "cuda"}],
        smoke=[
            _smoke("autograd", "cuda:0", "CUDA error: an illegal memory access"),
            _smoke("train", "cuda:0", "CUDA error: misaligned address"),
        ],
    )
    _, diagnosis = judged(gpu_machine(), TORCH_CU121, runtime(torch=torch))
    assert [f.code for f in diagnosis.findings if f.severity is Severity.ERROR] == ["DD606"] * 2


def test_an_import_error_from_a_shadowing_library_is_the_library_finding():
    message = (
        "/env/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12:"
        " undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12"
    )
    torch = record(status="fail")
    torch["import"] = {"module": "torch", "ok": False, "error": error("ImportError", message)}
    environment = {"env": {"variables": {"LD_LIBRARY_PATH": "/usr/local/cuda-12.1/lib64"}}}
    static = {
        "cuda": {
            "libraries": {
                "nvjitlink": [
                    {
                        "path": "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12",
                        "version": "12.1.105",
                        "source": "LD_LIBRARY_PATH",
                    }
                ]
            }
        }
    }
    outcomes, diagnosis = judged(
        gpu_machine(), TORCH_CU121, environment, static, runtime(torch=torch)
    )
    assert outcomes["DD601"].findings  # the import failure is seen…
    (finding,) = [f for f in diagnosis.findings if f.severity is Severity.ERROR]
    assert finding.code == "DD612"  # …and reported as its cause
    assert finding.evidence["shadowing_copy"] == "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12"
    assert finding.title.endswith("(/usr/local/cuda-12.1/lib64/libnvJitLink.so.12)")
    assert "Remove /usr/local/cuda-12.1/lib64 from LD_LIBRARY_PATH" in finding.fixes[0].summary
    assert "Reinstall" not in " ".join(f.summary for f in finding.fixes)
    assert [e["code"] for e in finding.explains] == ["DD601"]


def test_the_driver_too_old_predicted_and_observed_is_one_finding():
    torch = record(info={"cuda_built": True, "cuda_version": "12.1", "cuda_available": False})
    torch["info"]["cuda_init_error"] = (
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11040)."
    )
    torch["warnings"] = ["UserWarning: CUDA initialization: The NVIDIA driver on your system"]
    outcomes, diagnosis = judged(
        gpu_machine(driver="470.82.01", cuda="11.4"), TORCH_CU121, runtime(torch=torch)
    )
    assert outcomes["DD501"].findings and outcomes["DD602"].findings
    (finding,) = [f for f in diagnosis.findings if f.severity is Severity.ERROR]
    assert finding.code == "DD501"
    assert "DD602" in [e["code"] for e in finding.explains]


def test_protobuf_breaking_an_import_gets_protobuf_not_a_reinstall():
    message = (
        "Descriptors cannot be created directly.\nIf this call came from a _pb2.py file, your "
        "generated code is out of date and must be regenerated with protoc >= 3.19.0."
    )
    tf = record(status="fail")
    tf["import"] = {"module": "tensorflow", "ok": False, "error": error("TypeError", message)}
    _, diagnosis = judged(with_packages(dist("tensorflow", "2.8.0")), runtime(tensorflow=tf))
    primary = diagnosis.primary
    assert primary is not None and primary.code == "DD614"
    assert "protobuf>=3.20,<3.21" in primary.fixes[0].commands[0]


def test_a_healthy_record_has_no_primary_diagnosis():
    torch = record(smoke=[{"test": "autograd", "device": "cpu", "status": "pass"}])
    _, diagnosis = judged(TORCH_CU121, runtime(torch=torch))
    assert diagnosis.primary is None
    assert diagnosis.to_dict() == {"primary": None, "root_causes": 0, "folded": 0}


def test_a_cause_does_not_swallow_what_it_does_not_explain():
    jax = record(
        status="crash",
        reason="crashed with SIGSEGV during import jax",
        during="import jax",
        process={"exit_code": -11, "signal": "SIGSEGV", "timed_out": False, "output_tail": []},
    )
    jax["import"] = None
    stack = with_packages(
        dist("jax", "0.4.30"),
        dist("jaxlib", "0.10.2"),
        frameworks={"jax": {"distributions": [{"name": "jax", "version": "0.4.30"}]}},
    )
    _, diagnosis = judged(stack, runtime(jax=jax))
    codes = [f.code for f in diagnosis.findings if f.severity is Severity.ERROR]
    assert sorted(codes) == ["DD506", "DD607"]  # a version mismatch is not a segfault's cause
