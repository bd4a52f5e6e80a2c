"""Redaction of a report full of planted private values: each one gone, every useful path kept,
and a count per kind said."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from dldoctor.document.redact import redactor
from dldoctor.matrix import load
from tests.report.golden import report_for

HOME = "/home/alice"
HOST = socket.gethostname()
PLANTED = {
    "ip": ["10.0.0.5", "192.168.7.21", "172.31.65.154"],
    "mac": ["02:42:ac:11:00:02"],
    "gpu-uuid": ["4b1f7a1c-2c7e-3d5f-8a9b-0c1d2e3f4a5b", "9c2e8b3d-4f1a-4b6c-9d0e-1f2a3b4c5d6e"],
    "serial": ["1650123456789"],
    "instance": ["i-0abc123def4567890"],
    "container": ["3f" * 32],
    "host": ["ip-172-31-65-154"],
    "user": ["bob"],
}


def planted() -> dict:
    document = json.loads(json.dumps(report_for("h100_cpu_stack", load()).to_dict()))
    facts = document["facts"]
    facts["python"]["executable"] = f"{HOME}/venv/bin/python"
    facts["python"]["prefix"] = f"{HOME}/venv"
    facts["python"]["sys_path"] = [
        f"{HOME}/venv/lib/python3.11/site-packages",
        "/home/bob/shared/lib",
    ]
    facts["env"]["variables"].update(
        {
            "MASTER_ADDR": "10.0.0.5",
            "HTTPS_PROXY": "http://192.168.7.21:3128",
            "HOSTNAME": HOST,
            "LD_LIBRARY_PATH": f"{HOME}/cudnn/lib:/usr/local/cuda/lib64",
        }
    )
    facts["nvidia"]["gpus"][0]["uuid"] = "GPU-4b1f7a1c-2c7e-3d5f-8a9b-0c1d2e3f4a5b"
    second = dict(
        facts["nvidia"]["gpus"][0], index=1, uuid="GPU-9c2e8b3d-4f1a-4b6c-9d0e-1f2a3b4c5d6e"
    )
    facts["nvidia"]["gpus"].append(second)
    facts["system"]["container"]["evidence"] = f"/proc/self/cgroup names docker/{'3f' * 32}"
    facts["runtime"] = {
        "ran": True,
        "frameworks": {
            "torch": {
                "status": "fail",
                "output": [
                    "NCCL WARN Connect to 172.31.65.154<43210> failed : Connection refused",
                    "eth0 link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff",
                    "Serial Number : 1650123456789",
                    "on ip-172-31-65-154 (instance i-0abc123def4567890)",
                ],
            }
        },
    }
    return document


def test_every_planted_value_is_gone_and_every_useful_path_kept():
    scrubber = redactor(HOME, "alice", HOST)
    text = json.dumps(scrubber.walk(planted()))
    for kind, values in PLANTED.items():
        for value in values:
            assert value not in text, (kind, value)
    assert HOME not in text
    if len(HOST) > 2:
        assert f'"{HOST}"' not in text
    # Paths stay useful: the home is "~", the rest of each path is kept.
    assert "~/venv/lib/python3.11/site-packages" in text
    assert "~/cudnn/lib:/usr/local/cuda/lib64" in text
    assert "/home/<user-1>/shared/lib" in text
    # Versions that look like addresses are versions: nothing else changed.
    assert "580.65.06" in text and "2.13.0+cpu" in text
    # Two GPUs stay two: one placeholder per value, the same one wherever it appears.
    assert "GPU-<gpu-uuid-1>" in text and "GPU-<gpu-uuid-2>" in text
    assert text.count("<ip-3>") == 1 and "<ip-1>" in text


def test_the_count_per_kind_is_said():
    scrubber = redactor(HOME, "alice", HOST)
    scrubber.walk(planted())
    host = "2 host names" if len(HOST) > 2 else "1 host name"  # the machine's own, and EC2's
    assert scrubber.summary() == (
        f"redacted 1 home directory, 1 user name, {host}, 3 IP addresses, 1 MAC address, "
        "2 GPU UUIDs, 1 serial number, 1 cloud instance id, 1 container id"
    )
    assert redactor(HOME, "alice", HOST).summary() == "redacted nothing (no private value found)"


def test_the_command_says_what_it_redacted(tmp_path):
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(planted()))
    run = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--from", str(path), "--redact", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": HOME, "USER": "alice", "LOGNAME": "alice"},
    )
    assert run.returncode in (0, 1), run.stderr
    assert "dldoctor: redacted " in run.stderr and "IP addresses" in run.stderr
    for values in PLANTED.values():
        for value in values:
            assert value not in run.stdout
    markdown = subprocess.run(
        [
            sys.executable,
            "-m",
            "dldoctor",
            "check",
            "--from",
            str(path),
            "--redact",
            "-f",
            "markdown",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": HOME, "USER": "alice", "LOGNAME": "alice"},
    )
    assert "10.0.0.5" not in markdown.stdout and "GPU-4b1f7a1c" not in markdown.stdout
