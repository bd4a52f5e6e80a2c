"""Results as data: severities, fixes, findings, the outcome of each check, and the report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class Severity(str, enum.Enum):
    """How bad a finding is. Ordered: OK < INFO < WARNING < ERROR."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


class Area(str, enum.Enum):
    """The part of the machine a finding is about; the terminal view groups by area."""

    SYSTEM = "system"
    PYTHON = "python"
    NVIDIA = "nvidia"
    CUDA = "cuda"
    FRAMEWORKS = "frameworks"
    PACKAGES = "packages"
    ENVIRONMENT = "environment"
    PROFILE = "profile"  # `dldoctor profile` findings (DD7xx); not an area of `check`'s view
    CLUSTER = "cluster"  # `dldoctor check --cluster` findings (DD8xx), in the cluster report


ACTIONS = (
    "install",
    "remove",
    "driver",
    "set",
    "unset",
    "reload-module",
    "rebuild-module",
    "reboot",
    "system-package",
    "service",
    "diagnose",
    "wsl-update",
    "wsl-install",
)


@dataclass(frozen=True)
class Intent:
    """What a fix must achieve, before any installer's words: ``fixes/`` renders and orders it.

    ``install``: ``requirements`` (pinned) from ``index_url``, after removing ``remove_first``;
    ``remove``: the distributions in ``remove_first``; ``manager`` "conda": they are conda
    packages (specs), changed by conda whoever installed the rest; ``driver``: an NVIDIA driver
    ``driver`` or newer; ``set``/``unset``: the environment variable ``variable`` (to ``value``);
    ``reload-module``/``rebuild-module``: the kernel modules in ``names``; ``reboot``;
    ``system-package``: the operating system's packages ``names`` (logical names fixes/ maps to
    the distribution's); ``service``: enable and start the system service ``names[0]``;
    ``diagnose``: run the diagnostic ``value`` (``kernel-log``, ``dldoctor``) with options
    ``names``; ``wsl-update``/``wsl-install``: WSL itself, from the Windows host. An install of a
    GPU build names its ``framework``, the ``cuda`` it is built for and the ``driver`` it needs.
    ``fixes.intents`` renders each for the platform, shell and installer of the judged facts.
    """

    requirements: tuple[str, ...] = ()
    index_url: str | None = None  # a framework's own wheel index (PyTorch's, Paddle's)
    extra_index_url: str | None = None
    remove_first: tuple[str, ...] = ()  # distributions to uninstall before installing
    reinstall: bool = False  # same version, different build (e.g. +cpu → CUDA)
    copies: int = 1  # installed copies of each removed distribution: one uninstall removes one
    action: str = "install"
    framework: str | None = None
    cuda: str | None = None
    driver: str | None = None
    variable: str | None = None
    value: str | None = None
    names: tuple[
        str, ...
    ] = ()  # kernel modules, system packages, a service, a diagnostic's options
    manager: str | None = None  # "conda": requirements/remove_first are conda packages
    # Build from source against what is installed (a torch extension): no build isolation, no
    # cached wheel, the sdist even where a wheel exists.
    build: bool = False
    find_links: str | None = None  # a page of wheel links (PyG's data.pyg.org/whl/torch-X+cuY.html)

    def to_dict(self) -> JSON:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: JSON) -> Intent:
        """An intent read back from a report: strings kept as data (rendering checks them)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("requirements", "remove_first", "names"):  # a string is no list of names
            value = known.get(key)
            known[key] = tuple(str(x) for x in value) if isinstance(value, (list, tuple)) else ()
        known["copies"] = max(1, min(int(known.get("copies") or 1), 16))
        known["reinstall"] = bool(known.get("reinstall", False))
        known["build"] = bool(known.get("build", False))
        for key in (
            "index_url",
            "extra_index_url",
            "framework",
            "cuda",
            "driver",
            "variable",
            "value",
            "manager",
            "find_links",
        ):
            if not isinstance(known.get(key), (str, type(None))):
                known[key] = None
        known["action"] = known.get("action") if known.get("action") in ACTIONS else "install"
        return cls(**known)


@dataclass(frozen=True)
class Fix:
    """A remedy: the explanation kept apart from the commands that carry it out.

    ``automatic`` says whether ``dldoctor fix --apply`` may run the commands (after confirmation);
    a driver install, for instance, never is. Each command is an argument vector (run without a
    shell; shown quoted by ``fixes.commands.shown``), never a shell line.
    """

    summary: str
    commands: tuple[tuple[str, ...], ...] = ()
    automatic: bool = False
    notes: str = ""
    intents: tuple[Intent, ...] = ()  # what the commands achieve, for the plan to merge and order

    def to_dict(self) -> JSON:
        return {
            "summary": self.summary,
            "commands": [list(command) for command in self.commands],
            "automatic": self.automatic,
            "notes": self.notes,
            "intents": [intent.to_dict() for intent in self.intents],
        }

    @classmethod
    def from_dict(cls, data: JSON) -> Fix:
        return cls(
            summary=data["summary"],
            commands=tuple(_argv(c) for c in data.get("commands", ())),
            automatic=bool(data.get("automatic", False)),
            notes=data.get("notes", ""),
            intents=tuple(
                Intent.from_dict(i) for i in data.get("intents", ()) if isinstance(i, dict)
            ),
        )


def _argv(command: Any) -> tuple[str, ...]:
    """An argument vector as written; a shell line (a report of schema 1.0) split as a shell would."""
    if isinstance(command, str):
        import shlex

        try:
            return tuple(shlex.split(command))
        except ValueError:  # unbalanced quotes: keep it whole, to be read (never run)
            return (command,)
    return tuple(str(arg) for arg in command)


@dataclass(frozen=True)
class Finding:
    """One verdict of one check: a stable code, a severity, one line, its evidence, its fixes."""

    code: str
    severity: Severity
    title: str
    area: Area
    evidence: JSON = field(default_factory=dict)
    fixes: tuple[Fix, ...] = ()
    detail: str = ""
    # The findings this one's root cause explains (code, severity, title), folded under it.
    explains: tuple[JSON, ...] = ()

    def to_dict(self) -> JSON:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "area": self.area.value,
            "title": self.title,
            "detail": self.detail,
            "evidence": self.evidence,
            "fixes": [fix.to_dict() for fix in self.fixes],
            "explains": [dict(e) for e in self.explains],
        }

    @classmethod
    def from_dict(cls, data: JSON) -> Finding:
        return cls(
            code=data["code"],
            severity=Severity(data["severity"]),
            title=data["title"],
            area=Area(data["area"]),
            evidence=dict(data.get("evidence", {})),
            fixes=tuple(Fix.from_dict(f) for f in data.get("fixes", ())),
            detail=data.get("detail", ""),
            explains=tuple(dict(e) for e in data.get("explains", ()) if isinstance(e, dict)),
        )


class Status(str, enum.Enum):
    """What happened when a check ran."""

    PASSED = "passed"  # ran, found nothing wrong
    FOUND = "found"  # ran, returned findings
    SKIPPED = "skipped"  # did not apply to this machine (the reason says why)
    NOT_JUDGED = "not_judged"  # a fact it needs is unknown (the reason names it): no verdict
    CRASHED = "crashed"  # raised: a bug in dldoctor, reported rather than fatal


@dataclass(frozen=True)
class CheckOutcome:
    """The result of running one registered check."""

    code: str
    name: str
    status: Status
    findings: tuple[Finding, ...] = ()
    reason: str = ""

    def to_dict(self) -> JSON:
        return {
            "code": self.code,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
        }


def worst(findings: list[Finding] | tuple[Finding, ...]) -> Severity:
    """The highest severity among findings (OK for none)."""
    return max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
