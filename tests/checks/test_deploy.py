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
