"""`dldoctor install …` as a user runs it: from a report, as JSON, and its usage errors."""

from __future__ import annotations

import json

from tests.test_cli_fix import FACTS, dldoctor, report_file


def old_driver_report(tmp_path):
    return report_file(
        tmp_path / "r.json", json.loads((FACTS / "driver470_cpu_stack.json").read_text())
    )


def test_install_from_an_old_driver_report_prints_both_plans(tmp_path):
    result = dldoctor("install", "torch", "tf", "--from", str(old_driver_report(tmp_path)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(
        "A. Upgrade the NVIDIA driver to 580.65.06 or newer"
    )  # torch 2.14 cu130, PyPI default
    assert "\nB. Keep driver 470.82.01: torch 2.7 (CUDA 11.8), TensorFlow 2.14 (CUDA 11.8)." in out
    assert "These cannot share one environment: they need different cudnn releases" in out
    assert "$ /work/venv/bin/python -m venv /work/venv-tensorflow" in out


def test_install_json_names_builds_pins_and_steps(tmp_path):
    result = dldoctor(
        "install", "torch", "jax", "--json", "--from", str(old_driver_report(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["frameworks"] == ["torch", "jax"]
    a = doc["alternatives"][0]
    assert a["letter"] == "A" and a["driver"] == "580.65.06"
    assert a["nvidia_wheels"]["nvidia-cudnn-cu13"] == "==9.24.0.43"
    assert a["steps"][0]["kind"] == "driver"
    assert all(s["needs_driver"] for s in a["steps"][1:])


def test_install_usage_errors_are_one_line_and_exit_2(tmp_path):
    for args in (
        ("install", "mxnet"),
        ("install", "keras"),
        ("install", "torch", "--apply", "--from", str(old_driver_report(tmp_path))),
    ):
        result = dldoctor(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("dldoctor: error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
