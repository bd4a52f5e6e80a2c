"""Candidate builds' pieces, from the rule: a bare cuDNN version means that release, an operator
keeps its meaning; the installed version exactly when it is of the line; the CPU packages and
conda's own copies removed first; Python ranges and GPU code judged, unknown judging nothing."""

from __future__ import annotations

import pytest

from dldoctor.fixes import builds
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages


@pytest.mark.parametrize(
    ("spec", "pin"),
    [
        ("8.9.4", "==8.9.4.*"),
        (" 9 ", "==9.*"),
        ("==9.3.0.75", "==9.3.0.75"),
        (">=9.1,<10", ">=9.1,<10"),
        ("<9", "<9"),
        ("!=9.0", "!=9.0"),
        ("~=9.1", "~=9.1"),
    ],
)
def test_pin(spec, pin):
    assert builds._pin(spec) == pin


@pytest.mark.parametrize(
    ("spec", "major"),
    [
        ("==9.3.0.75", 9),
        ("8.9.4", 8),
        (">=9.1,<10", 9),
        ("~= 10.2", 10),
        ("==x.1", None),
        ("", None),
    ],
)
def test_major(spec, major):
    assert builds._major(spec) == major


def test_the_installed_version_exactly_when_it_is_of_the_line():
    assert builds._requirement("torch", "2.7.1", "2.7") == "torch==2.7.1"
    assert builds._requirement("torch", "2.13.0", "2.7") == "torch==2.7.*"
    assert builds._requirement("torch", None, "2.7") == "torch==2.7.*"


def py(version: str | None) -> object:
    return make_facts({"python": {"version": version}})


def test_a_python_range_judges_only_a_known_python():
    assert builds._fits_python(py("3.11.7"), ">=3.9,<3.14")
    assert not builds._fits_python(py("3.14.0"), ">=3.9,<3.14")
    assert not builds._fits_python(py("3.8.18"), ">=3.9,<3.14")
    assert builds._fits_python(py("3.14.0rc1"), "<3.15")  # judged by its release, not as a pre
    assert builds._fits_python(py(None), ">=3.9,<3.14")
    assert builds._fits_python(py("3.11.7"), None)
    assert builds._fits_python(py("3.11.7"), "")
    assert builds._fits_python(py("3.11.7"), "not a range")


def with_gpus(*ccs: str) -> object:
    machine = gpu_machine(count=len(ccs))
    for gpu, cc in zip(machine["nvidia"]["gpus"], ccs):
        gpu["compute_capability"] = cc
    return make_facts(machine)


def test_gpu_code_of_a_build_for_every_gpu():
    sm, ptx = ("8.0", "9.0"), ("9.0",)
    assert builds._code(with_gpus("9.0"), sm, ptx) == "cubin"
    assert builds._code(with_gpus("9.0", "8.0"), sm, ptx) == "cubin"
    assert builds._code(with_gpus("12.0"), sm, ptx) == "ptx"  # JIT from 9.0's PTX
    assert builds._code(with_gpus("9.0", "12.0"), sm, ptx) == "ptx"
    assert builds._code(with_gpus("9.0", "7.0"), sm, ptx) is False  # one GPU it cannot run on
    assert builds._code(make_facts(), sm, ptx) is None  # no GPU: unknown


def test_the_cpu_packages_and_condas_own_copies_go_first():
    facts = make_facts(
        with_packages(
            dist("tensorflow-cpu", "2.14.1"),
            dist("tensorflow-intel", "2.14.1"),
            dist("tensorflow", "2.14.1", installer="conda"),
            dist("torch", "2.3.0", installer="pip", conda={"name": "pytorch"}),
            dist("torchvision", "0.18.0"),
            dist("jaxlib", "0.4.30", installer="conda"),
            dist("paddlepaddle", "2.6.2"),
        )
    )
    assert builds._removals(facts, "tensorflow") == (
        "tensorflow-cpu",
        "tensorflow-intel",
        "tensorflow",
    )
    assert builds._removals(facts, "torch") == ("torch",)
    assert builds._removals(facts, "jax") == ("jaxlib",)
    assert builds._removals(facts, "paddle") == ("paddlepaddle",)
    assert builds._removals(facts, "onnxruntime") == ()


def test_installed_release_is_the_public_version_as_written():
    facts = make_facts(with_packages(dist("torch", "2.3.01+cu121"), dist("jax", "")))
    assert builds.installed_release(facts, "torch") == "2.3.01"
    assert builds.installed_release(facts, "jax") is None
    assert builds.installed_release(facts, "paddlepaddle") is None


def test_a_builds_label():
    assert builds.Build("tensorflow", "2.21", "12.5", ()).label == "TensorFlow 2.21"
    assert builds.Build("onnxruntime", "1.22", "12", ()).label == "ONNX Runtime 1.22"
