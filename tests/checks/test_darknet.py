"""DD525: a Darknet binary judged like a framework: missing libraries, the driver its CUDA needs."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks import darknet
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict
from dldoctor.facts.known import Unknown
from dldoctor.matrix import Matrix
from dldoctor.model import Severity
from tests.checks.scenarios import gpu_machine, make_facts

PATH = "/home/u/darknet/darknet"


def _object(cuda: str | bool = "libcudart.so.11.0", missing: list[str] | None = None) -> dict:
    needed = [n for n in (cuda, "libcublas.so.11", "libcudnn.so.8") if isinstance(n, str)]
    needed += ["libopencv_core.so.4.5d", "libc.so.6"]
    return {
        "path": PATH,
        "found_via": "DARKNET_HOME",
        "kind": "executable",
        "needed": needed,
        "built_with": {
            "cuda_runtime": cuda,
            "cublas": "libcublas.so.11" if cuda else False,
            "cudnn": "libcudnn.so.8" if cuda else False,
            "opencv": ["libopencv_core.so.4.5d"],
        },
        "missing": missing or [],
        "error": None,
    }


def _judge(matrix: Matrix, *objects: dict, machine: dict | None = None, toolkit: str = "13.0.88"):
    facts: dict[str, Any] = {
        "packages": {"darknet": {"searched": ["/home/u/darknet"], "objects": list(objects)}},
        "cuda": {"toolkits": [{"path": "/usr/local/cuda", "version": toolkit}]},
    }
    return darknet.darknet_libraries(make_facts(facts, *([machine] if machine else [])), matrix)


def test_missing_cuda_runtime_names_the_build_and_the_toolkit_here(matrix: Matrix) -> None:
    (verdict,) = _judge(matrix, _object(missing=["libcudart.so.11.0", "libcudnn.so.8"]))
    assert isinstance(verdict, Verdict) and verdict.severity is Severity.ERROR
    assert verdict.title == (
        f"Darknet ({PATH}) does not start: it needs libcudart.so.11.0, libcudnn.so.8, which the "
        "loader cannot find (built for CUDA 11; the CUDA toolkit here is 13.0.88)"
    )
    assert "make GPU=1 CUDNN=1" in verdict.fixes[0].summary and not verdict.fixes[0].commands
    assert len(verdict.fixes) == 1  # no OpenCV advice: OpenCV is not missing


def test_same_cuda_major_missing_says_no_toolkit_mismatch(matrix: Matrix) -> None:
    (verdict,) = _judge(matrix, _object(missing=["libcudart.so.11.0"]), toolkit="11.8.89")
    assert "toolkit here" not in verdict.title


def test_missing_opencv_of_a_cpu_build_gets_the_opencv_advice_only(matrix: Matrix) -> None:
    (verdict,) = _judge(matrix, _object(cuda=False, missing=["libopencv_core.so.4.5d"]))
    assert "libopencv_core.so.4.5d" in verdict.title and "CUDA" not in verdict.title
    (advice,) = verdict.fixes
    assert "OPENCV=0" in advice.summary


@pytest.mark.parametrize(
    ("cuda", "driver", "fires"),
    [
        ("libcudart.so.11.0", "450.80.01", True),  # below CUDA 11's floor (450.80.02)
        ("libcudart.so.11.0", "450.80.02", False),  # at it
        ("libcudart.so.11.0", "470.82.01", False),  # above it
        ("libcudart.so.12", "525.60.12", True),
        ("libcudart.so.12", "525.60.13", False),
        ("libcudart.so.10.2", "440.32", True),  # before 11: the release's own floor (440.33)
        ("libcudart.so.10.2", "440.33", False),
    ],
)
def test_the_driver_its_cuda_needs(matrix: Matrix, cuda: str, driver: str, fires: bool) -> None:
    verdicts = _judge(matrix, _object(cuda=cuda), machine=gpu_machine(driver=driver))
    assert bool(verdicts) is fires
    if fires:
        (verdict,) = verdicts
        assert verdict.title.startswith(f"Darknet ({PATH}) was built for CUDA ")
        assert f"the driver is {driver}" in verdict.title


def test_no_driver_or_an_unknown_one_judges_no_driver_floor(matrix: Matrix) -> None:
    assert _judge(matrix, _object()) == []  # the machine-wide finding says it; not this one


def test_a_cpu_build_with_everything_found_is_healthy(matrix: Matrix) -> None:
    assert _judge(matrix, _object(cuda=False), machine=gpu_machine(driver="390.1")) == []


def test_no_darknet_is_not_applicable_and_unknown_is_not_judged(matrix: Matrix) -> None:
    with pytest.raises(NotApplicable):
        _judge(matrix)
    with pytest.raises(Unknown):
        darknet.darknet_libraries(make_facts({"packages": {"darknet": None}}), matrix)


def test_an_unreadable_binary_is_unjudged(matrix: Matrix) -> None:
    unreadable = {**_object(), "needed": None, "built_with": None, "missing": None}
    unreadable["error"] = "not a readable ELF object"
    (outcome,) = _judge(matrix, unreadable)
    assert isinstance(outcome, Unjudged) and PATH in outcome.what


def test_a_driver_below_the_floor_is_an_error_with_the_rows_source(matrix: Matrix) -> None:
    obj = _object(cuda="libcudart.so.12")
    (verdict,) = _judge(matrix, obj, machine=gpu_machine(driver="525.60.12"))
    floor = matrix.major_floor("12")
    assert floor is not None
    assert verdict.severity is Severity.ERROR
    assert verdict.title == (
        f"Darknet ({PATH}) was built for CUDA 12, which needs NVIDIA driver {floor.linux} or "
        "newer; the driver is 525.60.12"
    )
    assert verdict.evidence == {
        "path": PATH,
        "cuda_runtime": "libcudart.so.12",
        "driver": "525.60.12",
        "driver_min": floor.linux,
        "source": floor.source,
    }
    assert verdict.fixes[0].summary == (
        f"Update the NVIDIA driver to {floor.linux} or newer, or rebuild Darknet against a CUDA "
        "this driver runs."
    )


def test_missing_libraries_carry_where_the_binary_was_found_and_the_toolkits(
    matrix: Matrix,
) -> None:
    obj = _object(missing=["libcudart.so.11.0", "libopencv_core.so.4.5d"])
    (verdict,) = _judge(matrix, obj)
    assert verdict.evidence == {
        "path": PATH,
        "found_via": "DARKNET_HOME",
        "missing": ["libcudart.so.11.0", "libopencv_core.so.4.5d"],
        "built_with": obj["built_with"],
        "cuda_toolkits": ["13.0.88"],
    }
    assert verdict.fixes[1].summary == (
        "Install the libraries it was built with (libopencv_core.so.4.5d: OpenCV's come with the "
        "distribution's OpenCV packages), or rebuild Darknet without them (OPENCV=0)."
    )


def test_the_reasons_nothing_is_judged(matrix: Matrix) -> None:
    with pytest.raises(NotApplicable, match=r"^no Darknet executable or libdarknet.so was found$"):
        _judge(matrix)
    unreadable = {**_object(), "needed": None, "missing": None}
    (outcome,) = _judge(matrix, unreadable)
    assert outcome.path == "packages.darknet.objects"
