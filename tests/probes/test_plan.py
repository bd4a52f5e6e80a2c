"""What gets probed, in which child: from the static facts, --framework and Keras's backend."""

from __future__ import annotations

import json

import pytest

from dldoctor.facts.model import Facts
from dldoctor.probes.plan import (
    NICE,
    UnknownFramework,
    keras_backend,
    make_plan,
    niceness,
    normalise,
)


def facts_with(*names: str) -> Facts:
    frameworks = {}
    for name in names:
        key, _, dist = name.partition(":")
        frameworks.setdefault(key, {"distributions": []})["distributions"].append(
            {"name": dist or key, "version": "1.0"}
        )
    return Facts(packages={"frameworks": frameworks})


def test_user_spellings_become_probe_keys_and_unknown_ones_are_refused():
    assert normalise(["PyTorch", "tf", " jax", "torch", "ort", ""]) == (
        "torch",
        "tensorflow",
        "jax",
        "onnxruntime",
    )
    with pytest.raises(UnknownFramework, match="no runtime probe for 'caffe'"):
        normalise(["caffe"])


def test_keras_runs_after_its_backend_in_the_same_child(matrix):
    facts = facts_with("torch", "tensorflow", "keras", "jax")
    plan = make_plan(facts, matrix, None, {"HOME": "/nonexistent"})
    assert plan.groups == (("torch",), ("tensorflow", "keras"), ("jax",))
    with_jax = make_plan(facts, matrix, None, {"KERAS_BACKEND": "jax"})
    assert with_jax.groups == (("torch",), ("tensorflow",), ("jax", "keras"))


def test_keras_gets_its_own_child_when_its_backend_is_not_probed(matrix):
    facts = facts_with("torch", "tensorflow", "keras")
    plan = make_plan(facts, matrix, ("torch", "keras"), {"HOME": "/nonexistent"})
    assert plan.groups == (("torch",), ("keras",))
    numpy = make_plan(facts, matrix, None, {"KERAS_BACKEND": "numpy"})
    assert ("keras",) in numpy.groups


def test_keras_backend_comes_from_the_environment_then_keras_json(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    assert keras_backend({"KERAS_HOME": str(tmp_path)}) == "torch"
    assert keras_backend({"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "JAX"}) == "jax"
    assert keras_backend({"KERAS_HOME": str(tmp_path / "missing")}) == "tensorflow"
    (tmp_path / "keras.json").write_text("{not json")
    assert keras_backend({"KERAS_HOME": str(tmp_path)}) == "tensorflow"


def test_frameworks_without_a_probe_or_not_installed_are_said_so(matrix):
    facts = facts_with("oneflow", "torch")
    plan = make_plan(facts, matrix, ("torch", "jax"), {})
    assert plan.groups == (("torch",),)
    assert plan.not_probed == {
        "oneflow": "no runtime probe for this framework",
        "jax": "not installed in this environment",
    }


def test_installed_companions_are_imported_after_their_framework(matrix):
    facts = facts_with(
        "torch", "torch:torchvision", "tensorflow:tensorflow_cpu", "tensorflow:tf_keras"
    )
    plan = make_plan(facts, matrix, None, {})
    # torchvision is an extension: probed in its own child (probes/extensions.py), not torch's.
    assert plan.companions == {"torch": [], "tensorflow": ["tf_keras"]}


def test_with_more_children_than_cores_only_the_longest_keep_their_priority():
    groups = (("torch",), ("tensorflow", "keras"), ("jax",), ("onnxruntime",))
    assert niceness(groups, 2) == {
        ("torch",): NICE,
        ("tensorflow", "keras"): 0,
        ("jax",): NICE,
        ("onnxruntime",): NICE,
    }
    assert set(niceness(groups, 3).values()) == {0, NICE}
    assert niceness(groups, 3)[("jax",)] == 0  # the second longest, then torch
    assert niceness(groups, 3)[("torch",)] == NICE
    assert set(niceness(groups, 8).values()) == {0}
    assert set(niceness(groups, None).values()) == {0}
