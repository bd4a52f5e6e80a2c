"""The probe options of `dldoctor check`: --quick, --framework, --full, live progress."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import signal
import subprocess
import sys
import time

import psutil

from dldoctor.report.progress import Progress
from tests.probes.conftest import dldoctor


def test_framework_option_probes_only_those():
    result = dldoctor("check", "--framework", "ort,paddlepaddle", "--format", "json")
    document = json.loads(result.stdout)
    runtime = document["facts"]["runtime"]
    assert list(runtime["frameworks"]) == ["paddle", "onnxruntime"]
    assert document["command"] == "dldoctor check --framework onnxruntime,paddle"


def test_an_unknown_framework_is_a_usage_error():
    result = dldoctor("check", "--framework", "torch,caffe")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("dldoctor: error: --framework: no runtime probe for 'caffe'")


def test_quick_cannot_be_combined_with_full_or_framework():
    for extra in (["--full"], ["--framework", "jax"]):
        result = dldoctor("check", "--quick", *extra)
        assert result.returncode == 2
        assert "--quick imports no framework" in result.stderr


def test_quick_imports_nothing_and_the_runtime_checks_say_why_they_skipped():
    document = json.loads(dldoctor("check", "--quick", "--format", "json").stdout)
    assert document["facts"]["runtime"] == {
        "ran": False,
        "reason": "--quick: no framework imported",
        "frameworks": {},
    }
    runtime_checks = [c for c in document["checks"] if c["code"].startswith("DD6")]
    assert runtime_checks and all(c["status"] == "skipped" for c in runtime_checks)
    assert {c["reason"] for c in runtime_checks} <= {
        "--quick: no framework imported",
        "no NVIDIA GPU on this machine",
        "NVML lists no GPU",
    }


def test_full_runs_the_slow_tests_compile_export_and_an_all_reduce():
    result = dldoctor("check", "--full", "--framework", "torch", "--format", "json", timeout=600)
    torch = json.loads(result.stdout)["facts"]["runtime"]["frameworks"]["torch"]
    results = {s["test"]: s for s in torch["smoke"]}
    assert set(results) == {
        "autograd",
        "graph",
        "train",
        "conv",
        "matmul-bias",
        "matmul",
        "mixed-precision",
        "train-optim",
        "export",
        "compile",
        "all-reduce",
        "onnx-export",  # the deployment chains: torch → ONNX → ONNX Runtime, TensorRT
        "tensorrt-engine",
    }
    ran = [s for s in torch["smoke"] if not (s.get("detail") or "").startswith("not run: no GPU")]
    assert all(s["status"] == "pass" for s in ran), torch["smoke"]
    assert len(torch["smoke"]) - len(ran) == 3  # ONNX Runtime's CUDA and TensorRT, TensorRT
    assert results["all-reduce"]["detail"] == "torch.distributed gloo"
    assert results["all-reduce"]["got"]["per_rank"] == [[3.0] * 4, [3.0] * 4]
    assert results["compile"]["detail"] == "torch.compile"


def test_progress_goes_to_a_terminal_stderr_and_json_stdout_stays_clean():
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", "check", "--framework", "onnxruntime", "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(follower)
    out, _ = proc.communicate(timeout=120)
    said = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal is closed once the child is gone
            break
        if not chunk:
            break
        said += chunk
    os.close(leader)
    assert json.loads(out)["facts"]["runtime"]["frameworks"]["onnxruntime"]["status"] == "pass"
    text = said.decode()
    assert "onnxruntime" in text and "imports · smoke 2/2 on cpu" in text
    assert "✓" in text and "\033[2K" in text


def test_the_progress_block_redraws_in_place_and_ends_with_each_result():
    stream = io.StringIO()
    progress = Progress(stream, color=False, width=80, order=("torch", "jax"))
    progress.event("start", "jax", "starting")
    progress.event("start", "torch", "starting")
    progress.event("phase", "torch", "import torch")
    record = {"status": "fail", "reason": "", "duration_s": 1.25, "import": {"ok": False}}
    record["import"]["error"] = {"type": "ImportError", "message": "no libcudart.so.12"}
    progress.event("end", "torch", record=record)
    progress.close()
    final = stream.getvalue().split("\033[F")[-1]
    rows = [row.replace("\033[2K", "") for row in final.splitlines()]
    assert rows == [
        "  ✗ torch        import fails: ImportError: no libcudart.so.12 (1.2 s)",
        "  – jax          (no result)",
    ]


def _is_python(process: psutil.Process) -> bool:
    try:
        return process.name().startswith("python")
    except psutil.Error:  # a short static command already gone
        return False


def test_ctrl_c_kills_every_probe_child():
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", "check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # The gate runs as many probe children at once as there are cores for them (two at most
    # here): wait until that many are running.
    wanted = min(2, len(os.sched_getaffinity(0)))
    children: list[psutil.Process] = []
    for _ in range(400):
        children = psutil.Process(proc.pid).children(recursive=True)
        if sum(_is_python(c) for c in children) >= wanted:
            break
        time.sleep(0.025)
    assert children, "no probe child started"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)  # not the 60 s probe timeout: the children were killed
    assert proc.returncode != 0
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.wait(timeout=5)
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
