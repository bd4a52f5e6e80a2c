"""One place renders every intent: packages by the installer, the driver, the shell, the machine;
a fix is automatic only when every intent is a package change; half a fix is no fix."""

from __future__ import annotations

import pytest

from dldoctor.fixes import intents
from dldoctor.model import Intent
from tests.checks.scenarios import make_facts

UBUNTU = make_facts()
FEDORA = make_facts({"system": {"os": {"distribution_id": "fedora"}}})
WINDOWS = make_facts({"system": {"os": {"name": "Windows", "distribution_id": None}}})

INSTALL = Intent(("numpy<2",))
REMOVE = Intent((), action="remove", remove_first=("tensorflow-cpu",))
DRIVER = Intent(action="driver", driver="580.65.06")
SET = Intent(action="set", variable="CUDA_HOME", value="/usr/local/cuda-13.0")
UNSET = Intent(action="unset", variable="LD_LIBRARY_PATH")
REBOOT = Intent(action="reboot")


def test_each_kind_goes_to_its_renderer():
    assert intents.render(INSTALL, UBUNTU) == (
        ("/env/bin/python", "-m", "pip", "install", "numpy<2"),
    )
    assert intents.render(REMOVE, UBUNTU) == (
        ("/env/bin/python", "-m", "pip", "uninstall", "-y", "tensorflow-cpu"),
    )
    assert intents.render(DRIVER, UBUNTU) == (
        ("sudo", "ubuntu-drivers", "install"),
        ("sudo", "reboot"),
    )
    assert intents.render(SET, UBUNTU) == (("export", "CUDA_HOME=/usr/local/cuda-13.0"),)
    assert intents.render(UNSET, WINDOWS) == (("Remove-Item", "Env:LD_LIBRARY_PATH"),)
    assert intents.render(REBOOT, UBUNTU) == (("sudo", "reboot"),)


def test_all_or_nothing_except_the_driver():
    assert intents.render_all([REMOVE, INSTALL], UBUNTU) == (
        ("/env/bin/python", "-m", "pip", "uninstall", "-y", "tensorflow-cpu"),
        ("/env/bin/python", "-m", "pip", "install", "numpy<2"),
    )
    crafted = Intent(("numpy; rm -rf ~",))
    assert intents.render_all([REMOVE, crafted], UBUNTU) == ()  # never half of it
    rebuild = Intent(action="rebuild-module", names=("nvidia",))
    assert intents.render_all([rebuild, REBOOT], WINDOWS) == ()  # no DKMS there: no lone reboot
    # Outside Ubuntu the driver is installed from the words: the rest still renders.
    assert intents.render_all([DRIVER, INSTALL], FEDORA) == (
        ("/env/bin/python", "-m", "pip", "install", "numpy<2"),
    )
    assert intents.render_all([], UBUNTU) == ()


def test_only_package_changes_are_for_fix_apply():
    assert not intents.by_hand(INSTALL)
    assert not intents.by_hand(REMOVE)
    for intent in (DRIVER, SET, UNSET, REBOOT, Intent(action="system-package", names=("ninja",))):
        assert intents.by_hand(intent)


def test_a_fix_is_automatic_only_when_asked_and_every_intent_is_a_package_change():
    assert intents.fix("s", INSTALL, facts=UBUNTU).automatic
    assert intents.fix("s", REMOVE, INSTALL, facts=UBUNTU).automatic
    assert not intents.fix("s", INSTALL, facts=UBUNTU, automatic=False).automatic
    assert not intents.fix("s", INSTALL, SET, facts=UBUNTU).automatic
    assert not intents.fix("s", DRIVER, facts=UBUNTU).automatic


def test_a_fix_carries_its_summary_commands_and_intents():
    fix = intents.fix("Install NumPy 1.x.", REMOVE, INSTALL, facts=UBUNTU)
    assert fix.summary == "Install NumPy 1.x."
    assert fix.intents == (REMOVE, INSTALL)
    assert fix.commands == intents.render_all([REMOVE, INSTALL], UBUNTU)


def test_notes_each_once_in_order_then_the_fixs_own():
    shell_note = intents.fix("s", SET, facts=UBUNTU).notes
    assert shell_note.startswith("This changes the current shell only: also change CUDA_HOME")
    twice = intents.fix("s", SET, SET, facts=UBUNTU, notes="Then rebuild.")
    assert twice.notes == f"{shell_note} Then rebuild."
    assert intents.fix("s", INSTALL, facts=UBUNTU, notes="Mine.").notes == "Mine."
    assert intents.fix("s", INSTALL, facts=UBUNTU).notes == ""
    wsl = Intent(action="wsl-update")
    assert intents.fix("s", wsl, facts=UBUNTU).notes == (
        "Run these in Windows PowerShell as administrator, not inside WSL."
    )
    unset = intents.fix("s", UNSET, facts=WINDOWS)
    assert unset.notes.startswith("In PowerShell; in cmd: set LD_LIBRARY_PATH=. To keep it,")


@pytest.mark.parametrize(
    ("value", "directory", "expected"),
    [
        (
            "/a:/usr/local/cuda/lib64:/b",
            "/usr/local/cuda/lib64",
            Intent(action="set", variable="LD_LIBRARY_PATH", value="/a:/b"),
        ),
        (
            "/a:/usr/local/cuda/lib64/",
            "/usr/local/cuda/lib64",
            Intent(action="set", variable="LD_LIBRARY_PATH", value="/a"),
        ),
        (
            "/usr/local/cuda/lib64",
            "/usr/local/cuda/lib64/",
            Intent(action="unset", variable="LD_LIBRARY_PATH"),
        ),
        (
            "::/usr/local/cuda/lib64:",
            "/usr/local/cuda/lib64",
            Intent(action="unset", variable="LD_LIBRARY_PATH"),
        ),
        (  # the loader reads doubled slashes as one
            "/a:/usr//local/cuda//lib64/:/b",
            "/usr/local/cuda/lib64",
            Intent(action="set", variable="LD_LIBRARY_PATH", value="/a:/b"),
        ),
        ("/:/a", "/", Intent(action="set", variable="LD_LIBRARY_PATH", value="/a")),
        ("/a:/b", "/usr/local/cuda/lib64", None),  # not there: nothing to set
        ("/usr/local/cuda/lib64", "/usr/local/cuda", None),  # a parent is another directory
    ],
)
def test_a_search_path_without_a_directory(value, directory, expected):
    facts = make_facts({"env": {"variables": {"LD_LIBRARY_PATH": value}}})
    assert intents.path_without(facts, "LD_LIBRARY_PATH", directory) == expected


def test_a_directory_ending_in_any_letter_is_matched_whole():
    facts = make_facts({"env": {"variables": {"LD_LIBRARY_PATH": "/a:/opt/libX/:/b"}}})
    assert intents.path_without(facts, "LD_LIBRARY_PATH", "/opt/libX") == Intent(
        action="set", variable="LD_LIBRARY_PATH", value="/a:/b"
    )


def test_a_search_path_whose_value_is_unknown():
    assert intents.path_without(make_facts(), "LD_LIBRARY_PATH", "/x") is None
    withheld = make_facts({"env": {"variables": {"LD_LIBRARY_PATH": None}}})
    assert intents.path_without(withheld, "LD_LIBRARY_PATH", "/x") is None
    assert (
        intents.path_without(make_facts({"env": {"variables": None}}), "LD_LIBRARY_PATH", "/x")
        is None
    )
