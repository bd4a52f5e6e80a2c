"""The child harness: its pure helpers in-process, and the real harness in child interpreters."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.probes import plan
from dldoctor.probes.child import harness
from dldoctor.probes.runner import run_child
from tests.pythons import params

CHILD_SOURCES = sorted(plan.CHILD.glob("*.py"))

MAPS = """\
7f1c2a000000-7f1c2a200000 r-xp 00000000 08:01 1234  /venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12
7f1c2a200000-7f1c2a400000 r--p 00200000 08:01 1234  /venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12
7f1c2b000000-7f1c2b100000 r-xp 00000000 08:01 99    /usr/lib/x86_64-linux-gnu/libcudnn_ops.so.9.1.0
7f1c2c000000-7f1c2c100000 r-xp 00000000 08:01 77    /venv/lib/python3.11/site-packages/torch/lib/libtorch_cuda.so
7f1c2d000000-7f1c2d100000 r-xp 00000000 08:01 55    /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15
7f1c2e000000-7f1c2e100000 r-xp 00000000 08:01 56    /usr/local/cuda-12.4/lib64/libcublasLt.so.12.4.5.8
7f1c2f000000-7f1c2f100000 rw-p 00000000 00:00 0     [heap]
"""


def test_loaded_cuda_libraries_and_where_they_come_from_are_read_from_proc_maps():
    libraries = harness.loaded_libraries(MAPS, "/venv")
    assert [(lib["name"], lib["version"], lib["source"]) for lib in libraries] == [
        ("libcudart.so.12", "12", "pip wheel nvidia"),
        ("libcudnn_ops.so.9.1.0", "9.1.0", "system"),
        ("libcuda.so.550.54.15", "550.54.15", "system"),
        ("libcublasLt.so.12.4.5.8", "12.4.5.8", "CUDA toolkit /usr/local/cuda-12.4"),
    ]


def test_every_library_of_the_library_map_is_recognised_when_mapped(matrix):
    rows = matrix.tables["libraries"]["library"]
    maps = "".join(
        f"7f00{i:08x}-7f01{i:08x} r-xp 00000000 08:01 1 /opt/x/lib/{row['file']}.so.12\n"
        for i, row in enumerate(rows)
    )
    maps += (
        "7f1c00000000-7f1c00100000 r-xp 00000000 08:01 2 /w/torch/lib/libcudart-e409450e.so.11.0\n"
    )
    maps += "7f1d00000000-7f1d00100000 r-xp 00000000 08:01 3 /usr/lib/libcudartfake.so.1\n"
    names = [lib["name"] for lib in harness.loaded_libraries(maps)]
    assert names == [f"{row['file']}.so.12" for row in rows] + ["libcudart-e409450e.so.11.0"]


def test_the_library_list_is_bounded():
    maps = "".join(
        f"7f{i:010x}-7f{i + 1:010x} r-xp 0 0:0 0 /x/{i}/libcudart.so.12\n" for i in range(500)
    )
    assert len(harness.loaded_libraries(maps)) == harness.MAX_LIBRARIES


def test_the_convolution_reference_matches_its_numerical_gradient():
    x, w = harness.CONV_X, harness.CONV_W
    out, gx, gw = harness.conv_reference(x, w)

    def loss(x: list, w: list) -> float:
        return sum(v * v for v in harness.conv_reference(x, w)[0]) / 2

    step = 1e-3
    for n, c, i, j in [(0, 0, 0, 0), (0, 1, 2, 3), (0, 1, 3, 1)]:
        bumped = json.loads(json.dumps(x))
        bumped[n][c][i][j] += step
        numeric = (loss(bumped, w) - loss(x, w)) / step
        assert abs(numeric - gx[(c * 4 + i) * 4 + j]) < 0.05
    for o, c, i, j in [(0, 0, 0, 0), (2, 1, 2, 1)]:
        bumped = json.loads(json.dumps(w))
        bumped[o][c][i][j] += step
        numeric = (loss(x, bumped) - loss(x, w)) / step
        assert abs(numeric - gw[((o * 2 + c) * 3 + i) * 3 + j]) < 0.05
    assert len(out) == 3 * 2 * 2 and any(v != 0 for v in out)


def test_a_convolution_result_is_judged_at_its_tolerance():
    ctx = harness.Context(harness.Channel(-1), "t", {}, ".")
    out, gx, gw = harness.conv_reference(harness.CONV_X, harness.CONV_W)
    assert ctx.conv_result(out, gx, gw, "exact")["ok"]
    just = [v + 0.9 * harness.CONV_TOLERANCE for v in gx]
    assert ctx.conv_result(out, just, gw, "within")["ok"]
    over = [v + 1.1 * harness.CONV_TOLERANCE for v in gw]
    result = ctx.conv_result(out, gx, over, "above")
    assert not result["ok"] and result["got"]["grad_weight"] > harness.CONV_TOLERANCE
    assert not ctx.conv_result(out[:-1], gx, gw, "short")["ok"]
    assert not ctx.conv_result([math.nan] * len(out), gx, gw, "nan")["ok"]
    forward = ctx.conv_result(out, None, None, "forward only")
    assert forward["ok"] and list(forward["got"]) == ["output"]


def test_a_library_inside_a_framework_wheel_is_bundled_with_it():
    path = "/venv/lib/python3.11/site-packages/torch/lib/libcudnn.so.9"
    assert harness.library_source(path) == "bundled with torch"
    assert harness.library_source("/usr/lib/wsl/lib/libcuda.so.1") == "WSL host driver"
    assert harness.library_source("/opt/conda/envs/x/lib/libnccl.so.2", "/opt/conda/envs/x") == (
        "environment (/opt/conda/envs/x)"
    )


def test_results_are_plain_json_even_with_nan_and_odd_objects():
    value = harness.jsonable({"nan": math.nan, "inf": -math.inf, "t": (1, 2), "o": object()})
    text = json.dumps(value, allow_nan=False)
    assert value["nan"] == "nan" and value["inf"] == "-inf" and value["t"] == [1, 2]
    assert "object object" in text


def test_close_rejects_nan_and_wrong_lengths():
    close = harness.Context.close
    assert close([5.0, 7.0], [5.0, 7.0], 1e-4)["ok"]
    assert not close([5.0, math.nan], [5.0, 7.0], 1e-4)["ok"]
    assert not close([5.0], [5.0, 7.0], 1e-4)["ok"]
    assert not close([5.0, 7.01], [5.0, 7.0], 1e-4)["ok"]


def test_matmul_errors_are_judged_against_the_bound_of_their_dtype():
    result = harness.Context.matmul_result({"float32": 1e-6, "bfloat16": 0.03})
    assert result["ok"]
    assert result["expected"] == {"float32": "<= 0.005", "bfloat16": "<= 0.05"}
    assert not harness.Context.matmul_result({"float32": 0.02})["ok"]
    assert not harness.Context.matmul_result({"float16": math.nan})["ok"]


def test_the_train_task_is_the_same_line_for_every_framework():
    xs, ys = harness.Context.train_data()
    assert len(xs) == harness.TRAIN_POINTS and xs[0] == -1.0 and xs[-1] == 1.0
    assert all(y == 3 * x + 1 for x, y in zip(xs, ys))


@pytest.mark.parametrize("python", params("3.6", "3.7"))
def test_every_child_source_loads_under_the_oldest_pythons(python):
    # Executed, not only compiled: without `from __future__ import annotations` (3.7+) every
    # annotation is evaluated when its function is defined.
    code = (
        "import sys\nfor f in sys.argv[1:]:\n"
        "    exec(compile(open(f).read(), f, 'exec'), {'__name__': 'dldoctor_child'})\n"
    )
    result = subprocess.run(
        [python, "-c", code, *map(str, CHILD_SOURCES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    # harness, __init__, extensions, deploy, defer, and each framework's
    assert len(CHILD_SOURCES) == 5 + len(plan.PROBED)


def _job(source: str, framework: str = "fake") -> dict:
    return {"framework": framework, "source": source, "filename": f"/nowhere/{framework}.py"}


def _run(python: str, jobs: list, tmp_path: Path):
    args = {"workdir": str(tmp_path), "jobs": jobs, "options": {}}
    return run_child([python, "-c", plan.harness_source()], args, 30, cwd=str(tmp_path))


FAKE_PROBE = """
def no_accelerator(ctx):
    raise ctx.Skip("no accelerator")

