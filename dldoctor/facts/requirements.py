"""What `pip check` would say: installed distributions whose requirements are not met."""

from __future__ import annotations

import re
from typing import Any

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from dldoctor.facts.queries import canonical

JSON = dict[str, Any]

# `...; extra == "test"` (an and-chain naming an extra) never applies with no extra requested.
# Most Requires-Dist lines of a large environment look like this; skipping them before the
# full parse keeps `dldoctor check` fast. Anything with "or" gets the full evaluation.
_EXTRA_ONLY = re.compile(r";.*\bextra\s*==")
_OR = re.compile(r"\bor\b")


def _installed(packages: JSON) -> dict[str, JSON]:
    """Canonical name → the copy that imports (the first found on sys.path)."""
    found: dict[str, JSON] = {}
    for dist in packages.get("distributions") or []:
        if isinstance(dist.get("name"), str):
            found.setdefault(canonical(dist["name"]), dist)
    return found


def _entry(
    dist: JSON, requirement: str, installed: str | None, problem: str, detail: str | None
) -> JSON:
    return {
        "distribution": dist["name"],
        "version": dist.get("version"),
        "requirement": requirement,
        "installed": installed,
        "problem": problem,
        "detail": detail,
    }


def _applies(req: Requirement, marker_env: dict[str, str]) -> bool:
    """Whether the marker holds for the target interpreter, with no extra requested."""
    if req.marker is None:
        return True
    return bool(req.marker.evaluate({**marker_env, "extra": ""}))


def _check(
    dist: JSON, text: str, installed: dict[str, JSON], marker_env: dict[str, str]
) -> JSON | None:
    if _EXTRA_ONLY.search(text) and not _OR.search(text.partition(";")[2]):
        return None
    try:
        req = Requirement(text)
    except Exception as exc:  # unparsable requirement
        return _entry(dist, text, None, "invalid", f"{type(exc).__name__}: {exc}")
    try:
        if not _applies(req, marker_env):
            return None
    except UndefinedEnvironmentName:  # the marker asks a fact that is unknown: cannot judge
        return None
    except Exception as exc:  # a marker that cannot be evaluated
        return _entry(dist, text, None, "invalid", f"{type(exc).__name__}: {exc}")
    other = installed.get(canonical(req.name))
    if other is None:
        return _entry(dist, text, None, "missing", None)
    version = other.get("version")
    if not req.specifier or version is None:  # None: the installed version is unknown
        return None
    try:
        parsed = Version(str(version))
    except InvalidVersion:  # a legacy version string no specifier can match
        detail = f"installed version {version!r} is not PEP 440"
        return _entry(dist, text, version, "version", detail)
    if req.specifier.contains(parsed, prereleases=True):
        return None
    return _entry(dist, text, version, "version", None)


def unsatisfied(packages: JSON, marker_env: dict[str, str]) -> list[JSON]:
    """Each unmet Requires-Dist of each installed distribution, as `pip check` reports them.

    Markers are evaluated for the interpreter described by ``marker_env`` (not this one), with no
    extra requested, so requirements that only come with an extra are skipped. Pre-releases
    satisfy a specifier, as pip check allows. A requirement that cannot be parsed is an entry
    with problem "invalid", never an exception.
    """
    installed = _installed(packages)
    problems = []
    for dist in installed.values():
        for text in dist.get("requires") or []:
            problem = _check(dist, text, installed, marker_env)
            if problem is not None:
                problems.append(problem)
    return problems
