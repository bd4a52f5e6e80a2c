"""DD620 on recorded chains: judged only where both ends work, unknown ends judge nothing."""

from __future__ import annotations

from typing import Any

from dldoctor.checks.deploy import deployment_path_fails
from dldoctor.checks.registry import Unjudged
from dldoctor.model import Severity
from tests.checks.scenarios import gpu_machine, make_facts
from tests.checks.test_runtime import error, record, runtime

CHAIN = "torch → torch.onnx.export → ONNX Runtime"


def _chain(stage: str, message: str = "", device: str = "cpu", **extra: Any) -> dict[str, Any]:
    smoke = {"test": "onnx-export", "device": device, "status": "fail", "stage": stage}
    smoke.update(chain=CHAIN, **extra)
    if message:
        smoke["error"] = error("RuntimeError", message)
    return smoke


def _judge(matrix: Any, torch_smoke: list[dict[str, Any]], **others: Any) -> list[Any]:
    own = {"test": "autograd", "device": "cpu", "status": "pass"}
    facts = make_facts(gpu_machine(), runtime(torch=record(smoke=[own, *torch_smoke]), **others))
    return list(deployment_path_fails(facts, matrix))


def test_a_framework_failing_its_own_tests_is_judged_by_those_tests_not_its_chain(matrix):
    broken = {"test": "autograd", "device": "cpu", "status": "fail"}
    chain = _chain("export", "ModuleNotFoundError: No module named 'onnxscript'")
    facts = make_facts(runtime(torch=record(smoke=[broken, chain])))
    assert deployment_path_fails(facts, matrix) == []


def test_a_chain_skipped_or_passing_judges_nothing(matrix):
    skipped = {
        "test": "onnx-export",
        "device": "cpu",
        "status": "skip",
        "detail": "not run: no GPU",
    }
    passed = {**_chain("compare"), "status": "pass"}
    assert _judge(matrix, [skipped, passed], onnxruntime=record()) == []


def test_past_the_export_an_unprobed_runtime_is_unknown_but_the_export_is_judged(matrix):
    (unjudged,) = _judge(
        matrix, [_chain("load", "Unsupported model IR version: 11, max supported IR version: 10")]
    )
    assert isinstance(unjudged, Unjudged) and unjudged.path == "runtime.frameworks.onnxruntime"
    (verdict,) = _judge(matrix, [_chain("export", "No module named 'onnxscript'")])
    assert verdict.severity is Severity.WARNING
    assert verdict.evidence["framework"] == "torch"


def test_numbers_that_disagree_are_an_error_and_an_unknown_error_is_quoted(matrix):
    got = {"linear-relu": 0.5, "conv": 0.0}
    (verdict,) = _judge(matrix, [_chain("compare", got=got)], onnxruntime=record())
    assert verdict.severity is Severity.ERROR and verdict.evidence["cause"] == "deploy-numerics"
    assert "'linear-relu': 0.5" in verdict.title
    (verdict,) = _judge(matrix, [_chain("run", "Segfault-free but odd")], onnxruntime=record())
    assert verdict.title.endswith("fails at run: RuntimeError: Segfault-free but odd")
    assert verdict.evidence["cause"] is None and verdict.fixes == ()


IR = "Unsupported model IR version: 11, max supported IR version: 10"
ORT_CUDA = {"CUDAExecutionProvider": {"loaded": True, "log": []}}


def test_past_the_export_the_words_are_the_runtimes_and_the_evidence_is_the_chain(matrix):
    smoke = _chain("load", IR, output=["printed 1", "printed 2"], expected=None)
    (verdict,) = _judge(matrix, [smoke], onnxruntime=record())
    assert verdict.title == (
        f"PyTorch 2.5.1+cu121: {CHAIN} on cpu fails at load: the exported model has ONNX IR "
        "version 11, newer than this onnxruntime reads (up to 10)"
    )
    assert (
        verdict.evidence["framework"] == "onnxruntime"
        and verdict.evidence["exported_by"] == "torch"
    )
    assert verdict.evidence["stage"] == "load" and "output" not in verdict.evidence
    assert verdict.detail == "printed 1\nprinted 2"
    row = matrix.signatures.by_id("ort-model-ir-too-new")
    (remedy,) = verdict.fixes
    assert remedy.summary == row.advice and remedy.notes == f"Source: {row.source}"


def test_the_exporters_missing_packages_are_installed_with_the_rows_source(matrix):
    smoke = _chain("export", output=["ModuleNotFoundError: No module named 'onnxscript'"])
    (verdict,) = _judge(matrix, [smoke])  # the words only in what it printed
    row = matrix.signatures.by_id("torch-onnx-exporter-packages")
    (remedy,) = verdict.fixes
    assert remedy.summary == row.advice
    assert f"Source: {row.source}" in remedy.notes
    assert "onnxscript" in " ".join(remedy.commands[0])


def test_a_provider_dropped_for_the_cpu_names_the_device_and_the_requirements(matrix):
    smoke = _chain("provider", "", device="CUDAExecutionProvider")
    (verdict,) = _judge(matrix, [smoke], onnxruntime=record(info={"providers_loaded": ORT_CUDA}))
    (remedy,) = verdict.fixes
    assert remedy.summary.startswith("ONNX Runtime dropped CUDAExecutionProvider for the CPU: ")
    assert remedy.notes == (
        "Source: https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html"
        "#requirements"
    )
    assert f"{CHAIN} on CUDAExecutionProvider fails at provider" in verdict.title


def test_a_provider_the_runtime_itself_cannot_load_is_its_own_finding(matrix):
    smoke = _chain("provider", "", device="CUDAExecutionProvider")
    dropped = {"CUDAExecutionProvider": {"loaded": False, "log": ["libcublas.so.12 missing"]}}
    assert _judge(matrix, [smoke], onnxruntime=record(info={"providers_loaded": dropped})) == []


def test_numbers_that_disagree_get_the_other_exporter(matrix):
    (verdict,) = _judge(matrix, [_chain("compare", got=0.5, expected=0.001)], onnxruntime=record())
    (remedy,) = verdict.fixes
    assert remedy.summary == (
        "The exported model computes other numbers than the framework: try the other exporter "
        "(torch.onnx.export's dynamo=True/False) and the newest runtime, and report the model to "
        "the exporter's issue tracker with both outputs."
    )


def test_a_chain_without_its_name_is_titled_by_its_test(matrix):
    smoke = {"test": "onnx-export", "device": "cpu", "status": "fail", "stage": "export"}
    smoke["error"] = error("RuntimeError", "odd")
    (verdict,) = _judge(matrix, [smoke])
    assert (
        verdict.title
        == "PyTorch 2.5.1+cu121: onnx-export on cpu fails at export: RuntimeError: odd"
    )


def test_a_framework_whose_own_test_timed_out_is_not_judged_by_its_chain(matrix):
    hung = {"test": "autograd", "device": "cpu", "status": "timeout"}
    facts = make_facts(runtime(torch=record(smoke=[hung, _chain("export", "odd")])))
    assert deployment_path_fails(facts, matrix) == []
