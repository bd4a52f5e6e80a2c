"""Candidate builds' pieces, from the rule: a bare cuDNN version means that release, an operator
keeps its meaning; the installed version exactly when it is of the line; the CPU packages and
conda's own copies removed first; Python ranges and GPU code judged, unknown judging nothing."""

from __future__ import annotations

import pytest

from dldoctor.fixes import builds
from dldoctor.matrix import load
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


# -- candidate builds per framework (survivors of the mutation run, killed from the rule) -------

MATRIX = load()


def candidates(framework: str, *dists: dict, python: str = "3.11.7", gpus: tuple = ("9.0",)):
    machine = gpu_machine(count=len(gpus)) if gpus else {}
    for gpu, cc in zip((machine.get("nvidia") or {}).get("gpus", []), gpus):
        gpu["compute_capability"] = cc
    facts = make_facts(machine, with_packages(*dists), {"python": {"version": python}})
    return builds.candidates(framework, facts, MATRIX)


def test_torch_candidates_default_variant_first_then_newest_first_with_companions():
    found = candidates("torch", dist("torch", "2.13.0+cpu"), dist("torchvision", "0.28.0+cpu"))
    assert [b.cuda for b in found if b.release == "2.13"] == ["13.0", "13.2", "12.6"]
    first = found[0]
    assert (first.release, first.cuda) == ("2.14", "13.0")
    b213 = next(b for b in found if (b.release, b.cuda) == ("2.13", "13.0"))
    assert b213.requirements == ("torch==2.13.0+cu130", "torchvision==0.28.0+cu130")


def test_torch_candidates_with_an_unknown_architecture_list_keep_the_build():
    import dataclasses

    unknown = dataclasses.replace(MATRIX, torch_arches=())
    facts = make_facts(gpu_machine(), with_packages(dist("torch", "2.13.0+cpu")))
    found = builds.torch_builds(facts, unknown)
    assert found and all(b.code is None for b in found)


def test_tensorflow_candidates_skip_rows_this_python_has_no_wheel_for():
    found = candidates("tensorflow", dist("tensorflow-cpu", "2.14.1"), python="3.9.18")
    lines = [b.release for b in found]
    assert "2.21" not in lines  # >=3.10
    assert lines[:2] == ["2.20", "2.19"]  # older rows still searched after a skipped one
    assert "2.14" in lines and "2.13" not in lines  # and-cuda since 2.14
    assert next(b for b in found if b.release == "2.20").cudnn_major == 9


def test_jax_candidates_of_the_installed_release_per_plugin_it_can_have():
    found = candidates("jax", dist("jax", "0.6.2"))  # before CUDA 13's plugin
    assert [(b.release, b.cuda, b.requirements) for b in found] == [
        ("0.6.2", "12", ("jax[cuda12]==0.6.2",))
    ]
    assert found[0].cudnn_major == 9 and found[0].pins == {"nvidia-cudnn-cu12": ">=9.8,<10"}
    both = candidates("jax", dist("jax", "0.10.2"))
    assert [b.cuda for b in both] == ["13", "12"]


def test_jax_candidates_without_jax_are_the_ranges_for_this_python():
    found = candidates("jax", python="3.11.7")
    # Newest range first; >=0.11 needs Python 3.12; the CUDA 13 plugin from 0.7.0, CUDA 12's
    # from 0.4.26 (older ranges have no plugin build).
    assert [(b.release, b.cuda) for b in found] == [
        (">=0.7,<0.11", "13"),
        (">=0.7,<0.11", "12"),
        (">=0.4.31,<0.7", "12"),
        (">=0.4.30,<0.4.31", "12"),
    ]
    assert found[0].requirements == ("jax[cuda13]>=0.7,<0.11",)
    newer = candidates("jax", python="3.12.4")
    assert newer[0].release == ">=0.11,<0.13"


def test_paddle_candidates_carry_their_cudnn_major():
    found = candidates("paddle", dist("paddlepaddle", "2.6.2"), python="3.11.7")
    b = next(b for b in found if (b.release, b.cuda) == ("2.6", "12.0"))
    assert b.cudnn_major == 8
    assert b.requirements == ("paddlepaddle-gpu==2.6.2",)


def test_onnxruntime_candidates_for_an_installed_gpu_build_or_an_unreadable_version():
    found = candidates("onnxruntime", dist("onnxruntime-gpu", "1.18.0"))
    assert found[0].requirements == ("onnxruntime-gpu>=1.19",)
    old = next(b for b in found if b.cuda == "11.8")
    assert old.release == ">=1.15,<1.18" and old.cudnn_major == 8
    inside = candidates("onnxruntime", dist("onnxruntime-gpu", "1.16.3"))
    assert next(b for b in inside if b.cuda == "11.8").requirements == ("onnxruntime-gpu==1.16.3",)
    weird = candidates("onnxruntime", dist("onnxruntime", "local-build"))
    assert [b.requirements[0] for b in weird][:2] == [
        "onnxruntime-gpu>=1.19",
        "onnxruntime-gpu>=1.18.1,<1.19",
    ]
