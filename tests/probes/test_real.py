"""`dldoctor check` with the real CPU builds of torch, tensorflow-cpu, jax, paddle, keras, onnxruntime.

One real run is shared by every test here (see conftest.once).
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from dldoctor.checks.registry import all_checks, run_checks
from dldoctor.document.schema import report_schema
from dldoctor.facts.model import Facts
from dldoctor.model import Status
from tests.machine import NO_DRIVER_REASON, expected_static_codes, nvidia_driver_loaded
from tests.probes.conftest import dldoctor

ALL = ["torch", "tensorflow", "jax", "paddle", "keras", "onnxruntime"]


def runtime(run: dict) -> dict:
    return run["report"]["facts"]["runtime"]


def test_every_framework_imports_and_computes_right_on_the_cpu(real_run):
    assert real_run["returncode"] == 0, real_run["stderr"]
    frameworks = runtime(real_run)["frameworks"]
    assert list(frameworks) == ALL
    for key, record in frameworks.items():
        assert record["status"] == "pass", (key, record["reason"])
        assert record["import"]["ok"] and record["smoke"]
        assert all(s["status"] == "pass" for s in record["smoke"]), (key, record["smoke"])


def test_each_framework_ran_the_same_tasks(real_run):
    frameworks = runtime(real_run)["frameworks"]
    tests = {key: [(s["test"], s["device"]) for s in r["smoke"]] for key, r in frameworks.items()}
    quick = [("autograd", "cpu"), ("graph", "cpu"), ("train", "cpu")]
    new = [("conv", "cpu"), ("matmul-bias", "cpu")]  # cuDNN's and cuBLASLt's paths on a GPU
    for key in ("torch", "tensorflow", "paddle"):
        assert tests[key] == quick + new
    assert tests["jax"] == quick  # XLA compiles a convolution's gradient slowly: --full
    assert tests["keras"] == [("layer", "cpu"), ("train", "cpu")]  # where its tensors lived
    assert tests["onnxruntime"] == [("graph", "cpu"), ("conv", "cpu")]
    for key in ("torch", "tensorflow", "paddle", "onnxruntime"):
        conv = next(s for s in frameworks[key]["smoke"] if s["test"] == "conv")
        assert conv["status"] == "pass" and conv["got"]["output"] <= 1e-3, (key, conv)
        if key != "onnxruntime":  # an inference runtime has no backward
            assert set(conv["got"]) == {"output", "grad_input", "grad_weight"}
    for key in ("torch", "tensorflow", "jax", "paddle", "keras"):
        train = next(s for s in frameworks[key]["smoke"] if s["test"] == "train")
        assert train["expected"] == [3.0, 1.0]
        w, b = train["got"]
        assert abs(w - 3) <= 1e-2 and abs(b - 1) <= 1e-2


def test_cpu_only_builds_say_so_at_run_time(real_run):
    frameworks = runtime(real_run)["frameworks"]
    torch = frameworks["torch"]["info"]
    assert torch["cuda_built"] is False and torch["cuda_available"] is False
    assert torch["arch_list"] == [] and torch["cuda_version"] is None
    tf = frameworks["tensorflow"]["info"]
    assert tf["build_info"]["is_cuda_build"] is False
    assert [d["type"] for d in tf["physical_devices"]] == ["CPU"]
    assert frameworks["jax"]["info"]["default_backend"] == "cpu"
    assert "Unknown backend: 'gpu'" in frameworks["jax"]["info"]["gpu_error"]
    assert frameworks["paddle"]["info"]["compiled_with_cuda"] is False
    providers = frameworks["onnxruntime"]["info"]["available_providers"]
    assert "CPUExecutionProvider" in providers and "CUDAExecutionProvider" not in providers
    for record in frameworks.values():
        assert [d["id"] for d in record["devices"]] == ["cpu"]
        assert record["libraries"] == []  # no CUDA library is mapped by a CPU build


def test_keras_shares_tensorflows_child_and_names_its_backend(real_run):
    section = runtime(real_run)
    assert ["tensorflow", "keras"] in section["groups"]
    keras = section["frameworks"]["keras"]
    assert keras["info"]["backend"] == "tensorflow"
    assert keras["process"]["shared_with"] == ["tensorflow", "keras"]


@pytest.mark.skipif(nvidia_driver_loaded(), reason=NO_DRIVER_REASON)
def test_the_report_is_valid_and_rejudged_from_its_facts_alone(real_run, matrix):
    report = real_run["report"]
    jsonschema.validate(report, report_schema())
    assert report["command"] == "dldoctor check"
    assert [f["code"] for f in report["findings"]] == expected_static_codes()
    outcomes = {o.code: o for o in run_checks(Facts.from_dict(report["facts"]), matrix)}
    runtime_checks = [o for code, o in outcomes.items() if code.startswith("DD6")]
    assert len(runtime_checks) == sum(c.code.startswith("DD6") for c in all_checks())
    for outcome in runtime_checks:  # the runtime facts were there: judged, not skipped
        assert outcome.status in (Status.PASSED, Status.SKIPPED), outcome
        if outcome.status is Status.SKIPPED:
            assert "GPU" in outcome.reason
    assert sum(o.status is Status.PASSED for o in runtime_checks) >= 6


def test_nothing_reaches_stderr_when_it_is_not_a_terminal(real_run):
    assert real_run["stdout"].startswith("{")
    assert real_run["stderr"] == ""  # no progress, and nothing a framework printed leaked


def test_check_from_the_report_shows_the_runtime_results_without_probing(real_run, tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(real_run["report"]))
    result = dldoctor("check", "--from", str(path))
    assert result.returncode == 0, result.stderr
    assert "torch 2.13.0+cpu — CPU-only build · imports · smoke 5/5 on cpu" in result.stdout
    assert "(6 frameworks probed in child processes, " in result.stdout.splitlines()[0]
