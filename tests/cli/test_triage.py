"""`dldoctor triage` end to end: exit codes as for check, stdin, bounded input, cleaned output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dldoctor.document.schema import report_schema
from dldoctor.document.validate import Validator

PASTES = Path(__file__).resolve().parent.parent / "triage" / "pastes"


def dldoctor(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        input=data,
        capture_output=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_an_error_in_the_paste_exits_1_and_names_what_to_paste_next():
    run = dldoctor("triage", str(PASTES / "collect_env_1_5_p100_driver410.txt"))
    out = run.stdout.decode()
    assert run.returncode == 1, run.stderr
    assert "Driver 410.104 is too old for PyTorch 1.5.0" in out
    assert "Read from the paste: collect_env" in out
    assert "run nvidia-smi and paste it" in out  # NVML's status is not in a collect_env paste


def test_a_healthy_paste_exits_0_and_strict_does_not_invent_warnings():
    assert dldoctor("triage", str(PASTES / "collect_env_1_7_colab_t4.txt")).returncode == 0
    run = dldoctor("triage", "--strict", str(PASTES / "conda_list_cuda118_driver470.txt"))
    assert run.returncode == 1  # DD501's minor-version-compatibility warning, under --strict


def test_stdin_json_is_a_valid_report_with_what_triage_read(tmp_path):
    text = (PASTES / "pip_list_cpu_torch_with_gpu.txt").read_text()
    run = dldoctor(
        "triage", "-", "--format", "json", "--json", str(tmp_path / "r.json"), stdin=text
    )
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    Validator(report_schema(partial=True)).validate(document)
    assert document["triage"]["formats"] == ["nvidia-smi", "pip list"]
    assert document["findings"][0]["code"] == "DD201"
    assert json.loads((tmp_path / "r.json").read_text()) == document
    # What triage wrote reads back: check --from judges the same facts the same way.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "dldoctor",
            "check",
            "--from",
            str(tmp_path / "r.json"),
            "-f",
            "json",
        ],
        capture_output=True,
        timeout=120,
    )
    assert json.loads(again.stdout)["findings"][0]["code"] == "DD201"


def test_unreadable_input_is_one_line_and_exit_2(tmp_path):
    missing = dldoctor("triage", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2
    assert missing.stderr.decode().count("\n") == 1 and b"Traceback" not in missing.stderr
    binary = tmp_path / "core"
    binary.write_bytes(b"\x7fELF\x00\x00" * 100)
    assert dldoctor("triage", str(binary)).returncode == 2
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate((16 << 20) + 1)  # sparse: one byte over the limit every report input has
    run = dldoctor("triage", str(huge))
    assert run.returncode == 2 and b"larger than 16 MiB" in run.stderr


def test_nothing_recognised_says_so_and_judges_nothing():
    run = dldoctor("triage", "-", stdin="my GPU is slow, please help\n")
    assert run.returncode == 0
    assert b"none of the formats triage reads" in run.stderr


def test_hostile_paste_is_shown_cleaned_and_its_secrets_withheld():
    text = (
        "PyTorch version: 2.1.0+cu121\x1b]52;c;ZXZpbA==\x07\n"
        "OS: Ubuntu\x1b[2J 22.04 (x86_64)\n"
        "Nvidia driver version: 470.82.01\n"
        "GPU models and configuration: GPU 0: NVIDIA A100 hf_abcdefghijklmnopqrstuvwxyz0123\n"
    )
    run = dldoctor("triage", "-", "-v", stdin=text)
    out = run.stdout.decode()
    assert run.returncode == 1  # CUDA 12.1 on driver 470: DD501
    assert "\x1b" not in out and "\x07" not in out
    assert "hf_abcdefghijklmnopqrstuvwxyz0123" not in out
