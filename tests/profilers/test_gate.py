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
