"""DD301-DD303 at their edges: every copy's version in the title, which clashing distribution is
kept for a GPU machine, none and unknown, and an unmet requirement's evidence."""

from __future__ import annotations

import pytest

from dldoctor.checks import packages
from dldoctor.matrix import load
from tests.checks.scenarios import make_facts

MATRIX = load()


def duplicates(*versions: str | None) -> dict:
    copies = [
        {"version": v, "location": f"/site-{n}/lib/python3.11/site-packages"}
        for n, v in enumerate(versions)
    ]
    return {"packages": {"duplicates": [{"name": "numpy", "copies": copies}]}}


@pytest.mark.parametrize(
    ("versions", "listed"),
    [
        (("1.26.4", "2.4.6"), "1.26.4, 2.4.6"),
        (("2.4.6", "1.26.4"), "1.26.4, 2.4.6"),  # sorted, whatever Python imports
        (("2.4.6", None), "2.4.6, version unknown"),
        (("2.4.6", "2.4.6", "2.4.6"), "2.4.6"),  # one version, said once
    ],
)
def test_dd301_names_every_copys_version(versions, listed):
    (verdict,) = packages.duplicate_distribution(make_facts(duplicates(*versions)), MATRIX)
    assert verdict.title == (
        f"numpy is installed {len(versions)} times ({listed}); Python imports {versions[0]} "
        "from /site-0/lib/python3.11/site-packages"
    )


@pytest.mark.parametrize(
    ("names", "gpu", "kept"),
    [
        (["onnxruntime-gpu", "onnxruntime"], True, "onnxruntime-gpu"),
        (["onnxruntime-gpu", "onnxruntime"], None, "onnxruntime"),  # unknown: the plain one
        (["onnxruntime-gpu", "onnxruntime"], False, "onnxruntime"),
        (["tensorflow", "tensorflow-cpu"], False, "tensorflow-cpu"),
        (["tensorflow", "tensorflow-cpu"], None, "tensorflow"),
        (["opencv-python-headless", "opencv-python"], False, "opencv-python-headless"),
        (["paddlepaddle-gpu"], None, "paddlepaddle-gpu"),  # nothing else to keep
    ],
)
def test_dd302_keeps_the_gpu_flavour_on_a_gpu_machine_else_the_plain_one(names, gpu, kept):
    assert packages._choose(names, gpu) == kept


def test_dd303_evidence_is_the_unmet_requirement_as_read():
    item = {
        "distribution": "rich",
        "version": "15.0.0",
        "requirement": "pygments<3.0.0,>=2.13.0",
        "installed": None,
        "problem": "missing",
    }
    facts = make_facts({"packages": {"unsatisfied": [item]}})
    (verdict,) = packages.unsatisfied_requirements(facts, MATRIX)
    assert verdict.evidence == item
