"""Plan A and plan B's words and commands, from the rule: a second environment made by the tool
that made this one, beside it, empty; what B costs; A's headline says whether a driver comes first."""

from __future__ import annotations

import pytest

from dldoctor.fixes.alternatives import _b_costs, second_environment
from dldoctor.fixes.builds import Build
from dldoctor.fixes.resolve import Resolution
from tests.checks.scenarios import dist, make_facts, with_packages


def env(manager: str, prefix: str = "/work/venv", version: str = "3.11.7", **python: str) -> object:
    section = {
        "version": version,
        "executable": f"{prefix}/bin/python",
        "prefix": prefix,
        "environment": {"manager": manager},
        **python,
    }
    return make_facts(
        {"python": section}, with_packages(dist("torch", "2.13.0+cpu", installer="uv"))
    )


def test_a_second_venv_beside_the_judged_one_by_its_interpreter():
    facts, create = second_environment(env("venv"), "tensorflow")
    assert create == ("/work/venv/bin/python", "-m", "venv", "/work/venv-tensorflow")
    assert facts.python["command"] == "/work/venv-tensorflow/bin/python"
    assert facts.python["executable"] == "/work/venv-tensorflow/bin/python"
    assert facts.python["prefix"] == "/work/venv-tensorflow"
    assert facts.packages["distributions"] == []  # nothing installed there yet
    assert facts.python["version"] == "3.11.7"


def test_a_trailing_slash_in_the_prefix_is_not_doubled():
    _, create = second_environment(env("venv", prefix="/work/venv/"), "jax")
    assert create[-1] == "/work/venv-jax"


def test_uv_makes_the_second_environment_with_the_same_interpreter():
    _, create = second_environment(env("uv"), "tensorflow")
    assert create == ("uv", "venv", "--python", "/work/venv/bin/python", "/work/venv-tensorflow")


@pytest.mark.parametrize("manager", ["conda", "mamba"])
def test_conda_makes_it_with_the_same_python_minor_and_pip(manager):
    facts = env(manager, prefix="/opt/conda/envs/train", version="3.12.4")
    for dist_ in facts.packages["distributions"]:
        dist_["installer"] = "conda"
    _, create = second_environment(facts, "tensorflow")
    assert create == (
        manager,
        "create",
        "--prefix",
        "/opt/conda/envs/train-tensorflow",
        "-y",
        "python=3.12",
        "pip",
    )


def test_without_a_known_prefix_it_goes_beside_the_interpreters_environment():
    facts = env("venv", prefix="relative", executable="/srv/env/bin/python")
    _, create = second_environment(facts, "paddle")
    assert create == ("/srv/env/bin/python", "-m", "venv", "/srv/env-paddle")


def build(framework: str, release: str, cuda: str = "11.8") -> Build:
    return Build(framework, release, cuda, (f"{framework}=={release}.*",))


def resolution(*builds: Build, missing: dict | None = None, conflict: str = "") -> Resolution:
    return Resolution(
        builds=tuple(builds),
        missing=missing or {},
        driver="470.82.01",
        conflict=conflict,
        groups=(tuple(builds),),
    )


def test_what_b_costs():
    facts = make_facts(with_packages(dist("torch", "2.13.0+cpu"), dist("tensorflow-cpu", "2.14.1")))
    costs = _b_costs(resolution(build("torch", "2.7"), build("tensorflow", "2.14")), facts)
    assert costs == "stays on torch 2.7 (2.13.0 is installed), TensorFlow 2.14"
    missing = resolution(build("torch", "2.7"), missing={"jax": "no build for driver 470"})
    assert _b_costs(missing, facts) == (
        "stays on torch 2.7 (2.13.0 is installed); leaves JAX on the CPU (no build for driver 470)"
    )
    split = resolution(build("torch", "2.7"), conflict="cudnn")
    assert _b_costs(split, facts).endswith("; and needs a second environment")
    assert _b_costs(resolution(), facts) == "changes nothing"


def test_conda_with_the_python_version_unknown_asks_for_any_python_not_an_empty_pin():
    """`python=` is no version: with the judged Python's version unknown, the new environment
    gets conda's python, unpinned."""
    facts = env("conda", prefix="/opt/conda/envs/train", version="")
    _, create = second_environment(facts, "tensorflow")
    assert create[-2:] == ("python", "pip")


@pytest.mark.parametrize("prefix", ["/srv/envs/X", "/srv/envs/projectX/"])
def test_the_second_environment_is_the_prefix_and_the_framework(prefix):
    _, create = second_environment(env("venv", prefix=prefix), "jax")
    assert create[-1] == prefix.rstrip("/") + "-jax"
