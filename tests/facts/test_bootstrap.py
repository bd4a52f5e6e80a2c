"""--python on an interpreter too old for the gatherer: one line naming it, and the report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from dldoctor.checks import interpreter as interpreter_check
from dldoctor.document.schema import report_schema
from dldoctor.facts import _gather_interpreter, bootstrap
from dldoctor.facts.host import Host
from dldoctor.facts.known import Unknown
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.scenarios import make_facts
from tests.pythons import params

TOO_OLD = params("2.7", "3.5")
NEW_ENOUGH = params("3.6", "3.7")


def version_of(python: str) -> str:
    code = "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("python", TOO_OLD)
def test_a_too_old_python_answers_with_its_version_and_its_packages_stay_unknown(python):
    data = _gather_interpreter(load(), python, Host(), 120.0)
    version = version_of(python)
    assert data["python"]["version"] == version
    assert data["python"]["command"] == os.path.abspath(python)
    assert data["python"]["errors"] == [
        f"gatherer: Python {version} is too old for dldoctor's gatherer (needs 3.6+)"
    ]
    assert data["packages"]["distributions"] is None and data["packages"]["frameworks"] is None


@pytest.mark.parametrize("python", NEW_ENOUGH)
def test_the_oldest_supported_pythons_are_gathered_in_full(python):
    data = _gather_interpreter(load(), python, Host(), 120.0)
    assert data["python"]["version"] == version_of(python)
    assert data["python"]["errors"] == [] and data["packages"]["errors"] == []
    assert isinstance(data["packages"]["distributions"], list)


@pytest.mark.parametrize(
    ("version", "fires"),
    [("2.7.18", True), ("3.5.10", True), ("3.6.0", False), ("3.6.15", False), ("3.13.0", False)],
)
def test_dd514_fires_below_3_6_only(version, fires, matrix):
    facts = make_facts({"python": {"version": version, "command": "/envs/old/bin/python"}})
    verdicts = interpreter_check.python_too_old_to_examine(facts, matrix)
    assert bool(verdicts) is fires
    if fires:
        (verdict,) = verdicts
        assert verdict.severity is Severity.ERROR
        assert verdict.title.startswith(
            f"Python {version} at /envs/old/bin/python is too old for dldoctor's gatherer "
            "(needs 3.6+)"
        )


def test_dd514_does_not_judge_an_unknown_version(matrix):
    with pytest.raises(Unknown):
        interpreter_check.python_too_old_to_examine(
            make_facts({"python": {"version": None}}), matrix
        )


@pytest.mark.parametrize("python", TOO_OLD)
def test_check_on_a_too_old_python_says_so_in_one_line_and_writes_the_report(python, tmp_path):
    path = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dldoctor",
            "check",
            "--quick",
            "--python",
            python,
            "--json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 1, result.stderr  # an error found, not a crash
    version = version_of(python)
    line = f"Python {version} at {os.path.abspath(python)} is too old for dldoctor's gatherer"
    assert line in result.stdout
    assert 'File "<string>"' not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Frameworks: unknown" in result.stdout  # not "none in this environment"
    document = json.loads(path.read_text())
    jsonschema.validate(document, report_schema())
    assert [f["code"] for f in document["findings"] if f["severity"] == "error"] == ["DD514"]


def test_the_version_check_parses_in_python_2_syntax():
    python2 = params("2.7")[0].values[0]
    if not Path(python2).exists():
        pytest.skip("no Python 2.7 under pyenv here")
    result = subprocess.run(
        [python2, "-c", bootstrap.BOOT, "raise SystemExit('not reached')", "{}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and bootstrap.too_old(result.stdout) == version_of(python2)