def probe(ctx):
    json = ctx.import_module("json")  # the stand-in framework
    ctx.facts_phase(lambda: ctx.fact("dumps", lambda: json.dumps([1])))
    ctx.device(id="cpu", kind="cpu")
    ctx.smoke("autograd", "cpu", lambda: ctx.autograd_result([5.0, 7.0]))
    ctx.smoke("train", "cpu", lambda: ctx.train_result(3.5, 1.0, "wrong on purpose"))
    ctx.smoke("memory", "cpu", lambda: no_accelerator(ctx))
"""


@pytest.mark.parametrize(
    "python", [pytest.param(sys.executable, id="this"), *params("3.6", "3.7", "3.8")]
)
def test_the_harness_runs_a_probe_module_in_the_target_interpreter(python, tmp_path):
    outcome = _run(python, [_job(FAKE_PROBE)], tmp_path)
    assert outcome.done and outcome.returncode == 0, outcome.output_tail
    kinds = [m["type"] for m in outcome.messages]
    assert kinds[:2] == ["hello", "begin"] and kinds[-3:] == ["libraries", "end", "done"]
    smoke = {m["test"]: m for m in outcome.messages if m["type"] == "smoke"}
    assert smoke["autograd"]["status"] == "pass"
    assert smoke["train"]["status"] == "fail" and smoke["train"]["got"] == [3.5, 1.0]
    assert smoke["memory"]["status"] == "skip" and smoke["memory"]["detail"] == "no accelerator"
    info = [m for m in outcome.messages if m["type"] == "info"]
    assert info == [{"type": "info", "framework": "fake", "key": "dumps", "value": "[1]"}]
    assert list(tmp_path.iterdir()) == []  # each phase's output file is removed after it


def test_a_bug_in_one_probe_module_costs_only_that_framework(tmp_path):
    broken = "def probe(ctx):\n    raise KeyError('probe bug')\n"
    outcome = _run(sys.executable, [_job(broken, "a"), _job(FAKE_PROBE, "b")], tmp_path)
    errors = [m for m in outcome.messages if m["type"] == "probe_error"]
    assert errors[0]["framework"] == "a" and errors[0]["error"]["type"] == "KeyError"
    assert [m["framework"] for m in outcome.messages if m["type"] == "end"] == ["a", "b"]
    assert outcome.done


def test_what_a_framework_prints_is_captured_per_phase(tmp_path):
    noisy = """
