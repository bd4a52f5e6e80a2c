"""Run `dldoctor profile` as a user does (a real subprocess) and read back its validated report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from dldoctor.document.schema import profile_report_schema

SCRIPTS = Path(__file__).resolve().parent / "scripts"
TOLERANCE = 0.05  # measured data-wait fraction vs the script's own timing: ±5 points


def _default_sigint() -> None:
    # A test runner may ignore SIGINT; a user's shell gives the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(report: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dldoctor", "profile", "--json", str(report), *args]


def profile(
    tmp_path: Path, *args: str, timeout: float = 180, cwd: Path | None = None, stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``dldoctor profile --json REPORT ARGS``; the report must exist and be valid."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        command(report, *args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_default_sigint,
    )
    assert report.exists(), result.stderr
    return result, read_report(report)


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    """Start ``dldoctor profile`` in the background (stdout piped, line by line)."""
    report = tmp_path / "report.json"
    proc = subprocess.Popen(
        command(report, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_default_sigint,
    )
    return proc, report


def read_report(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, profile_report_schema())
    return document


def truth(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def marked_line(script: str, marker: str = "LOADER-LINE") -> int:
    lines = (SCRIPTS / script).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line)


def codes(document: dict[str, Any]) -> list[str]:
    return [f["code"] for f in document["findings"]]
