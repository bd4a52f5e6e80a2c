"""The plan's rules one at a time: which driver it needs, removals before installs, one install for
several findings, what each step says and carries, and what `--apply` runs and says."""

from __future__ import annotations

import os
import sys

import pytest

from dldoctor.fixes.installers import fix as intent_fix
from dldoctor.fixes.plan import _run, apply, below, newest, plan
from dldoctor.model import Area, Finding, Fix, Intent, Severity
from tests.checks.scenarios import gpu_machine, make_facts

PY = "/env/bin/python"
TORCH = ("torch==2.13.0+cu130",)
INDEX = "https://download.pytorch.org/whl/cu130"
OLD = make_facts(gpu_machine(driver="570.86.15", cuda="12.8"))  # below CUDA 13.0's 580.65.06
NEW = make_facts(gpu_machine(driver="580.82.07", cuda="13.0"))


def finding(code: str, *fixes: Fix, severity: Severity = Severity.ERROR) -> Finding:
    return Finding(code, severity, "t", Area.FRAMEWORKS, fixes=fixes)


def gpu_torch(facts, **extra) -> Fix:
    intent = Intent(TORCH, index_url=INDEX, framework="torch", cuda="13.0", **extra)
    return intent_fix("Install torch's CUDA 13.0 build.", intent, facts)


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["560.28.03", "580.65.06", "525.60.13"], "580.65.06"),
        (["not a version", "525.60.13"], "525.60.13"),  # an unreadable one is left out, not fatal
        ([None, "", "525.60.13"], "525.60.13"),  # unknown ones too
        ([], None),
        ([None], None),
    ],
)
def test_the_newest_driver_of_those_needed(versions, expected):
    assert newest(versions) == expected


@pytest.mark.parametrize(
    ("driver", "needed", "expected"),
    [
        ("570.86.15", "580.65.06", True),
        ("580.65.06", "580.65.06", False),  # at the floor is not below it
        ("580.82.07", "580.65.06", False),
        (None, "580.65.06", None),
        ("570.86.15", None, None),
        ("", "580.65.06", None),
        ("unreadable", "580.65.06", None),
    ],
)
def test_below_a_driver_floor_and_unknown(driver, needed, expected):
    assert below(driver, needed) is expected


def test_an_install_the_loaded_driver_is_too_old_for_gets_a_driver_step_first():
    steps = plan([finding("DD201", gpu_torch(OLD, driver="580.65.06"))], OLD)
    assert [(s.kind, s.codes) for s in steps] == [("driver", ("DD201",)), ("install", ("DD201",))]
    assert steps[0].fix.summary == (
        "Install the NVIDIA driver 580.65.06 or newer (for every build this plan installs), "
        "then reboot."
    )
    assert steps[1].after == (1,) and steps[1].needs_driver == "580.65.06"


def test_no_driver_step_when_the_loaded_driver_is_new_enough_or_unknown():
    for facts in (NEW, make_facts()):  # make_facts(): no driver read
        steps = plan([finding("DD201", gpu_torch(facts, driver="580.65.06"))], facts)
        assert [s.kind for s in steps] == ["install"]


def test_a_driver_asked_for_with_no_build_waiting_is_for_the_builds_installed():
    driver = Fix("Upgrade the driver.", intents=(Intent(action="driver", driver="580.65.06"),))
    (step,) = plan([finding("DD501", driver)], OLD)
    assert step.kind == "driver" and step.codes == ("DD501",)
    assert step.fix.summary == (
        "Install the NVIDIA driver 580.65.06 or newer (for the builds installed), then reboot."
    )


def test_an_install_says_what_and_for_which_cuda_without_the_driver():
    (step,) = plan([finding("DD201", gpu_torch(NEW, driver="580.65.06"))], NEW)
    assert step.fix.summary == "Install torch==2.13.0+cu130, built for CUDA 13.0."
    plain = intent_fix("Install numpy<2.", Intent(("numpy<2",), driver="1"), NEW)
    (step,) = plan([finding("DD507", plain)], NEW)
    assert step.fix.summary == "Install numpy<2."  # no CUDA: no "built for"
    unneeded = intent_fix("Pin numpy below 2.", Intent(("numpy<2",)), NEW)
    (step,) = plan([finding("DD507", unneeded)], NEW)
    assert step.fix.summary == "Pin numpy below 2."  # no driver needed: the finding's own words


def test_removals_come_first_as_their_own_step_with_their_intent_and_commands():
    fix = gpu_torch(NEW, remove_first=("torch", "torchvision"), copies=2, manager="conda")
    removal, install = plan([finding("DD201", fix)], NEW)
    assert removal.kind == "remove" and install.kind == "install"
    assert removal.fix.summary == "Remove torch, torchvision."
    # An install's removals are the installed distributions: the environment's installer
    # removes them (a conda package spec is only for a removal asked as such), once a copy.
    uninstall = (PY, "-m", "pip", "uninstall", "-y", "torch", "torchvision")
    assert removal.commands == removal.fix.commands == (uninstall, uninstall)
    assert removal.fix.intents == (
        Intent(remove_first=("torch", "torchvision"), copies=2, action="remove"),
    )
    assert removal.makes_way_for == TORCH and install.after == (1,)
    # The install itself removes nothing again.
    assert install.fix.intents[0].remove_first == ()
    assert install.commands == install.fix.commands
    assert not any("uninstall" in c for c in install.commands)


