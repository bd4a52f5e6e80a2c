"""cuDNN at its edges (DD504): where each copy comes from (ldconfig, LD_LIBRARY_PATH, a pip wheel),
its version at, below and above what the build needs, and the JAX plugins' accepted range."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dldoctor.checks import compat_libs
from dldoctor.checks.registry import NotApplicable
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import around, jax_plugin, machine, spec_edges, tensorflow_gpu, torch
from tests.checks.scenarios import make_facts, shown_all

MATRIX = load()
TF = "2.16.1"
NEEDED = MATRIX.row_for("tensorflow", "tensorflow", TF)["cudnn"]  # e.g. "8.9"
ORIGINS = ("ldconfig", "LD_LIBRARY_PATH", "pip")


def cudnn_at(version: str, origin: str) -> dict:
    """One cuDNN copy of ``version``, found where ``origin`` says."""
    if origin == "pip":
        wheel = {
            "name": "nvidia-cudnn-cu12",
            "version": version,
            "cuda_major": 12,
            "component": "cudnn",
        }
        return {"packages": {"nvidia_wheels": [wheel]}}
    path = f"/opt/cudnn-{version}/lib/libcudnn.so.{version.split('.')[0]}"
    entry = {"version": version, "path": path, "source": origin}
    return {"cuda": {"libraries": {"cudnn": [entry]}}}


def judge(*overrides: dict):
    facts = make_facts(tensorflow_gpu(TF, "12.3", "8"), machine("580.65.06", "13.0"), *overrides)
    return compat_libs.cudnn_mismatch(facts, MATRIX)


@pytest.mark.parametrize("origin", ORIGINS)
def test_a_copy_at_below_and_above_the_needed_version_by_origin(origin):
    """Only LD_LIBRARY_PATH overrides the loader's choice: an older system (ldconfig) copy or
    wheel of the right major is not what this check blames."""
    for version in [*around(NEEDED), "8.6.0", "8.9.7"]:
        verdicts = judge(cudnn_at(version, origin))
        older = Version(version) < Version(NEEDED)
        shadowed = origin == "LD_LIBRARY_PATH" and older
        assert [v.severity for v in verdicts] == ([Severity.ERROR] if shadowed else []), version
        for verdict in verdicts:
            assert verdict.title == (
                f"TensorFlow {TF} needs cuDNN {NEEDED}, but LD_LIBRARY_PATH makes it load "
                f"cuDNN {version} from /opt/cudnn-{version}/lib"
            )
            assert verdict.evidence["loads"]["source"] == "LD_LIBRARY_PATH"


@pytest.mark.parametrize("origin", ORIGINS)
def test_another_major_anywhere_is_no_cudnn_at_all(origin):
    major = Version(NEEDED).major
    for other in (f"{major - 1}.9.0", f"{major + 1}.0.0"):
        (verdict,) = judge(cudnn_at(other, origin))
        assert (
            verdict.title
            == f"TensorFlow {TF} needs cuDNN {NEEDED}, but no cuDNN {major} is installed"
        )
        assert shown_all(verdict.fixes[0]) == (
            f"/env/bin/python -m pip install 'nvidia-cudnn-cu12>={NEEDED}'",
        )


def test_a_shadowing_copy_is_blamed_even_when_a_good_one_is_installed_too():
    shadow = cudnn_at("8.6.0", "LD_LIBRARY_PATH")["cuda"]["libraries"]["cudnn"]
    good = cudnn_at("8.9.7", "ldconfig")["cuda"]["libraries"]["cudnn"]
    (verdict,) = judge({"cuda": {"libraries": {"cudnn": shadow + good}}})
    assert "LD_LIBRARY_PATH makes it load cuDNN 8.6.0" in verdict.title


def test_a_major_only_version_on_ld_library_path_is_not_judged_older():
    assert judge(cudnn_at("8", "LD_LIBRARY_PATH")) == []


def test_torch_brings_its_own_cudnn_so_nothing_is_judged():
    with pytest.raises(NotApplicable):
        compat_libs.cudnn_mismatch(
            make_facts(torch("2.13.0+cu130", "13.0"), machine("580.65.06", "13.0")), MATRIX
        )


PLUGINS = MATRIX.tables["jax"]["plugin"]


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p["distribution"] for p in PLUGINS])
def test_jax_plugin_cudnn_wheel_at_the_edges_of_its_range(plugin):
    accepted = SpecifierSet(plugin["cudnn"])
    major = int(plugin["cuda"])
    for version in spec_edges(accepted):
        wheel = {
            "name": f"nvidia-cudnn-cu{major}",
            "version": version,
            "cuda_major": major,
            "component": "cudnn",
        }
        facts = make_facts(jax_plugin(plugin["cuda"]), {"packages": {"nvidia_wheels": [wheel]}})
        verdicts = compat_libs.cudnn_mismatch(facts, MATRIX)
        inside = accepted.contains(Version(version), prereleases=True)
        assert [v.severity for v in verdicts] == ([] if inside else [Severity.ERROR]), version
        for verdict in verdicts:
            assert verdict.title == (
                f"{plugin['distribution']} needs cuDNN {accepted}, but nvidia-cudnn-cu{major} "
                f"{version} is installed"
            )
            assert verdict.evidence["cudnn"] == version
            assert shown_all(verdict.fixes[0]) == (
                f"/env/bin/python -m pip install 'nvidia-cudnn-cu{major}{accepted}'",
            )


def test_a_cudnn_wheel_for_another_cuda_major_is_not_the_jax_plugins():
    wheel = {
        "name": "nvidia-cudnn-cu12",
        "version": "8.9.7",
        "cuda_major": 12,
        "component": "cudnn",
    }
    facts = make_facts(jax_plugin("13"), {"packages": {"nvidia_wheels": [wheel]}})
    assert compat_libs.cudnn_mismatch(facts, MATRIX) == []
