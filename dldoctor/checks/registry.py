"""The check registry: each check is a pure function of Facts and the matrix, registered by code."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from dldoctor.facts.known import Unknown
from dldoctor.facts.model import Facts
from dldoctor.model import Area, CheckOutcome, Finding, Fix, Severity, Status

if TYPE_CHECKING:
    from dldoctor.matrix import Matrix

_CODE = re.compile(r"^DD\d{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Verdict:
    """What a check returns for one problem; the registry adds the check's code and area."""

    severity: Severity
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fixes: tuple[Fix, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class Unjudged:
    """Returned by a check, beside its verdicts, for one item it could not judge: a fact unknown."""

    what: str  # the item: "torch", "GPU 0"
    path: str  # the unknown fact: "packages.frameworks.torch.build.cuda"

    def __str__(self) -> str:
        return f"{self.what} ({self.path} is unknown)"


class NotApplicable(Exception):
    """Raised by a check whose preconditions are absent: becomes a SKIPPED outcome with reason."""


CheckFn = Callable[[Facts, "Matrix"], "Sequence[Verdict | Unjudged]"]


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    summary: str
    area: Area
    fn: CheckFn

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip()

    def run(self, facts: Facts, matrix: Matrix) -> CheckOutcome:
        try:
            results = self.fn(facts, matrix)
        except NotApplicable as why:
            return CheckOutcome(self.code, self.name, Status.SKIPPED, reason=str(why))
        except (
            Unknown
        ) as unknown:  # an input is unknown: say what could not be judged, claim nothing
            reason = f"not judged: {unknown}"
            return CheckOutcome(self.code, self.name, Status.NOT_JUDGED, reason=reason)
        except Exception as exc:  # a bug in a check must never take the doctor down
            reason = f"{type(exc).__name__}: {exc}"
            return CheckOutcome(self.code, self.name, Status.CRASHED, reason=reason)
        findings = tuple(
            Finding(self.code, v.severity, v.title, self.area, v.evidence, v.fixes, v.detail)
            for v in results
            if isinstance(v, Verdict)
        )
        unjudged = [str(u) for u in results if isinstance(u, Unjudged)]
        reason = f"not judged: {'; '.join(unjudged)}" if unjudged else ""
        if findings:
            return CheckOutcome(self.code, self.name, Status.FOUND, findings, reason=reason)
        status = Status.NOT_JUDGED if unjudged else Status.PASSED
        return CheckOutcome(self.code, self.name, status, reason=reason)


_REGISTRY: dict[str, Check] = {}


def check(code: str, name: str, summary: str, area: Area) -> Callable[[CheckFn], CheckFn]:
    """Register a check under a stable code (``DD101``) and kebab-case name; duplicates refused."""
    if not _CODE.match(code):
        raise ValueError(f"check code {code!r} is not of the form DD123")
    if not _NAME.match(name):
        raise ValueError(f"check name {name!r} is not kebab-case")

    def register(fn: CheckFn) -> CheckFn:
        for other in _REGISTRY.values():
            if other.code == code or other.name == name:
                raise ValueError(f"check {code} {name} collides with {other.code} {other.name}")
        _REGISTRY[code] = Check(code, name, summary, area, fn)
        return fn

    return register


def all_checks() -> list[Check]:
    """Every registered check, ordered by code."""
    import dldoctor.checks  # noqa: F401  (importing the package registers every check module)

    return [_REGISTRY[code] for code in sorted(_REGISTRY)]


def run_checks(facts: Facts, matrix: Matrix) -> list[CheckOutcome]:
    return [c.run(facts, matrix) for c in all_checks()]
