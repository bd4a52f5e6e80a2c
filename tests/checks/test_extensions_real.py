"""A user's run: the package index's torchvision 0.28.0 (a CUDA 13 build) beside this venv's CPU
torch 2.13.0, in a fresh venv judged with --python; the real wheel's metadata and _C.so."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCHVISION = "torchvision==0.28.0"  # pinned: the release paired with torch 2.13 (never a range)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    site = sysconfig.get_paths()["purelib"]
    if not Path(site, "torch", "version.py").is_file():
        pytest.skip("torch is not installed in this interpreter")
    if "+cpu" not in Path(site, "torch", "version.py").read_text(encoding="utf-8"):
        pytest.skip("this test pairs the index's CUDA torchvision with a CPU torch")
    root = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120
    )
    target = next(root.glob("lib/python*/site-packages"))
    # torch (and its dependencies) come from this venv, torchvision alone from the index: no
    # resolver run that could pull a CUDA torch.
    (target / "dldoctor_test_torch.pth").write_text(site + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), TORCHVISION],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"pip could not install {TORCHVISION}: {done.stderr.strip()[-200:]}")
    return root / "bin" / "python"


def test_cuda_torchvision_on_cpu_torch_is_found_statically_with_the_cpu_build_as_fix(venv):
    run = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--quick", "--python", str(venv), "--format", "json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 1, run.stderr[-500:]
    report = json.loads(run.stdout)
    (tv,) = [
        e
        for e in report["facts"]["packages"]["extensions"]["installed"]
        if e["key"] == "torchvision"
    ]
    assert tv["built_for"]["torch"] == "2.13.0" and tv["built_for"]["cuda"] == "13"
    (module,) = tv["modules"]
    assert module["path"] == "torchvision/_C.so" and "libcudart.so.13" in module["needed"]
    # c10::cuda / at::cuda functions it imports: a CPU torch's libraries export none of them.
    missing = module["torch_symbols_missing"]
    assert missing["count"] > 0 and all("cuda" in s for s in missing["examples"])
    (finding,) = [f for f in report["findings"] if f["code"] == "DD521"]
    assert finding["severity"] == "error"
    command = finding["fixes"][0]["commands"][0]
    assert command[-3:] == [
        "torchvision==0.28.0+cpu",
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
    ]
    assert command[0] == str(venv)
    assert not [f for f in report["findings"] if f["code"] == "DD303"]  # its torch pin is met
