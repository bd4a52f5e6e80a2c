"""DD514 (a Python too old to examine) at, below and above the gatherer's oldest Python, and
DD610 (a framework that imported but computed nothing) for each way a smoke run can end."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks import interpreter, runtime_health
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.facts.bootstrap import MIN_PYTHON
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import around
from tests.checks.scenarios import make_facts
from tests.checks.test_runtime import TORCH_CU121, record, runtime

MATRIX = load()
OLDEST = ".".join(map(str, MIN_PYTHON))


@pytest.mark.parametrize("version", [*around(OLDEST), "2.7.18", "3.13.0", f"{OLDEST}.0"])
def test_dd514_judges_the_pythons_below_the_gatherers_oldest(version):
    facts = make_facts({"python": {"version": version, "command": "python3.5"}})
    verdicts = interpreter.python_too_old_to_examine(facts, MATRIX)
    too_old = tuple(int(p) for p in version.split(".")[:2]) < MIN_PYTHON
    assert [v.severity for v in verdicts] == ([Severity.ERROR] if too_old else [])
    for verdict in verdicts:
        assert verdict.title == (  # what the user reads: nothing inside it was looked at
            f"Python {version} at python3.5 is too old for dldoctor's gatherer (needs {OLDEST}+): "
            "its packages and frameworks were not examined"
        )
        assert verdict.evidence["python"] == version and verdict.evidence["minimum"] == OLDEST
        assert verdict.fixes[0].summary == (
            f"Create an environment with Python {OLDEST} or newer for your framework and judge "
            "that one with `dldoctor check --python PATH`."
        )


@pytest.mark.parametrize(
    ("python", "where"),
    [
        ({"command": "py27", "executable": "/usr/bin/python2"}, "py27"),
        ({"command": None, "executable": "/usr/bin/python2"}, "/usr/bin/python2"),
        ({"command": None, "executable": None}, "this interpreter"),
    ],
)
def test_dd514_names_the_interpreter_as_it_was_given(python, where):
    facts = make_facts({"python": {"version": "2.7.18", **python, "errors": {"x": "y"}}})
    (verdict,) = interpreter.python_too_old_to_examine(facts, MATRIX)
    assert f" at {where} is too old" in verdict.title
    assert verdict.evidence["errors"] == {"x": "y"}


def test_dd514_an_unreadable_version_judges_nothing():
    facts = make_facts({"python": {"version": "unknown-build"}})
    assert interpreter.python_too_old_to_examine(facts, MATRIX) == []


def smoke(status: str, test: str = "matmul", device: str = "cpu", **extra: Any) -> dict[str, Any]:
    return {"test": test, "device": device, "status": status, **extra}


def judge(**fields: Any) -> list:
    facts = make_facts(TORCH_CU121, runtime(torch=record(**fields)))
    return runtime_health.framework_computed_nothing(facts, MATRIX)


@pytest.mark.parametrize("status", ["pass", "fail", "crash", "timeout"])
def test_dd610_any_test_that_ran_is_something_computed(status):
    assert judge(smoke=[smoke("skip", detail="no GPU"), smoke(status, device="cuda:0")]) == []


def test_dd610_every_test_skipped_warns_and_quotes_why():
    (verdict,) = judge(smoke=[smoke("skip", detail="no GPU"), smoke("skip", "conv", "cuda:0")])
    assert verdict.severity is Severity.WARNING
    assert verdict.title == (
        "PyTorch 2.5.1+cu121 imports, but every smoke test was skipped: nothing was computed"
    )
    assert verdict.evidence["framework"] == "torch"
    assert verdict.evidence["errors"] == [
        "matmul on cpu: skipped, no GPU",
        "conv on cuda:0: skipped, None",
    ]
    assert verdict.evidence["devices"] == [{"id": "cpu", "kind": "cpu"}]


def test_dd610_skipped_with_a_fact_that_raised_is_an_error():
    (verdict,) = judge(smoke=[smoke("skip", detail="x")], info_errors={"devices": "boom"})
    assert verdict.severity is Severity.ERROR
    assert verdict.evidence["errors"][0] == "devices: boom"


def test_dd610_no_test_at_all_is_an_error_naming_the_first_cause():
    error = {"type": "RuntimeError", "message": "listing devices failed\nsecond line"}
    (verdict,) = judge(smoke=[], probe_error=error, info_errors={"devices": "raised"})
    assert verdict.severity is Severity.ERROR
    assert verdict.title == (
        "PyTorch 2.5.1+cu121 imports, but no smoke test could run on any device: devices: raised"
    )
    assert verdict.evidence["errors"] == [
        "devices: raised",
        "probe: RuntimeError: listing devices failed\nsecond line",
    ]
    (bare,) = judge(smoke=[])
    assert bare.title.endswith("no smoke test could run on any device")
    assert bare.evidence["errors"] == []


def test_dd610_quotes_at_most_twelve_causes():
    (verdict,) = judge(smoke=[smoke("skip", f"t{i}", detail=str(i)) for i in range(20)])
    assert len(verdict.evidence["errors"]) == 12
    assert verdict.evidence["errors"][-1] == "t11 on cpu: skipped, 11"


def test_dd610_a_deployment_chain_is_not_the_framework_computing():
    chain = smoke("pass", "onnx-export", chain="torch->onnx")
    (verdict,) = judge(smoke=[chain, smoke("skip", detail="no GPU")])
    assert verdict.severity is Severity.WARNING


@pytest.mark.parametrize("status", ["crash", "timeout", "skip"])
def test_dd610_leaves_a_probe_that_did_not_finish_to_the_others(status):
    assert judge(status=status, smoke=[]) == []


def test_dd610_a_framework_that_did_not_import_is_not_judged_here():
    assert judge(smoke=[], **{"import": {"module": "torch", "ok": False}}) == []


def test_dd610_unknown_smoke_is_unjudged_not_none_ran():
    (verdict,) = judge(smoke=None)
    assert isinstance(verdict, Unjudged)
    assert (verdict.what, verdict.path) == ("PyTorch", "runtime.frameworks.torch.smoke")


def test_dd610_without_runtime_facts_nothing_applies():
    with pytest.raises(NotApplicable):
        runtime_health.framework_computed_nothing(make_facts(TORCH_CU121), MATRIX)


def test_dd610_judges_every_framework_whatever_the_ones_before_it_were():
    """One that ran a test, one that did not import and one with unknown smoke tests come first:
    the last, which computed nothing, is still judged."""
    records = {
        "torch": record(smoke=[smoke("pass")]),
        "tensorflow": record(**{"import": {"module": "tensorflow", "ok": False}}, smoke=[]),
        "paddle": record(smoke=None),
        "jax": record(smoke=[smoke("skip", detail="no GPU")]),
    }
    verdicts = runtime_health.framework_computed_nothing(
        make_facts(TORCH_CU121, runtime(**records)), MATRIX
    )
    assert [getattr(v, "what", None) for v in verdicts] == ["PaddlePaddle", None]
    assert verdicts[1].evidence["framework"] == "jax"
