"""`dldoctor check --build`: this machine's real build tools (CUDA 13.0 toolkit, gcc, ninja),
judged for a CUDA torch by re-judging a real report whose torch is made a cu130 build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = "/usr/local/cuda-13.0"


def dldoctor(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": path, "NO_COLOR": "1"}
    env.pop("CUDA_HOME", None)
    env.pop("MAX_JOBS", None)
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", *args],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    if not Path(TOOLKIT, "bin", "nvcc").is_file():
        pytest.skip("needs this machine's CUDA 13.0 toolkit")
    out = tmp_path_factory.mktemp("build") / "report.json"
    path = f"{TOOLKIT}/bin:{os.environ.get('PATH', '')}"
    run = dldoctor("--quick", "--build", "--json", str(out), path=path)
    assert out.is_file(), run.stderr[-500:]
    return out


def test_build_is_a_fact_of_the_run_and_a_cpu_torch_builds_nothing(report):
    document = json.loads(report.read_text(encoding="utf-8"))
    tools = document["facts"]["cuda"]["build_tools"]
    assert tools["requested"] is True and tools["host_gcc_max"] == 15
    assert tools["nvcc"] == f"{TOOLKIT}/bin/nvcc"
    skipped = {c["code"]: c for c in document["checks"] if c["code"].startswith("DD53")}
    assert all(c["status"] == "skipped" for c in skipped.values()), skipped
    assert "CPU-only" in skipped["DD530"]["reason"]


def test_the_same_tools_for_a_cuda_13_torch_can_build(report, tmp_path):
    document = json.loads(report.read_text(encoding="utf-8"))
    torch = document["facts"]["packages"]["frameworks"]["torch"]["build"]
    torch["cuda"] = "13.0"  # as torch 2.13.0+cu130's version.py says
    for dist in document["facts"]["packages"]["distributions"]:
        if dist["name"] == "torch":
            dist["version"] = "2.13.0+cu130"
    cuda13 = tmp_path / "cuda13.json"
    cuda13.write_text(json.dumps(document), encoding="utf-8")
    run = dldoctor("--from", str(cuda13), "--format", "json", path=os.environ.get("PATH", ""))
    judged = json.loads(run.stdout)
    (ready,) = [f for f in judged["findings"] if f["code"] == "DD535"]
    assert ready["severity"] == "info"
    assert (
        "can build CUDA extensions for torch 2.13.0+cu130 (CUDA 13.0): nvcc 13.0" in ready["title"]
    )
    assert not [f for f in judged["findings"] if f["code"] in ("DD530", "DD531", "DD533")]


def test_a_cuda_12_torch_with_this_cuda_13_nvcc_cannot(report, tmp_path):
    document = json.loads(report.read_text(encoding="utf-8"))
    document["facts"]["packages"]["frameworks"]["torch"]["build"]["cuda"] = "12.6"
    cuda12 = tmp_path / "cuda12.json"
    cuda12.write_text(json.dumps(document), encoding="utf-8")
    run = dldoctor("--from", str(cuda12), "--format", "json", path=os.environ.get("PATH", ""))
    assert run.returncode == 1
    (finding,) = [f for f in json.loads(run.stdout)["findings"] if f["code"] == "DD530"]
    assert finding["severity"] == "error" and "another CUDA major" in finding["title"]
