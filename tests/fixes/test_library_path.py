"""LD_LIBRARY_PATH set again without the directory that shadows a framework's own libraries."""

from __future__ import annotations

import pytest

from dldoctor.fixes.commands import shown
from dldoctor.fixes.library_path import render, shadowing_directory, without_directory
from dldoctor.model import Intent
from tests.checks.scenarios import make_facts

SHADOW = "/usr/local/cuda-11.8/lib64"


def env(value: object) -> object:
    return make_facts({"env": {"variables": {"LD_LIBRARY_PATH": value}}})


@pytest.mark.parametrize(
    ("value", "left"),
    [
        (f"{SHADOW}:/opt/lib", "/opt/lib"),
        (f"/opt/lib:{SHADOW}", "/opt/lib"),
        (f"/a:{SHADOW}:/b", "/a:/b"),
        (f"/a:{SHADOW}/:/b", "/a:/b"),  # the same directory spelled with a trailing slash
        ("/a:/usr/local/cuda-11.8/./lib64:/b", "/a:/b"),
        (f"/a::{SHADOW}::/b", "/a:/b"),  # empty entries dropped (an empty one means ".")
        (f"{SHADOW}:/a:{SHADOW}", "/a"),  # every occurrence
    ],
)
def test_the_variable_is_set_to_what_is_left_in_order(value, left):
    intent = without_directory(env(value), SHADOW)
    assert intent == Intent(action="set", variable="LD_LIBRARY_PATH", value=left)
    assert render(intent, env(value)) == (("export", f"LD_LIBRARY_PATH={left}"),)


@pytest.mark.parametrize("value", [SHADOW, f"{SHADOW}:", f":{SHADOW}/", f"{SHADOW}:{SHADOW}"])
def test_nothing_left_unsets_it(value):
    intent = without_directory(env(value), SHADOW)
    assert intent == Intent(action="unset", variable="LD_LIBRARY_PATH")
    assert render(intent, env(value)) == (("unset", "LD_LIBRARY_PATH"),)


def test_the_directory_given_unnormalised_still_matches():
    assert without_directory(env("/a:/usr/lib/x86_64-linux-gnu"), "/usr/lib/x86_64-linux-gnu/") == (
        Intent(action="set", variable="LD_LIBRARY_PATH", value="/a")
    )


@pytest.mark.parametrize(
    "value",
    [
        "/opt/lib",  # it does not hold the directory (the loader found it elsewhere)
        "/usr/local/cuda-11.8/lib",  # a prefix of it is another directory
        "/usr/local/cuda-11.8/lib64/stubs",
        "",
        None,  # withheld from the report: its value is unknown
        ["/usr/local/cuda-11.8/lib64"],  # not a string (a hostile report)
    ],
)
def test_no_intent_when_the_value_is_unknown_or_lacks_the_directory(value):
    assert without_directory(env(value), SHADOW) is None


def test_no_intent_when_the_variable_or_the_variables_are_absent():
    assert without_directory(make_facts(), SHADOW) is None
    assert without_directory(make_facts({"env": {"variables": None}}), SHADOW) is None


@pytest.mark.parametrize(
    "intent",
    [
        Intent(action="set", variable="LD_LIBRARY_PATH"),  # no value: nothing to set
        Intent(action="set", value="/a"),  # no variable
        Intent(action="unset"),
        Intent(action="install", variable="LD_LIBRARY_PATH", value="/a"),
    ],
)
def test_an_incomplete_intent_renders_nothing(intent):
    assert render(intent, make_facts()) == ()


def test_set_to_an_empty_value_is_still_a_value():
    intent = Intent(action="set", variable="LD_LIBRARY_PATH", value="")
    assert render(intent, make_facts()) == (("export", "LD_LIBRARY_PATH="),)


def test_a_value_read_from_facts_with_a_control_character_is_never_a_command():
    facts = env(f"/a\nrm -rf ~:{SHADOW}:/b\x1b[2J")
    fix = shadowing_directory(facts, SHADOW, [f"{SHADOW}/libcudnn.so.8"], "torch", None)
    assert fix.intents == (
        Intent(action="set", variable="LD_LIBRARY_PATH", value="/a\nrm -rf ~:/b\x1b[2J"),
    )
    assert fix.commands == ()  # the summary still says which directory to take out


def test_the_fix_for_one_library_names_it_and_the_frameworks_own_copy():
    facts = env(f"{SHADOW}:/opt/lib")
    fix = shadowing_directory(
        facts,
        SHADOW,
        [f"{SHADOW}/libcudnn.so.8", f"{SHADOW}/libcudnn.so.8"],
        "torch",
        "nvidia-cudnn-cu12 9.1.0",
    )
    assert fix.summary == (
        f"Take {SHADOW} out of LD_LIBRARY_PATH: the dynamic loader searches it before torch's own "
        "library path, so libcudnn.so.8 is loaded from there instead of the copy torch installs "
        "(nvidia-cudnn-cu12 9.1.0)."
    )
    assert [shown(c) for c in fix.commands] == ["export LD_LIBRARY_PATH=/opt/lib"]
    assert fix.intents == (Intent(action="set", variable="LD_LIBRARY_PATH", value="/opt/lib"),)
    assert not fix.automatic  # a shell builtin for a person: fix --apply never runs it
    assert fix.notes.startswith("Where it is set: your shell profile, a module file,")
    assert fix.notes.endswith("Set it for this shell as shown, then remove it there.")


def test_the_fix_for_one_library_without_a_known_own_copy():
    fix = shadowing_directory(env(SHADOW), SHADOW, [f"{SHADOW}/libcublas.so.11"], "jax", None)
    assert fix.summary.endswith(
        "so libcublas.so.11 is loaded from there instead of the copy jax installs."
    )
    assert [shown(c) for c in fix.commands] == ["unset LD_LIBRARY_PATH"]


def test_the_fix_for_several_libraries_lists_each_once_in_order():
    loaded = [f"{SHADOW}/libcublas.so.11", f"{SHADOW}/libcudnn.so.8", f"{SHADOW}/libcublas.so.11"]
    fix = shadowing_directory(env(SHADOW), SHADOW, loaded, "tensorflow", "ignored")
    assert fix.summary.endswith(
        "so libcublas.so.11, libcudnn.so.8 are loaded from there instead of the copies "
        "tensorflow installs."
    )


def test_without_a_known_value_the_fix_says_it_and_runs_nothing():
    fix = shadowing_directory(make_facts(), SHADOW, [f"{SHADOW}/libcudnn.so.8"], "torch", None)
    assert fix.summary.startswith(f"Take {SHADOW} out of LD_LIBRARY_PATH")
    assert fix.commands == () and fix.intents == ()
    assert fix.notes.startswith("Where it is set:")
