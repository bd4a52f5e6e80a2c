"""Unmet requirements, as `pip check` reports them, judged for a given marker environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dldoctor.facts import interpreter, interpreter_arguments
from dldoctor.facts.requirements import parse as parse_requirement
from dldoctor.facts.requirements import unsatisfied
from dldoctor.matrix import load
from tests.facts.test_interpreter import SOURCE, make_dist

LINUX = {**default_environment(), "sys_platform": "linux", "platform_system": "Linux"}
WINDOWS = {**LINUX, "sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"}


def dist(name: str, version: str | None, *requires: str) -> dict[str, Any]:
    return {"name": name, "version": version, "requires": list(requires)}


def packages(*dists: dict[str, Any]) -> dict[str, Any]:
    return {"distributions": list(dists)}


def test_missing_dependency() -> None:
    found = unsatisfied(packages(dist("torch", "2.5.1", "filelock", "sympy>=1.13")), LINUX)
    assert [(p["requirement"], p["problem"], p["installed"]) for p in found] == [
        ("filelock", "missing", None),
        ("sympy>=1.13", "missing", None),
    ]
    assert found[0]["distribution"] == "torch" and found[0]["version"] == "2.5.1"


def test_wrong_version() -> None:
    found = unsatisfied(
        packages(dist("jax", "0.4.35", "jaxlib<=0.4.35,>=0.4.34"), dist("jaxlib", "0.4.30")),
        LINUX,
    )
    assert found == [
        {
            "distribution": "jax",
            "version": "0.4.35",
            "requirement": "jaxlib<=0.4.35,>=0.4.34",
            "installed": "0.4.30",
            "problem": "version",
            "detail": None,
        }
    ]


def test_satisfied_requirement_and_normalised_names() -> None:
    found = unsatisfied(
        packages(
            dist("a", "1", "Typing_Extensions>=4", "ml.dtypes"),
            dist("typing-extensions", "4.12.2"),
            dist("ml_dtypes", "0.5.0"),
        ),
        LINUX,
    )
    assert found == []


def test_marker_judged_for_the_given_interpreter_not_this_one() -> None:
    pkgs = packages(
        dist("tensorflow", "2.10.0", 'tensorflow-intel==2.10.0; sys_platform == "win32"')
    )
    assert unsatisfied(pkgs, LINUX) == []
    assert [p["problem"] for p in unsatisfied(pkgs, WINDOWS)] == ["missing"]


def test_extra_only_requirement_ignored() -> None:
    pkgs = packages(dist("tensorflow", "2.17.0", 'nvidia-cudnn-cu12>=9; extra == "and-cuda"'))
    assert unsatisfied(pkgs, LINUX) == []


def test_extra_or_another_marker_is_evaluated_in_full() -> None:
    text = 'somelib>=1; extra == "gpu" or sys_platform == "linux"'
    pkgs = packages(dist("tool", "1.0", text))
    assert [p["requirement"] for p in unsatisfied(pkgs, LINUX)] == [text]


def test_prerelease_satisfies_a_specifier() -> None:
    pkgs = packages(dist("a", "1", "b>=2.0"), dist("b", "2.1rc1"))
    assert unsatisfied(pkgs, LINUX) == []


def test_invalid_requirement_and_version_recorded_not_raised() -> None:
    pkgs = packages(
        dist("a", "1", "this is not a requirement", "b>=1", "c"),
        dist("b", "not-a-version"),
        dist("c", None),
    )
    found = unsatisfied(pkgs, LINUX)
    assert [(p["requirement"], p["problem"]) for p in found] == [
        ("this is not a requirement", "invalid"),
        ("b>=1", "version"),
    ]
    assert found[0]["detail"] and "not PEP 440" in found[1]["detail"]


def test_only_the_first_copy_counts() -> None:
    pkgs = packages(
        dist("numpy", "2.1.0"),
        dist("numpy", "1.26.4"),  # shadowed: its version does not satisfy anyone
        dist("torch", "2.5.1", "numpy>=2"),
        dist("torch", "1.0", "missing-thing"),  # shadowed: its requirements are not checked
    )
    assert unsatisfied(pkgs, LINUX) == []


def test_this_venv_matches_pip_check() -> None:
    result = interpreter.gather(**interpreter_arguments(load()))
    found = unsatisfied(result["packages"], result["python"]["marker_environment"])
    said = pip_check({})
    assert said == set() and found == []  # "No broken requirements found."


def test_broken_site_matches_pip_check(tmp_path: Path) -> None:
    make_dist(
        tmp_path,
        "app",
        "1.0",
        requires=[
            "lib>=2",
            "missing-dep",
            'winonly; sys_platform == "win32"',
            'gpu-only; extra == "gpu"',
            "pre>=1.0",
            "Other_Name<3",
        ],
    )
    make_dist(tmp_path, "lib", "1.5")
    make_dist(tmp_path, "pre", "1.1rc1")
    make_dist(tmp_path, "other.name", "3.0")
    env = {"PYTHONPATH": str(tmp_path)}
    said = pip_check(env)
    proc = subprocess.run(
        [sys.executable, "-c", SOURCE, json.dumps(interpreter_arguments(load()))],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(proc.stdout)
    found = unsatisfied(result["packages"], result["python"]["marker_environment"])
    ours = {
        (
            canonicalize_name(p["distribution"]),
            canonicalize_name(Requirement(p["requirement"]).name),
            p["problem"],
        )
        for p in found
    }
    assert said == {
        ("app", "lib", "version"),
        ("app", "missing-dep", "missing"),
        ("app", "other-name", "version"),
    }
    assert ours == said


def pip_check(extra_env: dict[str, str]) -> set[tuple[str, str, str]]:
    """(distribution, required name, problem) for each line `pip check` prints."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "check", "--disable-pip-version-check"],
        env={**os.environ, **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = set()
    for line in proc.stdout.splitlines():
        missing = re.match(r"(\S+) \S+ requires (\S+), which is not installed\.", line)
        wrong = re.match(r"(\S+) \S+ has requirement (\S+?)[<>=!~ ;]", line)
        if missing:
            said.add((canonicalize_name(missing[1]), canonicalize_name(missing[2]), "missing"))
        elif wrong:
            said.add((canonicalize_name(wrong[1]), canonicalize_name(wrong[2]), "version"))
        else:
            assert line == "No broken requirements found.", line
    return said


# The fast path splits the usual shapes itself; these must be accepted, refused and described
# exactly as packaging's Requirement does.
PARSE_CASES = [
    "a",
    "a>=1",
    "a >= 1.0 , < 2",
    "a>=1.0,",
    "a>=1.0,,<2",
    "a>=1 <2",
    "a==1.0.*",
    "a===foo",
    "a~=1.4",
    "a~1",
    "a=1",
    "a!1",
    "a;python_version<'3'",
    "a;",
    "a; ",
    "a>=1;",
    "a>=1; bogus",
    "a ; python_version < '3.10' and sys_platform=='linux'",
    "a>=1; python_version",
    "A_b.C-d>=2",
    "a_>=1",
    "-a",
    "a[x]>=1",
    "a (>=1)",
    "a @ https://example.org/a.whl",
    "a>=1.0)",
    "a>=",
    ">=1",
    "",
    " ",
    "a>=1.0 ",
    "  a  ",
    "a>=1.0;extra=='x'",
    "a==1.0+local",
    "a<=1!2.0",
    "a>=1.0a1",
    "a>=1.0-post1",
    "a==v1.0",
    "a>=1..0",
    "a==1.*.0",
    "a~=1",
    "a>=1.0;python_version>='3' or os_name=='nt'",
    "a>=1;python_version>='3';x",
    "this is not a requirement",
    "a>=1,<2,!=1.5.*",
    "a\t>=1",
    "a>=1\n",
    "a\n",
    "a>=1#c",
    "a b",
    'a;python_version>"3"\n',
    "a\x0b>=1",
    "a<2;'linux'==sys_platform",
    "ab-",
    "a.b.",
    "1a>=2",
    "a==1.0 extra",
    "a==\u2603",
    "a>=1;python_version>='3\n'",
]


@pytest.mark.parametrize("text", PARSE_CASES)
def test_fast_parse_agrees_with_packaging(text: str) -> None:
    def described(parse: Any) -> tuple[str | None, ...]:
        try:
            req = parse(text)
        except Exception as exc:
            return ("error", type(exc).__name__, str(exc))
        return (req.name, str(req.specifier), str(req.marker) if req.marker else None)

    assert described(parse_requirement) == described(Requirement)


def test_unmet_requirements_with_varied_shapes_match_the_full_parser() -> None:
    texts = [t for t in PARSE_CASES if t.strip()]
    pkgs = packages(dist("app", "1", *texts), dist("a", "1.5"), dist("a-b-c-d", "2.0"))
    found = {p["requirement"]: p["problem"] for p in unsatisfied(pkgs, LINUX)}
    for text in texts:
        try:
            req = Requirement(text)
        except Exception:
            assert found[text] == "invalid", text
            continue
        if req.marker is not None and not req.marker.evaluate({**LINUX, "extra": ""}):
            assert text not in found, text
        elif canonicalize_name(req.name) not in ("a", "a-b-c-d"):
            assert found[text] == "missing", text
        else:
            version = "1.5" if canonicalize_name(req.name) == "a" else "2.0"
            met = req.specifier.contains(version, prereleases=True)
            assert found.get(text) == (None if met else "version"), text
