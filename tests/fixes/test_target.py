"""`fix --from REPORT --apply` acts only on the interpreter the report judged: real files, real links."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dldoctor.fixes.target import foreign, judged
from tests.checks.scenarios import make_facts


def report(executable: str, prefix: str | None, command: str = "python") -> object:
    python: dict[str, object] = {"command": command, "executable": executable, "prefix": prefix}
    return make_facts({"python": python})


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A venv's layout: bin/python and bin/python3 both links to one base interpreter."""
    base = tmp_path / "base" / "bin"
    base.mkdir(parents=True)
    (base / "python3.12").write_bytes(b"\x7fELF")
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(base / "python3.12")
    (env / "bin" / "python3").symlink_to(base / "python3.12")
    return env


def test_without_python_it_judges_the_interpreter_dldoctor_runs_in():
    assert judged(None) == (os.path.abspath(sys.executable), sys.prefix)


def test_a_python_path_is_made_absolute_and_its_prefix_is_two_levels_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    here = os.getcwd()  # tmp_path as the OS spells it
    assert judged("envs/train/bin/python") == (
        os.path.join(here, "envs", "train", "bin", "python"),
        os.path.join(here, "envs", "train"),
    )
    assert judged("/opt/conda/envs/a/bin/python") == (
        "/opt/conda/envs/a/bin/python",
        "/opt/conda/envs/a",
    )


def test_a_venvs_link_is_never_resolved_to_the_base_interpreter(venv):
    link = str(venv / "bin" / "python")
    assert judged(link) == (link, str(venv))  # not base/bin/python3.12, not base


def test_the_same_interpreter_and_prefix_is_not_foreign(venv):
    python = str(venv / "bin" / "python")
    assert foreign(report(python, str(venv)), python) is None
    # The report may name it by --python (command) while its executable is elsewhere.
    assert foreign(report("/elsewhere/python", str(venv), command=python), python) is None


def test_python_and_python3_of_one_venv_are_one_environment(venv):
    facts = report(str(venv / "bin" / "python3"), str(venv))
    assert foreign(facts, str(venv / "bin" / "python")) is None


def test_a_report_without_a_known_prefix_is_judged_by_its_interpreter_alone(venv):
    python = str(venv / "bin" / "python")
    assert foreign(report(python, None), python) is None
    assert foreign(report(python, "env"), python) is None  # relative: unknown, not compared


def test_the_base_interpreter_a_venv_links_to_is_another_environment(venv, tmp_path):
    base = str(tmp_path / "base" / "bin" / "python3.12")
    python = str(venv / "bin" / "python")
    assert os.path.samefile(base, python)  # one file, two environments
    assert foreign(report(base, str(tmp_path / "base")), python) == (
        f"the report's interpreter {base} is not the interpreter judged here ({python})"
    )


def test_another_interpreter_that_exists_here(venv, tmp_path):
    other = tmp_path / "other" / "bin"
    other.mkdir(parents=True)
    (other / "python").write_bytes(b"\x7fELF")
    python = str(venv / "bin" / "python")
    assert foreign(report(str(other / "python"), str(other.parent)), python) == (
        f"the report's interpreter {other / 'python'} is not the interpreter judged here ({python})"
    )


def test_a_report_from_another_machine_names_an_interpreter_missing_here(venv):
    python = str(venv / "bin" / "python")
    missing = "/home/someone/envs/gpu/bin/python"
    assert foreign(report(missing, "/home/someone/envs/gpu"), python) == (
        f"the report's interpreter {missing} does not exist here ({python})"
    )


def test_the_judged_interpreter_missing_here_is_foreign_too(venv, tmp_path):
    python = str(venv / "bin" / "python")
    gone = str(tmp_path / "gone" / "bin" / "python")
    assert foreign(report(python, str(venv)), gone) == (
        f"the report's interpreter {python} is not the interpreter judged here ({gone})"
    )


def test_a_report_naming_no_absolute_interpreter_is_foreign(venv):
    python = str(venv / "bin" / "python")
    for executable in ("python", "bin/python", ""):
        assert foreign(report(executable, str(venv)), python) == (
            "the report does not name its interpreter by absolute path"
        )


def test_the_same_interpreter_with_another_prefix_is_foreign(venv, tmp_path):
    python = str(venv / "bin" / "python")
    for prefix in (str(tmp_path), str(tmp_path / "missing-prefix")):
        assert foreign(report(python, prefix), python) == (
            f"the report's environment {prefix} is not this interpreter's ({venv})"
        )
