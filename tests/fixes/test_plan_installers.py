"""Golden plans for each installer an environment can have: the same intents, each tool's words.

Regenerate after an intended change with DLDOCTOR_REGEN_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dldoctor.facts.model import Facts
from dldoctor.fixes.alternatives import install_alternatives
from dldoctor.fixes.installers import Install, Installer, installer_for, render
from dldoctor.report.plan_view import steps_lines
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "plans"
PREFIXES = {
    "pip": "/env",
    "uv": "/env",
    "poetry": "/home/u/.cache/pypoetry/virtualenvs/proj-x1-py3.11",
    "pdm": "/home/u/proj/.venv",
    "pixi": "/home/u/proj/.pixi/envs/default",
    "conda": "/opt/conda/envs/train",
}


def env(kind: str) -> Facts:
    """torch's CPU build and tensorflow-cpu on an H100, in an environment made by ``kind``."""
    prefix = PREFIXES[kind]
    manager = {"pip": "venv", "pixi": "conda"}.get(kind, kind)
    installer = {"uv": "uv", "pdm": "pdm", "conda": "conda"}.get(kind, "pip")
    packages = [
        dist("torch", "2.13.0+cpu", installer=installer),
        dist("tensorflow-cpu", "2.21.0", installer=installer),
    ]
    if kind not in ("uv",):  # a uv venv has no pip
        packages.append(dist("pip", "25.0"))
    python = f"{prefix}/bin/python"
    return make_facts(
        gpu_machine(),
        {
            "python": {
                "command": python,
                "executable": python,
                "prefix": prefix,
                "environment": {"manager": manager, "name": None, "evidence": "test"},
            }
        },
        with_packages(*packages),
    )


@pytest.mark.parametrize("kind", sorted(PREFIXES))
def test_the_plan_in_each_installers_words(kind, matrix):
    facts = env(kind)
    (plan,) = install_alternatives(["torch", "tensorflow"], facts, matrix)
    text = "\n".join(steps_lines(plan.steps)) + "\n"
    golden = GOLDEN / f"installer_{kind}.txt"
    if os.environ.get("DLDOCTOR_REGEN_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_a_uv_venv_without_pip_never_gets_python_m_pip(matrix):
    facts = env("uv")
    assert installer_for(facts, "torch") is Installer.UV
    (plan,) = install_alternatives(["torch", "tensorflow"], facts, matrix)
    commands = [c for s in plan.steps for c in s.commands]
    assert commands and all(c[:2] == ("uv", "pip") for c in commands)
    assert all(c[c.index("--python") + 1] == "/env/bin/python" for c in commands)
    assert all(s.runnable for s in plan.steps)  # uv names the judged interpreter


@pytest.mark.parametrize("kind", ["poetry", "pdm", "pixi"])
def test_project_tools_are_shown_never_run(kind, matrix):
    (plan,) = install_alternatives(["torch"], env(kind), matrix)
    assert plan.steps and not any(s.runnable for s in plan.steps)
    assert all(c[0] == kind for s in plan.steps for c in s.commands)


def test_pixi_says_where_the_wheel_index_goes_and_removes_conda_packages_without_pypi():
    facts = make_facts(
        {"python": {"prefix": "/p/.pixi/envs/default", "environment": {"manager": "conda"}}},
        with_packages(dist("onnxruntime", "1.32.0", installer="conda")),
    )
    intent = Install(("onnxruntime-gpu==1.32.0",), remove_first=("onnxruntime",))
    assert render(intent, facts) == (
        ("pixi", "remove", "onnxruntime"),
        ("pixi", "add", "--pypi", "onnxruntime-gpu==1.32.0"),
    )
