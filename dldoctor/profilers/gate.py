"""``--fail-if``: CI conditions on a profile (``input-bound``, ``data-wait>0.3``, ``gpu-busy<50%``)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dldoctor.profilers.thresholds import VERDICTS


def _data_wait(profile: dict[str, Any]) -> float | None:
    # Imported here: the conditions are parsed before the script starts, the analysis is
    # needed only after it ends (its import is off dldoctor's fixed start-up cost).
    from dldoctor.profilers.analysis import judged_wait

    return judged_wait(profile)


_METRICS: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "data-wait": _data_wait,  # the fraction the verdict used
    "gpu-busy": lambda p: p["gpu"].get("busy_fraction"),
    "gpu-idle": lambda p: p["gpu"].get("idle_fraction"),
}
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_CONDITION = re.compile(r"^\s*([a-z-]+)\s*(>=|<=|>|<)\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$")

SYNTAX = (
    f"a verdict ({', '.join(VERDICTS)}) or METRIC OP VALUE with METRIC one of "
    f"{', '.join(_METRICS)}, OP one of > >= < <=, VALUE a fraction (0.3) or a percentage (30%)"
)


class GateError(ValueError):
    """A condition that does not parse; the message says what is accepted."""


@dataclass(frozen=True)
class Condition:
    text: str
    verdict: str | None = None
    metric: str | None = None
    op: str | None = None
    value: float | None = None

    def evaluate(self, profile: dict[str, Any]) -> dict[str, Any]:
        """``{"condition", "tripped", "detail"}``; an unmeasured metric does not trip."""
        if self.verdict is not None:
            actual = profile["verdict"]["class"]
            return {
                "condition": self.text,
                "tripped": actual == self.verdict,
                "detail": f"verdict {actual}",
            }
        assert self.metric is not None and self.op is not None and self.value is not None
        measured = _METRICS[self.metric](profile)
        if measured is None:
            return {
                "condition": self.text,
                "tripped": False,
                "detail": f"{self.metric} not measured",
            }
        tripped = _OPS[self.op](measured, self.value)
        return {
            "condition": self.text,
            "tripped": tripped,
            "detail": f"{self.metric} = {measured:.3f}",
        }


def parse(text: str) -> Condition:
    cleaned = text.strip().lower()
    if cleaned in VERDICTS:
        return Condition(text, verdict=cleaned)
    match = _CONDITION.match(cleaned)
    if not match or match.group(1) not in _METRICS:
        raise GateError(f"--fail-if {text!r}: expected {SYNTAX}")
    value = float(match.group(3)) / (100 if match.group(4) else 1)
    if not 0 <= value <= 1:
        raise GateError(f"--fail-if {text!r}: the value must be between 0 and 1 (or 0 % and 100 %)")
    return Condition(text, metric=match.group(1), op=match.group(2), value=value)
