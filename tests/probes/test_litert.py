"""LiteRT, for real: Google's runtime runs the model TensorFlow converted, numbers checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dldoctor.document.load import facts_from_report
from dldoctor.matrix import load
from dldoctor.probes import plan as planning
from dldoctor.probes.probe import ProbeOptions, run_probes
from tests.probes.conftest import dldoctor
from tests.seedenvs import cached_env

LITERT = ["ai-edge-litert==2.3.0", "numpy==2.4.6"]


@pytest.fixture(scope="module")
def litert_python() -> Path:
    return cached_env("litert-2.3.0-numpy-2.4.6", LITERT)


def _check(python: Path, folder: Path) -> dict[str, Any]:
    path = folder / "report.json"
    run = dldoctor(
        "check", "--python", str(python), "--framework", "litert", "--json", str(path),
        timeout=300,
    )  # fmt: skip
    assert path.exists(), run.stderr
    report: dict[str, Any] = json.loads(path.read_text())
    report["terminal"] = run.stdout
    return report


def test_the_interpreter_runs_the_converted_model_on_the_cpu(
    litert_python: Path, tmp_path: Path
) -> None:
    report = _check(litert_python, tmp_path)
    record = report["facts"]["runtime"]["frameworks"]["litert"]
    assert record["status"] == "pass", record
    (graph,) = record["smoke"]
    assert (graph["test"], graph["device"], graph["status"]) == ("graph", "cpu", "pass")
    assert graph["got"] == graph["expected"] == [4.0, 10.0]
    assert record["info"]["version"] == "2.3.0"
    assert not [f for f in report["findings"] if "LiteRT" in f["title"]]
    assert "ai-edge-litert 2.3.0" in report["terminal"] and "smoke 1/1 on cpu" in report["terminal"]


def test_a_model_that_computes_something_else_fails_the_test(
    litert_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test is of the numbers: the same model computing x² + 2x (3 and 8) fails it."""
    report = _check(litert_python, tmp_path)  # this environment's facts, as check gathered them
    (tmp_path / "report.json").write_text(json.dumps(report))
    facts = facts_from_report(tmp_path / "report.json")
    source = (planning.CHILD / "models" / "poly.tflite").read_bytes()
    three, two = b"\x00\x00\x40\x40", b"\x00\x00\x00\x40"  # float32 3.0 and 2.0
    assert source.count(three) == 1  # the graph's one constant
    altered = tmp_path / "child"
    shutil.copytree(planning.CHILD, altered)
    (altered / "models" / "poly.tflite").write_bytes(source.replace(three, two))
    monkeypatch.setattr(planning, "CHILD", altered)
    options = ProbeOptions(python=str(litert_python), frameworks=("litert",))
    section = run_probes(facts, load(), options)
    (graph,) = section["frameworks"]["litert"]["smoke"]
    assert graph["status"] == "fail" and graph["got"] == [3.0, 8.0]
