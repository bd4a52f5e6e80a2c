"""A plan, not a list: one driver step first, removals, then installs; --apply re-checks the driver."""

from __future__ import annotations

import json
from pathlib import Path

from dldoctor.checks.registry import run_checks
from dldoctor.facts.host import Host
from dldoctor.facts.model import Facts
from dldoctor.fixes.commands import shown
from dldoctor.fixes.driver_now import loaded_driver
from dldoctor.fixes.plan import DRIVER, INSTALL, REMOVE, apply, plan
from tests.fakes.fake_nvml import load_fake

DATA = Path(__file__).resolve().parent.parent / "data" / "facts"


def facts_of(name: str, **python: str) -> Facts:
    doc = json.loads((DATA / f"{name}.json").read_text())
    doc["python"].update(python)
    return Facts.from_dict(doc)


def findings(facts: Facts, matrix) -> list:
    found = [f for o in run_checks(facts, matrix) for f in o.findings]
    return sorted(found, key=lambda f: -f.severity.rank)


def test_old_driver_gets_one_driver_step_first_to_the_highest_minimum(matrix):
    steps = plan(findings(facts_of("driver470_cpu_stack"), matrix), facts_of("driver470_cpu_stack"))
    kinds = [s.kind for s in steps]
    assert kinds.count(DRIVER) == 1 and kinds[0] == DRIVER
    # Removals before installs, and nothing else between them.
    assert kinds == sorted(kinds, key=[DRIVER, REMOVE, INSTALL, "other"].index)
    # torch 2.13 and paddle 3.3's lowest CUDA builds are 12.6 (560.28.03); TensorFlow, jax and
    # ONNX Runtime run on CUDA 12's first driver (525.60.13): the one upgrade is the highest.
    assert steps[0].fix.summary.startswith("Install the NVIDIA driver 560.28.03 or newer")
    assert sum("driver" in s.fix.summary.lower() for s in steps) == 1
    for number, step in enumerate(steps, 1):
        if step.kind in (REMOVE, INSTALL):
            assert step.needs_driver in ("525.60.13", "560.28.03")
            assert 1 in step.after and all(a < number for a in step.after)
    tf = next(s for s in steps if s.kind == INSTALL and "tensorflow" in shown(s.commands[0]))
    removal = next(s for s in steps if s.kind == REMOVE and "tensorflow-cpu" in s.commands[0])
    assert steps.index(removal) + 1 in tf.after


def test_a_driver_new_enough_needs_no_driver_step(matrix):
    facts = facts_of("h100_cpu_stack")
    steps = plan(findings(facts, matrix), facts)
    assert DRIVER not in [s.kind for s in steps]
    assert {s.needs_driver for s in steps if s.kind == INSTALL} >= {"580.65.06"}  # still re-checked


def test_apply_refuses_gpu_builds_while_the_driver_is_still_too_old(matrix):
    facts = facts_of(
        "driver470_cpu_stack", command="/work/venv/bin/python", executable="/work/venv/bin/python"
    )
    steps = plan(findings(facts, matrix), facts)
    assert any(s.runnable for s in steps)
    ran: list[tuple[str, ...]] = []
    said: list[str] = []
    host = Host(nvml=load_fake("driver470"))  # the driver NVML reports now: still 470
    status = apply(steps, said.append, lambda c: ran.append(c) or 0, lambda: loaded_driver(host))
    assert status == 1
    assert ran == []  # not even the removals that make way for the GPU builds
    assert any(
        "needs NVIDIA driver 525.60.13 or newer, and driver 470.82.01 is loaded" in s for s in said
    )


def test_apply_runs_them_once_the_driver_is_new_enough(matrix):
    facts = facts_of(
        "driver470_cpu_stack", command="/work/venv/bin/python", executable="/work/venv/bin/python"
    )
    steps = plan(findings(facts, matrix), facts)
    ran: list[tuple[str, ...]] = []

    def run(command: tuple[str, ...]) -> int:
        ran.append(command)
        return 0

    host = Host(nvml=load_fake("h100"))  # upgraded since the report: NVML says 580
    assert loaded_driver(host) == "580.65.06"
    assert apply(steps, lambda _: None, run, lambda: loaded_driver(host)) == 0
    assert [c[3] for c in ran[:2]] == ["uninstall", "uninstall"]  # removals first
    assert "install" in ran[-1]


def test_apply_refuses_when_the_driver_cannot_be_read(matrix):
    facts = facts_of(
        "driver470_cpu_stack", command="/work/venv/bin/python", executable="/work/venv/bin/python"
    )
    steps = plan(findings(facts, matrix), facts)
    said: list[str] = []
    host = Host(
        root=Path("/nonexistent-root"), nvml=load_fake("h100", init_error="LibraryNotFound")
    )
    assert apply(steps, said.append, lambda c: 0, lambda: loaded_driver(host)) == 1
    assert any("the loaded driver cannot be read" in s for s in said)
