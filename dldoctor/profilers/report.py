"""The profile report: findings, the ``profile`` section, CI gates, and the exit code they imply.

Exit codes: the script's own non-zero exit code wins (a script killed by signal N gives
128 + N, as a shell reports it); else 1 when a ``--fail-if`` condition holds; else 0. A script
stopped by ``--steps``/``--duration`` counts as having exited 0. 2 is for usage errors and
dldoctor's own failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dldoctor.document.report import envelope
from dldoctor.model import Finding, Severity

SCHEMA_VERSION = "1.1"  # 1.1: a fix's commands are argument vectors, not shell lines
EXIT_OK = 0
EXIT_GATE = 1
EXIT_INTERNAL = 2


@dataclass(frozen=True)
class ProfileReport:
    command: str
    created: str  # ISO 8601, UTC
    duration_s: float
    profile: dict[str, Any]
    findings: tuple[Finding, ...] = ()
    gates: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    redacted: bool = False

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def gate_tripped(self) -> bool:
        return any(g["tripped"] for g in self.gates)

    def exit_code(self) -> int:
        ended = self.profile["exit"]
        code = ended["returncode"]
        if ended.get("error"):
            return EXIT_INTERNAL
        if ended.get("stopped_by") and ended.get("signals_sent"):
            code = 0  # dldoctor had to signal it at the window's end, as asked
        if code is not None and code < 0:
            return 128 - code
        if code:
            return int(code)
        return EXIT_GATE if self.gate_tripped else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            **envelope(self.command, self.created, self.duration_s, self.redacted, SCHEMA_VERSION),
            "summary": {
                "verdict": self.profile["verdict"]["class"],
                "errors": self.count(Severity.ERROR),
                "warnings": self.count(Severity.WARNING),
                "infos": self.count(Severity.INFO),
                "gate_tripped": self.gate_tripped,
                "exit_code": self.exit_code(),
            },
            "findings": [f.to_dict() for f in self.findings],
            "gates": list(self.gates),
            "profile": self.profile,
        }


def build(
    session: Any,
    conditions: list[Any],
    command: str,
    duration_s: float,
    redacted: bool = False,
    tune: Any = None,
) -> ProfileReport:
    """Analyse a finished session (``session.Session``), judge it, evaluate the gates.
    ``tune(profile)``, when given, runs the ``--tune`` trials the judgement includes."""
    from dldoctor.profilers.analysis import analyse
    from dldoctor.profilers.rules import judge

    profile = analyse(session)
    if tune is not None:
        profile["tune"] = tune(profile)
    return ProfileReport(
        command=command,
        created=session.created,
        duration_s=duration_s,
        profile=profile,
        findings=tuple(judge(profile)),
        gates=tuple(c.evaluate(profile) for c in conditions),
        redacted=redacted,
    )
