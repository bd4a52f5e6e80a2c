"""The resolver's rules one at a time: which driver a build's install waits for, whether the loaded
driver runs a build, which release A and B choose, and when NVIDIA wheel pins can be shared."""

from __future__ import annotations

import pytest

from dldoctor.fixes.alternatives import install_alternatives
from dldoctor.fixes.builds import Build, candidates
from dldoctor.fixes.resolve import Resolution, _installed, _shared, runs, upgrade
from dldoctor.matrix.rules import CUBIN, PTX
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

FULL, MVC = "580.65.06", "525.60.13"  # CUDA 13.0's full floor, and a first-of-major floor


def build(**extra) -> Build:
    fields = {"driver_full": FULL, "driver_mvc": MVC, "code": CUBIN, **extra}
    return Build("torch", "2.13", "13.0", ("torch==2.13.0+cu130",), **fields)


@pytest.mark.parametrize(
    ("loaded", "waits_for"),
    [
        (FULL, FULL),  # at the full floor: the full floor
        ("590.44.01", FULL),  # above it too
        ("570.86.15", MVC),  # below it, the MVC floor the loaded driver meets
        (None, FULL),  # unknown: the full floor
    ],
)
def test_the_driver_an_install_waits_for(loaded, waits_for):
    (intent,) = Resolution((build(),), {}, loaded).intents()
    assert intent.driver == waits_for


def test_without_an_mvc_floor_an_install_waits_for_the_full_one():
    (intent,) = Resolution((build(driver_mvc=None),), {}, "570.86.15").intents()
    assert intent.driver == FULL


@pytest.mark.parametrize(
    ("loaded", "extra", "expected"),
    [
        (FULL, {}, True),
        ("570.86.15", {}, True),  # minor-version compatibility, compiled code for these GPUs
        ("570.86.15", {"code": None}, True),  # unknown code is not ruled out
        ("570.86.15", {"code": PTX}, False),  # PTX needs the driver of the toolkit that made it
        ("470.82.01", {}, False),  # below both floors
        ("570.86.15", {"driver_mvc": None}, False),  # below the full floor, no MVC floor known
        ("570.86.15", {"driver_full": None}, True),  # only the MVC floor known, and met
        (None, {}, None),  # the loaded driver is unknown
    ],
)
def test_whether_the_loaded_driver_runs_a_build(loaded, extra, expected):
    assert runs(loaded, build(**extra)) is expected


def test_a_framework_without_a_fitting_build_is_said_and_the_next_is_still_resolved(matrix):
    facts = make_facts(gpu_machine(), with_packages(), {"python": {"version": "3.8.18"}})
    chosen = upgrade(["tensorflow", "torch"], facts, matrix)  # no TensorFlow GPU wheel for 3.8
    assert chosen.missing == {
        "tensorflow": "no GPU build in the matrix fits this Python and these GPUs"
    }
    assert [b.framework for b in chosen.builds] == ["torch"]


def test_install_a_keeps_the_newest_release_even_when_the_driver_runs_an_older_one(matrix):
    facts = make_facts(gpu_machine(driver="470.82.01", cuda="11.4"), with_packages())
    newest = candidates("torch", facts, matrix)[0].release
    a, b = install_alternatives(["torch"], facts, matrix)
    assert [x.release for x in a.resolution.builds] == [newest]  # A upgrades the driver
    assert [x.release for x in b.resolution.builds] != [newest]  # B is the older one 470 runs


def test_install_b_is_not_capped_at_the_installed_release(matrix):
    facts = make_facts(
        gpu_machine(driver="535.104.05", cuda="12.2"), with_packages(dist("torch", "2.1.0+cpu"))
    )
    newest = candidates("torch", facts, matrix)[0].release
    _a, b = install_alternatives(["torch"], facts, matrix)
    assert [x.release for x in b.resolution.builds] == [newest]  # not 2.1: `install` asks anew


@pytest.mark.parametrize(
    ("framework", "name"),
    [
        ("torch", "torch"),
        ("tensorflow", "tensorflow"),
        ("tensorflow", "tensorflow-cpu"),
        ("tensorflow", "tensorflow-intel"),
        ("jax", "jax"),
        ("paddle", "paddlepaddle-gpu"),
        ("paddle", "paddlepaddle"),
        ("onnxruntime", "onnxruntime-gpu"),
        ("onnxruntime", "onnxruntime"),
    ],
)
def test_the_installed_release_by_each_distribution_of_a_framework(framework, name):
    facts = make_facts(with_packages(dist(name, "1.2.3")))
    assert _installed(facts, framework) == "1.2.3"


def pinning(*pins: dict[str, str]) -> tuple[Build, ...]:
    return tuple(
        Build("torch", f"2.{n}", "12.6", (f"torch==2.{n}.0",), pins=p) for n, p in enumerate(pins)
    )


def test_a_wildcard_pin_and_an_exact_one_of_it_share_one_environment():
    shared = _shared(
        pinning({"nvidia-cudnn-cu12": "==9.*"}, {"nvidia-cudnn-cu12": "==9.1.0.70"}), {}, None
    )
    assert shared.conflict == ""
    assert shared.pins == {"nvidia-cudnn-cu12": "==9.1.0.70"}


def test_a_wildcard_pin_alone_is_kept_as_it_is():
    shared = _shared(pinning({"nvidia-cudnn-cu12": "==9.*"}), {}, None)
    assert shared.conflict == "" and shared.pins == {"nvidia-cudnn-cu12": "==9.*"}


def test_upper_bounds_alone_are_satisfiable():
    shared = _shared(pinning({"nvidia-nccl-cu12": "<3"}, {"nvidia-nccl-cu12": "<2.5"}), {}, None)
    assert shared.conflict == "" and shared.pins == {"nvidia-nccl-cu12": "<2.5,<3"}


def test_a_pre_release_pin_is_a_version_like_any_other():
    shared = _shared(
        pinning({"nvidia-nccl-cu12": "==2.28.0rc1"}, {"nvidia-nccl-cu12": ">=2.27"}), {}, None
    )
    assert shared.conflict == "" and shared.pins == {"nvidia-nccl-cu12": "==2.28.0rc1"}


def test_a_conflict_names_the_library_by_its_wheel_name_without_the_cuda_suffix():
    runtime = "nvidia-cuda-runtime-cu12"
    shared = _shared(pinning({runtime: "==12.6.77"}, {runtime: "==12.8.90"}), {}, None)
    assert shared.conflict == (
        "they need different cuda-runtime releases: torch 2.0 (CUDA 12.6) pins "
        "nvidia-cuda-runtime-cu12==12.6.77; torch 2.1 (CUDA 12.6) pins "
        "nvidia-cuda-runtime-cu12==12.8.90"
    )
    assert [len(g) for g in shared.groups] == [1, 1]
