"""The report of one run: facts, the outcome of every check, and the exit code they imply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dldoctor import __version__
from dldoctor.diagnosis import Diagnosis, diagnose
from dldoctor.facts.model import Facts
from dldoctor.model import CheckOutcome, Finding, Severity, Status

# 1.1: a fix's commands are argument vectors, not shell lines.
# 1.2: unknown facts are null, "there is none" is false (dldoctor/facts/known.py).
# 1.3: runtime records say which CUDA libraries loaded when (key, SONAME), the versions each
#      framework reports built vs at run time, failed loads, and why a device is unavailable;
#      Windows facts (system.windows, cuda.dll_search, a GPU's driver_model), a Windows probe
#      child's exception/peak memory; no MIG/ECC, no container runtime, no jaxlib are false.
#      Extensions (packages.extensions), the build tools (cuda.build_tools), Python headers.
SCHEMA_VERSION = "1.3"

EXIT_OK = 0  # healthy (warnings allowed unless --strict)
EXIT_FOUND = 1  # at least one error (or warning, under --strict)
EXIT_INTERNAL = 2  # usage error, or dldoctor itself failed (a check crashed): results incomplete


@dataclass(frozen=True)
class Report:
    command: str
    created: str  # ISO 8601, UTC
    duration_s: float
    facts: Facts
    outcomes: tuple[CheckOutcome, ...]
    redacted: bool = False

    @property
    def diagnosis(self) -> Diagnosis:
        """One finding per root cause, the primary diagnosis first."""
        return diagnose([f for o in self.outcomes for f in o.findings])

    @property
    def findings(self) -> list[Finding]:
        return list(self.diagnosis.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def crashed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.status is Status.CRASHED]

    def exit_code(self, strict: bool = False) -> int:
        if self.crashed:
            return EXIT_INTERNAL
        if self.count(Severity.ERROR) or (strict and self.count(Severity.WARNING)):
            return EXIT_FOUND
        return EXIT_OK

    def to_summary(self) -> dict[str, int]:
        return {
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
            "checks_crashed": len(self.crashed),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **envelope(self.command, self.created, self.duration_s, self.redacted),
            "summary": self.to_summary(),
            "diagnosis": self.diagnosis.to_dict(),
            "facts": self.facts.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "checks": [o.to_dict() for o in self.outcomes],
        }


def envelope(
    command: str,
    created: str,
    duration_s: float,
    redacted: bool,
    schema_version: str = SCHEMA_VERSION,
) -> dict[str, Any]:
    """The fields every dldoctor report starts with, whatever command wrote it."""
    return {
        "schema_version": schema_version,
        "dldoctor_version": __version__,
        "command": command,
        "created": created,
        "duration_s": round(duration_s, 3),
        "redacted": redacted,
    }
