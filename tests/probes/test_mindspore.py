"""MindSpore, for real: its CPU wheel probed in its own child, and with the NumPy it breaks on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.probes.conftest import dldoctor
from tests.seedenvs import cached_env, overlay

# MindSpore 2.10.0 was compiled against NumPy 1.x and declares numpy>=1.25 with no upper bound.
MINDSPORE = ["mindspore==2.10.0", "numpy==1.26.4"]
NUMPY_2 = "numpy==2.4.6"


@pytest.fixture(scope="module")
def mindspore_python() -> Path:
    return cached_env("mindspore-2.10.0-numpy-1.26.4", MINDSPORE)


def _check(python: Path, folder: Path) -> dict[str, Any]:
    path = folder / "report.json"
    run = dldoctor(
        "check",
        "--python",
        str(python),
        "--framework",
        "mindspore",
        "--json",
        str(path),
        timeout=600,
    )
    assert path.exists(), run.stderr
    report: dict[str, Any] = json.loads(path.read_text())
    report["terminal"] = run.stdout
    return report


def test_the_cpu_wheel_imports_and_passes_its_three_smoke_tests(
    mindspore_python: Path, tmp_path: Path
) -> None:
    report = _check(mindspore_python, tmp_path)
    record = report["facts"]["runtime"]["frameworks"]["mindspore"]
    assert record["status"] == "pass" and record["import"]["version"] == "2.10.0"
    smoke = {(s["test"], s["device"]): s["status"] for s in record["smoke"]}
    assert smoke == {
        ("autograd", "cpu"): "pass",
        ("graph", "cpu"): "pass",
        ("train", "cpu"): "pass",
    }
    # No GPU and no Ascend here: MindSpore says so, and that judges nothing.
    assert record["info"]["available"] == {"GPU": False, "Ascend": False}
    assert not [f for f in report["findings"] if "MindSpore" in f["title"]]
    assert "mindspore 2.10.0 — " in report["terminal"] and "smoke 3/3 on cpu" in report["terminal"]


def test_the_build_facts_name_the_plugins_the_wheel_really_carries(
    mindspore_python: Path, tmp_path: Path
) -> None:
    report = _check(mindspore_python, tmp_path)
    build = report["facts"]["packages"]["frameworks"]["mindspore"]["build"]
    site = Path(report["facts"]["runtime"]["frameworks"]["mindspore"]["import"]["file"]).parent
    shipped = sorted(
        m.group(1)
        for p in (site / "lib" / "plugin").iterdir()
        if (m := re.fullmatch(r"libmindspore_gpu\.so\.(\d+\.\d+)", p.name))
    )
    assert build["device_plugins"]["gpu_cuda"] == shipped and shipped
    assert build["device_plugins"]["cpu"] is True


def test_numpy_2_under_it_is_the_root_cause_with_the_pin_that_fixes_it(
    mindspore_python: Path, tmp_path: Path
) -> None:
    python = overlay(mindspore_python, tmp_path / "numpy2", [NUMPY_2], hide="numpy")
    report = _check(python, tmp_path)
    record = report["facts"]["runtime"]["frameworks"]["mindspore"]
    said = json.dumps(record)
    assert "compiled using NumPy 1.x cannot be run in" in said  # MindSpore's own words
    top = report["findings"][0]
    assert top["severity"] == "error"
    assert "MindSpore" in top["title"] and "NumPy" in top["title"], top["title"]
    commands = [c for fix in top["fixes"] for c in fix["commands"]]
    assert [str(python), "-m", "pip", "install", "numpy<2"] in commands, commands