import os, sys
def probe(ctx):
    def loud():
        print("to stdout")
        os.write(2, b"native stderr\\n")
        import warnings
        warnings.warn("a python warning")
        return 1
    ctx.facts_phase(lambda: ctx.fact("x", loud))
"""
    outcome = _run(sys.executable, [_job(noisy)], tmp_path)
    (said,) = [m for m in outcome.messages if m["type"] == "facts_output"]
    assert said["output"] == ["to stdout", "native stderr"]
    assert said["warnings"] == ["UserWarning: a python warning"]
    assert outcome.output_tail == []  # nothing leaked past the phase


def test_bad_arguments_are_one_line_and_exit_3(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", plan.harness_source(), "not json"], capture_output=True, text=True
    )
    assert result.returncode == 3
    assert result.stderr.startswith("dldoctor probe: bad arguments: ")


def _sgd(scale: float) -> list[float]:
    """The train task as every probe runs it, by hand, with the gradient scaled by ``scale``."""
    xs, ys = harness.Context.train_data()
    w = b = 0.0
    for _ in range(harness.TRAIN_STEPS):
        errors = [w * x + b - y for x, y in zip(xs, ys)]
        gw = 2 * sum(e * x for e, x in zip(errors, xs)) / len(xs)
        gb = 2 * sum(errors) / len(xs)
        w, b = w - harness.TRAIN_LR * scale * gw, b - harness.TRAIN_LR * scale * gb
    return [w, b]


def test_the_train_task_converges_with_the_right_gradient_only():
    # The steps are few enough to be cheap and to catch a gradient off by a factor of two.
    close = harness.Context.close
    assert close(_sgd(1.0), harness.TRAIN_EXPECTED, harness.TRAIN_TOLERANCE)["ok"]
    assert not close(_sgd(0.5), harness.TRAIN_EXPECTED, harness.TRAIN_TOLERANCE)["ok"]
    assert not close(_sgd(2.0), harness.TRAIN_EXPECTED, harness.TRAIN_TOLERANCE)["ok"]


GC_PROBE = """
import gc

def probe(ctx):
    fine = ctx.import_module("standin_fine")
    ctx.import_module("standin_broken")
    ctx.facts_phase(lambda: (
        ctx.fact("during_import", lambda: fine.COLLECTING),
        ctx.fact("after_imports", gc.isenabled),
    ))
"""


@pytest.mark.parametrize("python", [pytest.param(sys.executable, id="this"), *params("3.6", "3.8")])
def test_a_frameworks_import_runs_with_the_collector_paused_and_it_is_on_again_after(
    python, tmp_path
):
    """Full collections walk every object an import built (a quarter of TensorFlow's import):
    paused for the import, whether it succeeds or raises, and on again for the smoke tests.
    Python 3.6 has no gc.freeze: the collector is still paused and restored."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "standin_fine.py").write_text("import gc\nCOLLECTING = gc.isenabled()\n")
    (site / "standin_broken.py").write_text("raise ImportError('broken on purpose')\n")
    args = {"workdir": str(tmp_path), "jobs": [_job(GC_PROBE)], "options": {}}
    env = {**os.environ, "PYTHONPATH": str(site)}
    outcome = run_child([python, "-c", plan.harness_source()], args, 30, env=env, cwd=str(tmp_path))
    assert outcome.done, outcome.output_tail
    info = {m["key"]: m["value"] for m in outcome.messages if m["type"] == "info"}
    assert info == {"during_import": False, "after_imports": True}
    (broken,) = [m for m in outcome.messages if m["type"] == "import" and not m["ok"]]
    assert broken["module"] == "standin_broken"
