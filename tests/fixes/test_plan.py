"""The fix plan: worst first, a command once, only what names the judged env runs, without a shell."""

from __future__ import annotations

import sys

from dldoctor.fixes.plan import _run, apply, plan
from dldoctor.model import Area, Finding, Fix, Severity
from tests.checks.scenarios import make_facts

PY = "/env/bin/python"
A = Fix("install the CUDA build", ((PY, "-m", "pip", "install", "torch==2.13.0+cu130"),), True)
B = Fix("reboot", (("sudo", "reboot"),))
C = Fix(
    "pin numpy",
    ((PY, "-m", "pip", "install", "numpy<2"), (PY, "-m", "pip", "check")),
    automatic=True,
)
FACTS = make_facts()


def finding(code: str, severity: Severity, *fixes: Fix) -> Finding:
    return Finding(code, severity, "t", Area.FRAMEWORKS, fixes=fixes)


def test_same_command_from_two_findings_is_planned_once_and_info_is_left_out():
    steps = plan(
        [
            finding("DD201", Severity.ERROR, A),
            finding("DD503", Severity.ERROR, A, B),
            finding("DD503", Severity.INFO, C),
        ],
        FACTS,
    )
    assert [(s.codes, s.commands, s.runnable) for s in steps] == [
        (("DD201",), A.commands, True),
        (("DD503",), B.commands, False),  # not automatic
    ]


def test_apply_runs_only_automatic_steps_and_stops_at_the_first_failure():
    ran: list[tuple[str, ...]] = []
    said: list[str] = []

    def run(command: tuple[str, ...]) -> int:
        ran.append(command)
        return 1 if "numpy<2" in command else 0

    steps = plan(
        [finding("DD201", Severity.ERROR, A, B), finding("DD507", Severity.ERROR, C)], FACTS
    )
    assert apply(steps, said.append, run) == 1
    assert ran == [A.commands[0], C.commands[0]]  # not reboot, not pip check
    assert said[-1] == f"dldoctor: `{PY} -m pip install 'numpy<2'` exited with 1; stopping here."


def test_apply_with_everything_succeeding_is_0():
    steps = plan([finding("DD201", Severity.ERROR, A)], FACTS)
    assert apply(steps, lambda _: None, lambda _: 0) == 0


def test_an_automatic_fix_for_another_interpreter_or_path_python_is_not_runnable():
    for python in ("python", "/other/env/bin/python"):
        other = Fix("x", ((python, "-m", "pip", "install", "numpy<2"),), automatic=True)
        (step,) = plan([finding("DD201", Severity.ERROR, other)], FACTS)
        assert not step.runnable
    poetry = Fix("x", (("poetry", "add", "numpy<2"),), automatic=True)
    assert not plan([finding("DD201", Severity.ERROR, poetry)], FACTS)[0].runnable
    uv = Fix("x", (("uv", "pip", "install", "--python", PY, "numpy<2"),), automatic=True)
    assert plan([finding("DD201", Severity.ERROR, uv)], FACTS)[0].runnable
    assert not plan([finding("DD201", Severity.ERROR, A)])[0].runnable  # no facts: nothing runs


def test_a_command_runs_as_an_argument_vector_without_a_shell(tmp_path):
    marker = tmp_path / "created"
    # Through a shell this would create the file; as one argument it is a string printed back.
    assert _run((sys.executable, "-c", "import sys; print(sys.argv[1])", f"; touch {marker}")) == 0
    assert _run((sys.executable, "-c", "pass", f"$(touch {marker})")) == 0
    assert not marker.exists()
    assert _run((str(tmp_path / "missing"),)) == 127
