"""Golden plans for each installer an environment can have: the same intents, each tool's words.

The golden files are written only by `python -m tests.fixes.golden_plans`; these compare.
"""

from __future__ import annotations

import pytest

from dldoctor.fixes.alternatives import install_alternatives
from dldoctor.fixes.installers import Install, Installer, installer_for, render
from dldoctor.report.plan_view import steps_lines
from tests.checks.scenarios import dist, make_facts, with_packages
from tests.fixes.golden_plans import GOLDEN, PREFIXES, compare, env


@pytest.mark.parametrize("kind", sorted(PREFIXES))
def test_the_plan_in_each_installers_words(kind, matrix):
    facts = env(kind)
    (plan,) = install_alternatives(["torch", "tensorflow"], facts, matrix)
    compare("\n".join(steps_lines(plan.steps)) + "\n", GOLDEN / f"installer_{kind}.txt")


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
