"""MXNet, for real: 1.9.1 (its last release) in a Python 3.8 venv, and with the NumPy it breaks on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.probes.conftest import dldoctor
from tests.pythons import python
from tests.seedenvs import cached_env, overlay

# MXNet 1.9.1 declares numpy<2.0.0,>1.16.0; NumPy 1.24 removed the np.bool it binds at import.
MXNET = ["mxnet==1.9.1", "numpy==1.23.5"]
NUMPY_1_24 = "numpy==1.24.4"  # the last NumPy for Python 3.8


@pytest.fixture(scope="module")
def base() -> str:
    found = python("3.8")
    if found is None:
        pytest.skip("no Python 3.8 under pyenv here (MXNet 1.9.1 has no wheel for newer ones)")
    return found


@pytest.fixture(scope="module")
def mxnet_python(base: str) -> Path:
    return cached_env("mxnet-1.9.1-numpy-1.23.5", MXNET, base=base)


def _check(python: Path, folder: Path) -> dict[str, Any]:
    path = folder / "report.json"
    run = dldoctor(
        "check", "--python", str(python), "--framework", "mxnet", "--json", str(path), timeout=600
    )
    assert path.exists(), run.stderr
    report: dict[str, Any] = json.loads(path.read_text())
    report["terminal"] = run.stdout
    return report


def test_1_9_1_imports_and_passes_its_three_smoke_tests(mxnet_python: Path, tmp_path: Path) -> None:
    report = _check(mxnet_python, tmp_path)
    record = report["facts"]["runtime"]["frameworks"]["mxnet"]
    assert record["status"] == "pass" and record["import"]["version"] == "1.9.1"
    smoke = {(s["test"], s["device"]): s for s in record["smoke"]}
    assert {k: s["status"] for k, s in smoke.items()} == {
        ("autograd", "cpu"): "pass",
        ("graph", "cpu"): "pass",
        ("train", "cpu"): "pass",
    }
    assert smoke[("train", "cpu")]["got"] == pytest.approx([3.0, 1.0], abs=1e-2)
    # The PyPI wheel is the CPU build with oneDNN (MKLDNN), as its own Features() says.
    features = record["info"]["features"]
    assert features["CUDA"] is False and features["CUDNN"] is False and features["MKLDNN"] is True
    assert record["info"]["num_gpus"] == 0
    build = report["facts"]["packages"]["frameworks"]["mxnet"]["build"]
    assert build["cuda_variant"] is False
    codes = [f["code"] for f in report["findings"] if "mxnet" in json.dumps(f).lower()]
    assert codes == ["DD510"]  # retired: the only thing said of it
    assert "mxnet 1.9.1 — imports · smoke 3/3 on cpu" in report["terminal"]


def test_numpy_1_24_under_it_is_the_root_cause_with_the_pin_that_fixes_it(
    mxnet_python: Path, base: str, tmp_path: Path
) -> None:
    python = overlay(mxnet_python, tmp_path / "numpy124", [NUMPY_1_24], hide="numpy", base=base)
    report = _check(python, tmp_path)
    record = report["facts"]["runtime"]["frameworks"]["mxnet"]
    assert "module 'numpy' has no attribute 'bool'" in record["import"]["error"]["message"]
    top = report["findings"][0]
    assert (top["code"], top["severity"]) == ("DD614", "error")
    assert "MXNet" in top["title"] and "np.bool" in top["title"], top["title"]
    assert [e["code"] for e in top["explains"]] == ["DD601"]  # the failed import, its evidence
    commands = [c for fix in top["fixes"] for c in fix["commands"]]
    assert commands == [[str(python), "-m", "pip", "install", "numpy<1.24"]], commands
