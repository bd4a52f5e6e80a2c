"""--fail-if conditions: verdicts and thresholds; unmeasured metrics never trip."""

from __future__ import annotations

import pytest

from dldoctor.profilers import gate
from tests.profilers.synthetic import make


@pytest.mark.parametrize(
    ("text", "tripped"),
    [
        ("input-bound", True),
        ("cpu-bound", False),
        ("data-wait>0.3", True),
        ("data-wait > 80%", False),
        ("data-wait>=71.43%", True),
        ("gpu-busy<0.5", True),
        ("gpu-idle<=0.1", False),
    ],
)
def test_conditions(text, tripped):
    assert gate.parse(text).evaluate(make())["tripped"] is tripped


def test_an_unmeasured_gpu_does_not_trip_and_says_so():
    result = gate.parse("gpu-busy<0.5").evaluate(make(gpu_busy=None))
    assert result == {
        "condition": "gpu-busy<0.5",
        "tripped": False,
        "detail": "gpu-busy not measured",
    }


@pytest.mark.parametrize(
    "text", ["", "fast", "speed>3", "data-wait>1.5", "data-wait=0.3", "data-wait>abc"]
)
def test_bad_conditions_are_refused_with_the_syntax(text):
    with pytest.raises(gate.GateError, match=r"expected|between"):
        gate.parse(text)


@pytest.mark.parametrize(
    ("text", "value"), [("data-wait>=0", 0.0), ("data-wait<=1", 1.0), ("gpu-busy<100%", 1.0)]
)
def test_the_bounds_of_a_value_are_accepted_and_a_percentage_is_of_100(text, value):
    condition = gate.parse(text)
    assert (condition.text, condition.value) == (text, value)


def test_a_percentage_is_the_same_condition_as_its_fraction():
    assert gate.parse("gpu-busy<50%").value == gate.parse("gpu-busy<0.5").value == 0.5


@pytest.mark.parametrize("text", ["input-bound", " Input-Bound "])
def test_a_verdict_condition_reports_the_verdict_it_saw(text):
    profile = make()
    result = gate.parse(text).evaluate(profile)
    assert result == {
        "condition": text,
        "tripped": True,
        "detail": f"verdict {profile['verdict']['class']}",
    }


def test_a_metric_condition_reports_the_value_it_judged():
    profile = make(gpu_busy=0.3)
    assert gate.parse("gpu-busy < 40%").evaluate(profile) == {
        "condition": "gpu-busy < 40%",
        "tripped": True,
        "detail": "gpu-busy = 0.300",
    }
