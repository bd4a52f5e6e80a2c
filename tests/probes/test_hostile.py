"""Hostile frameworks (see fakes.py): the check survives each, reports it, and writes the report.

One run over all of them is shared by these tests: torch misses libcudart, jax segfaults,
tensorflow hangs (and real keras, which needs it), paddle fills memory, onnxruntime prints
garbage and fake results before working.
"""

from __future__ import annotations

import sys

import jsonschema

from dldoctor.document.schema import report_schema


def frameworks(run: dict) -> dict:
    return run["report"]["facts"]["runtime"]["frameworks"]


def findings(run: dict, code: str) -> list:
    return [f for f in run["report"]["findings"] if f["code"] == code]


def test_the_check_survives_and_writes_a_valid_report(hostile_run):
    assert hostile_run["returncode"] == 1
    assert "Traceback" not in hostile_run["stderr"]
    jsonschema.validate(hostile_run["report"], report_schema())
    assert hostile_run["report"]["summary"]["checks_crashed"] == 0


def test_an_import_that_segfaults_is_a_crash_with_its_python_stack(hostile_run):
    jax = frameworks(hostile_run)["jax"]
    assert jax["status"] == "crash" and jax["during"] == "import jax"
    assert jax["process"]["signal"] == "SIGSEGV"
    assert jax["output"][0] == "Fatal Python error: Segmentation fault"
    assert any("jax/__init__.py" in line for line in jax["output"])
    (finding,) = findings(hostile_run, "DD607")
    assert finding["title"] == "JAX 0.4.30 crashed with SIGSEGV during import jax"
    assert finding["fixes"][0]["commands"][-1][-2:] == ["--force-reinstall", "jax==0.4.30"]


def test_an_import_that_hangs_is_killed_at_the_timeout(hostile_run):
    tf = frameworks(hostile_run)["tensorflow"]
    assert tf["status"] == "timeout" and tf["during"] == "import tensorflow"
    assert tf["process"]["timed_out"] and tf["process"]["signal"] == "SIGKILL"
    (finding,) = findings(hostile_run, "DD608")
    assert finding["title"] == (
        "TensorFlow 2.16.1 did not finish import tensorflow within 5.0 s and was killed"
    )


def test_keras_waiting_on_a_hung_tensorflow_is_reported_not_run(hostile_run):
    keras = frameworks(hostile_run)["keras"]
    assert keras["status"] == "skip"
    assert keras["reason"] == "not run: the child it shared with tensorflow died first"


def test_a_missing_cuda_library_is_named_with_the_wheel_the_framework_pins(hostile_run):
    torch = frameworks(hostile_run)["torch"]
    assert torch["status"] == "fail"
    error = torch["import"]["error"]
    assert error["type"] == "ImportError"
    assert error["message"].startswith("libcudart.so.12: cannot open shared object file")
    (finding,) = findings(hostile_run, "DD604")
    assert finding["evidence"]["libraries"] == ["libcudart.so.12"]
    assert finding["title"] == (
        "PyTorch 2.6.0+cu124 could not load libcudart.so.12 so it cannot be imported"
    )
    assert finding["fixes"][0]["commands"] == [
        [sys.executable, "-m", "pip", "install", "nvidia-cuda-runtime-cu12==12.4.127"]
    ]
    assert not [f for f in findings(hostile_run, "DD601") if f["evidence"]["framework"] == "torch"]


def test_a_framework_filling_memory_hits_the_cap_and_is_reported(hostile_run):
    paddle = frameworks(hostile_run)["paddle"]
    assert paddle["status"] == "fail"
    assert paddle["import"]["error"]["type"] == "MemoryError"
    assert paddle["process"]["memory_limit_bytes"] == 512 << 20
    (finding,) = findings(hostile_run, "DD618")  # the cause, not "import fails"
    assert finding["title"] == "PaddlePaddle 2.6.1 ran out of memory"
    assert "capped at 0.5 GiB" in finding["fixes"][0]["summary"]
    assert [e["title"] for e in finding["explains"]] == [
        "`import paddle` fails although it is installed: MemoryError"
    ]


def test_garbage_and_fake_results_printed_by_a_framework_change_nothing(hostile_run):
    ort = frameworks(hostile_run)["onnxruntime"]
    assert ort["status"] == "pass"
    assert [(s["test"], s["status"]) for s in ort["smoke"]] == [("graph", "pass"), ("conv", "pass")]
    assert ort["process"]["protocol_errors"] == 0
    printed = ort["import"]["output"]
    assert '{"type": "done"}' in printed and "not json at all" in printed
    assert any("\ufffd" in line for line in printed)  # NUL and friends made harmless
