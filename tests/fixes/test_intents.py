"""Each intent kind rendered for the platform, shell and installer: golden, hostile, by hand, planned."""

from __future__ import annotations

import jsonschema
import pytest

from dldoctor.document.schema import report_schema
from dldoctor.fixes.commands import shown
from dldoctor.fixes.intents import by_hand, fix, render, render_all
from dldoctor.fixes.plan import apply, plan
from dldoctor.model import ACTIONS, Area, Finding, Fix, Intent, Severity
from tests.fixes import intent_cases
from tests.fixes.golden_plans import GOLDEN, compare

UBUNTU = intent_cases.PLATFORMS["ubuntu"]
WINDOWS = intent_cases.PLATFORMS["windows"]


def test_every_intent_kind_renders_as_the_golden_file_says_on_each_platform():
    kinds = {i.action for _, intents, _ in intent_cases.CASES for i in intents}
    assert kinds >= set(ACTIONS) - {"install"}  # installs: the golden installer plans
    compare(intent_cases.rendering(), GOLDEN / "intents.txt")


@pytest.mark.parametrize(
    "intent",
    [
        Intent(action="unset", variable="X;rm -rf ~"),
        Intent(action="set", variable="$(id)", value="1"),
        Intent(action="set", variable="LD_LIBRARY_PATH", value="/a\n/b"),
        Intent(action="set", variable="LD_LIBRARY_PATH"),  # no value: nothing to set it to
        Intent(action="reload-module", names=("-r",)),
        Intent(action="reload-module", names=("nvidia; reboot",)),
        Intent(action="reload-module"),
        Intent(action="service", names=("a", "b")),
        Intent(action="system-package", names=("c-compiler", "ruby")),  # one it cannot name
        Intent(action="system-package"),
        Intent(action="diagnose", value="dldoctor", names=("--python", "$(x)")),
        Intent(action="diagnose", value="strace"),
        Intent(("torch --index-url=evil",)),
        Intent(("cudnn>=9",), manager="conda", remove_first=("-y x",)),
    ],
)
def test_a_name_or_value_that_is_not_plain_renders_no_command(intent):
    assert render(intent, UBUNTU) == ()
    assert render_all((intent,), UBUNTU) == ()


def test_one_intent_that_cannot_render_takes_the_whole_fix_with_it():
    rebuild = (Intent(action="rebuild-module", names=("nvidia",)), Intent(action="reboot"))
    assert render_all(rebuild, UBUNTU) == (("sudo", "dkms", "autoinstall"), ("sudo", "reboot"))
    wsl = intent_cases.PLATFORMS["wsl2 ubuntu"]
    assert render_all(rebuild, wsl) == ()  # not `wsl --shutdown` alone: it rebuilds nothing
    driver_then_build = (Intent(action="driver", driver="580.65.06"), Intent(("torch==2.14.*",)))
    fedora = intent_cases.PLATFORMS["fedora"]
    assert render_all(driver_then_build, fedora) == ((*render(driver_then_build[1], fedora),))


def test_the_machines_own_steps_are_by_hand_and_package_changes_are_not():
    for action in ACTIONS:
        assert by_hand(Intent(action=action)) is (action not in ("install", "remove"))
    done = fix("Reboot.", Intent(action="reboot"), facts=UBUNTU, automatic=True)
    assert done.automatic is False and done.commands == (("sudo", "reboot"),)


def test_powershell_commands_are_shown_with_powershell_quoting():
    (command,) = render(Intent(action="set", variable="CUDA_VISIBLE_DEVICES", value="0,1"), WINDOWS)
    assert shown(command) == "Set-Item Env:CUDA_VISIBLE_DEVICES '0,1'"  # bare 0,1 is an array
    assert shown(("Set-Item", "Env:P", "it's")) == "Set-Item Env:P 'it''s'"
    assert shown(("export", "A=it's")) == "export 'A=it'\"'\"'s'"  # POSIX as before


def _finding(code: str, remedy: Fix) -> Finding:
    return Finding(code, Severity.ERROR, remedy.summary, Area.NVIDIA, fixes=(remedy,))


def test_a_plan_keeps_by_hand_steps_out_of_apply():
    unset = Intent(action="unset", variable="CUDA_VISIBLE_DEVICES")
    steps = plan(
        [
            _finding("DD401", fix("Unset it.", unset, facts=UBUNTU)),
            _finding("DD403", fix("Unset it too.", unset, facts=UBUNTU)),  # the same command
            _finding("DD102", fix("Reboot.", Intent(action="reboot"), facts=UBUNTU)),
        ],
        UBUNTU,
    )
    assert [(s.codes, s.commands) for s in steps] == [
        (("DD401", "DD403"), (("unset", "CUDA_VISIBLE_DEVICES"),)),
        (("DD102",), (("sudo", "reboot"),)),
    ]
    assert not any(s.runnable for s in steps)
    ran: list = []
    assert apply(steps, echo=lambda _: None, run=lambda c: ran.append(c) or 0) == 0
    assert ran == []


def test_a_fix_mixing_conda_removal_and_pip_install_is_planned_as_removal_then_install():
    facts = intent_cases.ENVIRONMENTS["conda env"]
    remedy = fix(
        "Drop conda's record, reinstall with pip.",
        Intent(action="remove", remove_first=("pytorch",), manager="conda"),
        Intent(("torch==2.8.0",), reinstall=True),
        facts=facts,
        automatic=False,
    )
    steps = plan([_finding("DD304", remedy)], facts)
    assert [s.kind for s in steps] == ["remove", "install"]
    prefix = "/opt/conda/envs/train"
    assert steps[0].commands == (
        ("conda", "remove", "--prefix", prefix, "--force", "-y", "pytorch"),
    )
    assert steps[1].commands[0][-3:] == ("install", "--force-reinstall", "torch==2.8.0")


def test_new_intent_kinds_round_trip_through_a_report_and_its_schema():
    intents = (
        Intent(action="reload-module", names=("nvidia_uvm",)),
        Intent(("cudnn>=9.1,<10",), manager="conda"),
        Intent(action="diagnose", value="kernel-errors"),
    )
    remedy = fix("Do it.", *intents, facts=UBUNTU)
    data = remedy.to_dict()
    schema = report_schema()
    jsonschema.validate(data, {**schema["$defs"]["fix"], "$defs": schema["$defs"]})
    assert Fix.from_dict(data) == remedy
    data["intents"][0]["names"] = "nvidia_uvm"  # a string where a list belongs: not re-split
    assert Fix.from_dict(data).intents[0].names == ()
