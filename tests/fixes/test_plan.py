"""The fix plan: worst first, a command once, and --apply stopping at the first failure."""

from __future__ import annotations

from dldoctor.fixes.plan import apply, plan
from dldoctor.model import Area, Finding, Fix, Severity

A = Fix("install the CUDA build", ("pip install torch==2.13.0+cu130",), automatic=True)
B = Fix("reboot", ("sudo reboot",))
C = Fix("pin numpy", ("pip install 'numpy<2'", "pip check"), automatic=True)


def finding(code: str, severity: Severity, *fixes: Fix) -> Finding:
    return Finding(code, severity, "t", Area.FRAMEWORKS, fixes=fixes)


def test_same_command_from_two_findings_is_planned_once_and_info_is_left_out():
    steps = plan(
        [
            finding("DD201", Severity.ERROR, A),
            finding("DD503", Severity.ERROR, A, B),
            finding("DD503", Severity.INFO, C),
        ]
    )
    assert [(s.codes, s.commands) for s in steps] == [
        (("DD201",), A.commands),
        (("DD503",), B.commands),
    ]


def test_apply_runs_only_automatic_steps_and_stops_at_the_first_failure():
    ran: list[str] = []
    said: list[str] = []

    def run(command: str) -> int:
        ran.append(command)
        return 1 if "numpy" in command else 0

    steps = plan([finding("DD201", Severity.ERROR, A, B), finding("DD507", Severity.ERROR, C)])
    assert apply(steps, said.append, run) == 1
    assert ran == [
        "pip install torch==2.13.0+cu130",
        "pip install 'numpy<2'",
    ]  # not reboot, not pip check
    assert said[-1].startswith("dldoctor: `pip install 'numpy<2'` exited with 1")


def test_apply_with_everything_succeeding_is_0():
    assert apply(plan([finding("DD201", Severity.ERROR, A)]), lambda _: None, lambda _: 0) == 0
