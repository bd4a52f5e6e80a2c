"""The command line as a user runs it: real subprocesses, real files, real packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from dldoctor.document.schema import report_schema
from tests.machine import (
    NO_DRIVER_REASON,
    expected_static_codes,
    fresh_venv,
    nvidia_driver_loaded,
    other_pythons,
    python_version,
)

FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "paddle", "keras", "onnxruntime", "mxnet")
# The oldest other Python here (3.8, the oldest --python judges, where present).
OTHER_PYTHON = next(iter(other_pythons()), None)
driverless = pytest.mark.skipif(nvidia_driver_loaded(), reason=NO_DRIVER_REASON)


def dldoctor(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@driverless
def test_check_on_this_machine_reports_what_it_has_and_exits_0():
    """A CUDA toolkit without a driver is a warning (DD101); no toolkit, no finding."""
    result = dldoctor("check")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    toolkit = expected_static_codes() == ["DD101"]
    assert f"[{'!' if toolkit else '✓'}] NVIDIA: no NVIDIA driver loaded" in out
    assert ("(DD101)" in out) is toolkit
    assert "torch 2.13.0+cpu — CPU-only build · imports · smoke 5/5 on cpu" in out
    assert "keras 3.15.1 — imports (backend tensorflow) · smoke 2/2 on cpu" in out
    assert out.startswith("dldoctor — dldoctor check (6 frameworks probed in child processes, ")
    assert "tensorflow-cpu 2.21.0 — CPU-only build" in out
    assert "Traceback" not in out + result.stderr


@driverless
def test_strict_turns_warnings_into_exit_1():
    document = json.loads(dldoctor("check", "--quick", "--format", "json").stdout)
    warnings = [f for f in document["findings"] if f["severity"] == "warning"]
    assert [f["code"] for f in warnings] == expected_static_codes()
    assert dldoctor("check", "--quick", "--strict").returncode == (1 if warnings else 0)
    assert dldoctor("check", "--quick").returncode == 0


@driverless
def test_json_on_stdout_and_in_a_file_are_valid_reports(tmp_path):
    path = tmp_path / "report.json"
    result = dldoctor("check", "--quick", "--format", "json", "--json", str(path))
    assert result.returncode == 0
    for document in (json.loads(result.stdout), json.loads(path.read_text())):
        jsonschema.validate(document, report_schema())
        assert document["schema_version"] == "1.3"
        assert [f["code"] for f in document["findings"]] == expected_static_codes()


@driverless
def test_markdown_report_has_the_findings_and_folded_facts():
    result = dldoctor("check", "--quick", "--format", "markdown")
    assert all(code in result.stdout for code in expected_static_codes())
    assert "```json dldoctor-report" in result.stdout  # the report, folded, read back by --from


def test_no_framework_is_imported_by_a_full_check():
    code = (
        "import sys, json\n"
        "from dldoctor.cli import app\n"
        "try:\n    app(['check', '--format', 'json'])\nexcept SystemExit:\n    pass\n"
        f"names = {FRAMEWORKS!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in names)\n"
        "print(json.dumps(loaded), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert json.loads(result.stdout)["facts"]["packages"]["frameworks"][
        "torch"
    ]  # torch is installed
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []


def test_secret_values_are_never_written_even_unredacted(tmp_path):
    path = tmp_path / "r.json"
    env = {
        "HF_TOKEN": "hf_supersecretvalue",
        "NCCL_IB_KEY": "k3y-value",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    result = dldoctor("check", "--quick", "--format", "json", "--json", str(path), env=env)
    for text in (result.stdout, path.read_text()):
        assert "hf_supersecretvalue" not in text and "k3y-value" not in text
    variables = json.loads(result.stdout)["facts"]["env"]
    assert variables["variables"]["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert "NCCL_IB_KEY" in variables["withheld"]


def test_redact_removes_home_and_host_name(tmp_path):
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    env = {"HOME": str(home), "CUDA_HOME": f"{home}/cuda"}
    document = json.loads(
        dldoctor("check", "--quick", "--format", "json", "--redact", env=env).stdout
    )
    text = json.dumps(document)
    assert str(home) not in text
    assert document["facts"]["env"]["variables"]["CUDA_HOME"] == "~/cuda"
    assert document["redacted"] is True
    host = os.uname().nodename
    if len(host) > 3:
        assert host not in text


def test_python_that_is_not_a_python_is_one_line_and_exit_2(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'I am not python'\n")
    fake.chmod(0o755)
    for candidate in (str(fake), str(tmp_path / "missing"), str(tmp_path)):
        result = dldoctor("check", "--python", candidate)
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dldoctor: error: --python"), result.stderr


def test_another_interpreter_is_judged_from_outside(tmp_path):
    """The oldest other Python here, else a fresh venv of this one: judged by its own facts."""
    python = OTHER_PYTHON or fresh_venv(tmp_path / "venv")
    result = dldoctor("check", "--python", python, "--format", "json")
    document = json.loads(result.stdout)
    assert document["facts"]["python"]["version"] == str(python_version(python))
    assert document["command"] == f"dldoctor check --python {python}"
    jsonschema.validate(document, report_schema())


def test_hung_nvidia_smi_costs_one_timeout_not_forever(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\nexec sleep 600\n")
    smi.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = dldoctor("check", "--quick", "--format", "json", "--timeout", "1", env=env, timeout=30)
    smi_facts = json.loads(result.stdout)["facts"]["nvidia"]["nvidia_smi"]
    assert smi_facts["ran"] and smi_facts["timed_out"]


def test_unknown_option_is_a_usage_error_exit_2():
    result = dldoctor("check", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_unwritable_report_path_is_one_line_exit_2(tmp_path):
    result = dldoctor(
        "check", "--quick", "--json", str(tmp_path / "no" / "such" / "dir" / "r.json")
    )
    assert result.returncode == 2
    assert "cannot write the report" in result.stderr and "Traceback" not in result.stderr


def test_checks_lists_every_registered_check():
    from dldoctor.checks.registry import all_checks

    listed = dldoctor("checks").stdout.splitlines()
    assert [line.split()[0] for line in listed] == [c.code for c in all_checks()]


def test_hostile_site_dir_is_judged_not_fatal(tmp_path):
    """Garbled METADATA and a torchvision built for another torch: findings, exit 1, a report."""
    site = tmp_path / "site"
    garbled = site / "broken_pkg-1.0.dist-info"
    garbled.mkdir(parents=True)
    (garbled / "METADATA").write_bytes(b"\x00\xff\xfe garbage \x80\x81")
    vision = site / "torchvision-0.23.0.dist-info"
    vision.mkdir()
    (vision / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torchvision\nVersion: 0.23.0\nRequires-Dist: torch==2.8.0\n\n"
    )
    path = tmp_path / "report.json"
    result = dldoctor("check", "--quick", "--json", str(path), env={"PYTHONPATH": str(site)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "torchvision 0.23.0 requires torch==2.8.0, but 2.13.0+cpu is installed (DD303)"
        in result.stdout
    )
    assert (
        f"$ {sys.executable} -m pip install 'torchvision==0.28.*' "
        "--index-url https://download.pytorch.org/whl/cpu" in result.stdout
    )
    document = json.loads(path.read_text())
    jsonschema.validate(document, report_schema())
    broken = next(
        d for d in document["facts"]["packages"]["distributions"] if d["name"] == "broken_pkg"
    )
    assert broken["metadata_error"]


def closed_stdout_run(*args: str) -> subprocess.CompletedProcess[str]:
    """dldoctor with a reader that leaves before the first line (as `| head -0` would)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before dldoctor has started: its first write meets a closed pipe
    _, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--quick", "-v"),
        ("check", "--quick", "--format", "markdown"),
        ("check", "--quick", "--format", "json"),
        ("checks",),
        ("matrix",),
        ("schema",),
    ],
)
def test_a_reader_that_stops_early_does_not_change_the_exit_code(args):
    full = dldoctor(*args)
    cut = closed_stdout_run(*args)
    assert full.returncode in (0, 1)
    assert cut.returncode == full.returncode, cut.stderr
    assert cut.stderr == full.stderr  # no traceback, no "Exception ignored" at exit
