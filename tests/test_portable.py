"""The suite's machine-dependent tests pass on a machine without this one's CUDA toolkit and
Pythons: they run again here in a private mount namespace where /usr/local/cuda* is gone and
the other interpreters they found are hidden, so they must find what that machine has."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.machine import other_pythons

ROOT = Path(__file__).resolve().parent.parent
# The tests that depend on this machine's toolkit or interpreters (each reads tests/machine.py).
MACHINE_TESTS = [
    "tests/test_cli.py::test_check_on_this_machine_reports_what_it_has_and_exits_0",
    "tests/test_cli.py::test_strict_turns_warnings_into_exit_1",
    "tests/test_cli.py::test_json_on_stdout_and_in_a_file_are_valid_reports",
    "tests/test_cli.py::test_markdown_report_has_the_findings_and_folded_facts",
    "tests/test_cli.py::test_another_interpreter_is_judged_from_outside",
    "tests/test_pipeline.py::test_this_machine_is_judged_by_what_it_has",
    "tests/facts/test_interpreter.py::test_source_runs_under_other_pythons",
    "tests/facts/test_interpreter.py::test_project_dir_cannot_shadow_the_stdlib",
]
# In the namespace: /usr/local becomes an empty tmpfs with every entry but cuda* bound back
# (wrappers such as /usr/local/bin/nvcc stay, pointing at nothing), /dev/null covers each
# interpreter to hide, then the command runs.
HIDE = r"""
set -e
orig=$1; shift
hidden=$1; shift
mount --bind /usr/local "$orig"
mount -t tmpfs tmpfs /usr/local
for e in "$orig"/* ; do
  n=${e##*/}
  case $n in cuda*) continue ;; esac
  if [ -L "$e" ]; then cp -P "$e" /usr/local/; else mkdir "/usr/local/$n"; mount --bind "$e" "/usr/local/$n"; fi
done
for p in $hidden; do mount --bind /dev/null "$p"; done
exec "$@"
"""


def _unshare() -> list[str] | None:
    """How to enter a private mount namespace here, or None where the kernel or policy refuses."""
    tool = shutil.which("unshare")
    if tool is None:
        return None
    argv = [tool, "-m"] if os.geteuid() == 0 else [tool, "-r", "-m"]
    probe = subprocess.run([*argv, "true"], capture_output=True, timeout=30, check=False)
    return argv if probe.returncode == 0 else None


def test_machine_dependent_tests_pass_with_the_cuda_toolkit_and_other_pythons_hidden(tmp_path):
    argv = _unshare()
    if argv is None:
        pytest.skip("no private mount namespace here (unshare is missing or not permitted)")
    hidden = " ".join(os.path.realpath(p) for p in other_pythons())
    mountpoint = tmp_path / "usr-local"
    mountpoint.mkdir()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MACHINE_TESTS]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [*argv, "sh", "-c", HIDE, "sh", str(mountpoint), hidden, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " failed" not in result.stdout and " passed" in result.stdout