def test_a_removal_asked_as_such_keeps_conda_as_its_manager():
    intent = Intent(action="remove", remove_first=("pytorch-mutex",), manager="conda")
    (step,) = plan([finding("DD201", Fix("Remove the pin.", intents=(intent,)))], NEW)
    assert step.fix.intents[0].manager == "conda" and step.fix.intents[0].action == "remove"


def test_one_install_for_two_findings_is_one_step_with_both_codes_after_its_removal():
    first = gpu_torch(NEW, remove_first=("torch",))
    second = gpu_torch(NEW)
    other = intent_fix("Install numpy<2.", Intent(("numpy<2",)), NEW)
    steps = plan([finding("DD201", first), finding("DD507", other), finding("DD503", second)], NEW)
    assert [(s.kind, s.codes) for s in steps] == [
        ("remove", ("DD201",)),
        ("install", ("DD201", "DD503")),
        ("install", ("DD507",)),
    ]


def test_an_intent_without_requirements_installs_nothing():
    empty = Fix("Nothing to install.", intents=(Intent(()),))
    assert plan([finding("DD201", empty)], NEW) == []


def test_a_plan_without_facts_keeps_the_fixes_own_commands_and_runs_nothing():
    fix = Fix(
        "Install torch's CUDA build.",
        ((PY, "-m", "pip", "install", *TORCH),),
        True,
        intents=(Intent(TORCH, remove_first=("torch",), driver="580.65.06"),),
    )
    removal, install = plan([finding("DD201", fix)])
    assert removal.commands == () and install.commands == fix.commands
    assert not removal.runnable and not install.runnable


def test_a_step_for_a_person_is_rendered_from_its_intents_for_this_machine():
    reboot = Fix("Reboot.", intents=(Intent(action="reboot"),))
    (step,) = plan([finding("DD102", reboot)], NEW)
    assert step.kind == "other" and step.commands == (("sudo", "reboot"),)


def test_a_command_an_earlier_step_runs_is_not_repeated():
    shared = (PY, "-m", "pip", "check")
    a = Fix("a", ((PY, "-m", "pip", "install", "numpy<2"), shared), True)
    b = Fix("b", (shared, (PY, "-m", "pip", "install", "scipy")), True)
    first, second = plan([finding("DD507", a), finding("DD508", b)], NEW)
    assert first.commands == a.commands
    assert second.commands == ((PY, "-m", "pip", "install", "scipy"),)


def _driver_step_plan():
    fix = gpu_torch(OLD, driver="580.65.06")
    later = Fix("check", ((PY, "-m", "pip", "check"),), True)
    return plan([finding("DD201", fix), finding("DD507", later)], OLD)


def test_apply_refuses_a_build_the_driver_is_too_old_for_and_runs_the_rest():
    steps = _driver_step_plan()
    said: list[str] = []
    ran: list[tuple[str, ...]] = []
    status = apply(steps, said.append, lambda c: ran.append(c) or 0, lambda: "570.86.15")
    assert status == 1
    assert said[0] == (
        "dldoctor: not running step 2: it needs NVIDIA driver 580.65.06 or newer, and driver "
        "570.86.15 is loaded. Upgrade the driver first."
    )
    assert ran == [(PY, "-m", "pip", "check")]  # the step after it still runs
    assert said[1:] == [f"$ {PY} -m pip check"]


def test_apply_without_a_way_to_read_the_driver_refuses_and_says_so():
    said: list[str] = []
    assert apply(_driver_step_plan(), said.append, lambda _: 0) == 1
    assert said[0].endswith(
        "it needs NVIDIA driver 580.65.06 or newer, and the loaded driver cannot be read. "
        "Upgrade the driver first."
    )


def test_a_command_reports_its_own_exit_status_and_refusals_to_start(tmp_path):
    assert _run((sys.executable, "-c", "import sys; sys.exit(7)")) == 7
    assert _run((sys.executable, "-c", "pass")) == 0
    assert _run((str(tmp_path / "missing"),)) == 127  # not found
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o644)
    assert _run((str(script),)) == 126  # found, not executable


def test_an_install_is_rendered_for_the_judged_environment_not_as_the_fix_spelled_it():
    written = Fix(
        "Install torch's CUDA build.",
        (("uv", "pip", "install", *TORCH),),  # said for another installer
        True,
        intents=(Intent(TORCH, index_url=INDEX),),
    )
    (step,) = plan([finding("DD201", written)], NEW)
    assert step.commands == step.fix.commands
    assert step.commands[0][:4] == (PY, "-m", "pip", "install")
