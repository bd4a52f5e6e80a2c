"""What `pip check` would say: installed distributions whose requirements are not met."""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
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


class Parsed(NamedTuple):
    """The parts of a requirement pip check uses."""

    name: str
    specifier: SpecifierSet
    marker: Marker | None


# The usual shape, `name`, `name>=1,<2` or `name==1.0; python_version < "3.10"`: split by one
# regex, its specifier and marker parsed by packaging (cached: the same ones recur). packaging's
# full parser costs ~60 µs a requirement, the main cost of pip check over 3000 distributions.
# Anything else (extras, URLs, parentheses, odd text) and anything the parts refuse takes the
# full parser, so what is accepted, refused and the error text are exactly packaging's.
_OPERATOR_AND_VERSION = r"(?:[<>=!~]=?=?[ \t]*[^\s,;()\[\]@<>=!~]+)"
_SIMPLE = re.compile(
    r"[ \t]*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*"
    rf"(?P<spec>{_OPERATOR_AND_VERSION}(?:[ \t]*,[ \t]*{_OPERATOR_AND_VERSION})*)?[ \t]*"
    r"(?:;[ \t]*(?P<marker>\S.*?))?[ \t]*"
)


@functools.lru_cache(maxsize=4096)
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)


@functools.lru_cache(maxsize=4096)
def _marker(text: str) -> Marker:
    return Marker(text)


def _full(text: str) -> Parsed:
    req = Requirement(text)
    return Parsed(req.name, req.specifier, req.marker)


@functools.lru_cache(maxsize=1 << 16)
def parse(text: str) -> Parsed:
    """A requirement's name, specifier and marker; raises what packaging's Requirement raises."""
    match = _SIMPLE.fullmatch(text)
    if match is None:
        return _full(text)
    try:
        spec = _specifier(match["spec"] or "")
        marker = _marker(match["marker"]) if match["marker"] else None
    except (InvalidSpecifier, InvalidMarker):
        return _full(text)  # raises with packaging's own message
    return Parsed(match["name"], spec, marker)


class _Judge:
    """One pip check's memo: marker results and parsed versions recur across distributions."""

    def __init__(self, installed: dict[str, JSON], marker_env: dict[str, str]) -> None:
        self.installed = installed
        self.env = {**marker_env, "extra": ""}  # no extra requested
        self.markers: dict[str, bool] = {}
        self.versions: dict[str, Version | None] = {}

    def applies(self, marker: Marker | None) -> bool:
        """Whether the marker holds for the target interpreter (raises as evaluate does)."""
        if marker is None:
            return True
        key = str(marker)
        if key not in self.markers:
            self.markers[key] = bool(marker.evaluate(self.env))
        return self.markers[key]

    def version(self, text: str) -> Version | None:
        if text not in self.versions:
            try:
                self.versions[text] = Version(text)
            except InvalidVersion:
                self.versions[text] = None
        return self.versions[text]

    def check(self, dist: JSON, text: str) -> JSON | None:
        if _EXTRA_ONLY.search(text) and not _OR.search(text.partition(";")[2]):
            return None
        try:
            req = parse(text)
        except Exception as exc:  # unparsable requirement
            return _entry(dist, text, None, "invalid", f"{type(exc).__name__}: {exc}")
        try:
            if not self.applies(req.marker):
                return None
        except UndefinedEnvironmentName:  # the marker asks a fact that is unknown: cannot judge
            return None
        except Exception as exc:  # a marker that cannot be evaluated
            return _entry(dist, text, None, "invalid", f"{type(exc).__name__}: {exc}")
        other = self.installed.get(canonical(req.name))
        if other is None:
            return _entry(dist, text, None, "missing", None)
        version = other.get("version")
        if not req.specifier or version is None:  # None: the installed version is unknown
            return None
        parsed = self.version(str(version))
        if parsed is None:  # a legacy version string no specifier can match
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
    judge = _Judge(installed, marker_env)
    problems = []
    for dist in installed.values():
        for text in dist.get("requires") or []:
            problem = judge.check(dist, text)
            if problem is not None:
                problems.append(problem)
    return problems
