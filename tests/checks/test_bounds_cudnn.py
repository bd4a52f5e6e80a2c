"""The cuDNN a build needs and who brings it (DD504): a TensorFlow build's own record or its
release's row, Paddle built with pip CUDA libraries, the JAX plugin's unsuffixed wheels."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dldoctor.checks import compat_libs
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import jax_plugin, machine, tensorflow_gpu
from tests.checks.scenarios import dist, make_facts, with_packages

MATRIX = load()
TF = "2.16.1"
ROW = MATRIX.row_for("tensorflow", "tensorflow", TF)["cudnn"]


def needed(version: str, recorded: str | None) -> Version | None:
    (build,) = cuda_builds(make_facts(tensorflow_gpu(version, "12.3", recorded)), MATRIX)  # type: ignore[arg-type]
    return compat_libs.needed_cudnn(build, MATRIX)


@pytest.mark.parametrize(
    ("recorded", "expected"), [("8.6.0", "8.6.0"), ("8", ROW), (None, ROW), ("", ROW)]
)
def test_a_tensorflow_build_needs_its_recorded_cudnn_else_its_release_row(recorded, expected):
    """A full version recorded by the build is what it was compiled with; a major alone (or
    nothing) says less than the release's row."""
    assert needed(TF, recorded) == Version(expected)


def test_a_tensorflow_release_the_matrix_lacks_keeps_what_it_recorded():
    version = "2.99.0"
    assert MATRIX.row_for("tensorflow", "tensorflow", version) is None
    assert needed(version, "8") == Version("8")
    assert needed(version, "9.3.0") == Version("9.3.0")


def paddle(flag: str | None) -> dict:
    build = {"cuda_version": "12.6", "cudnn_version": "9.5.1"}
    if flag is not None:
        build["with_pip_cuda_libraries"] = flag
    return with_packages(
        dist("paddlepaddle-gpu", "3.0.0"),
        frameworks={"paddle": {"distributions": [{"name": "paddlepaddle-gpu"}], "build": build}},
    )


@pytest.mark.parametrize(("flag", "judged"), [("ON", True), ("OFF", False), (None, False)])
def test_paddle_built_with_pip_cuda_libraries_needs_a_cudnn_beside_it(flag, judged):
    """Built "with pip CUDA libraries", Paddle loads the nvidia-cudnn wheel installed beside it:
    none of its major is an error. Otherwise it brings its own (nothing for this check)."""
    facts = make_facts(paddle(flag), machine("580.65.06", "13.0"))
    if not judged:
        with pytest.raises(NotApplicable):
            compat_libs.cudnn_mismatch(facts, MATRIX)
        return
    (verdict,) = compat_libs.cudnn_mismatch(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == ("PaddlePaddle 3.0.0 needs cuDNN 9.5.1, but no cuDNN 9 is installed")
    assert verdict.evidence["framework"] == "paddle"


PLUGIN = next(p for p in MATRIX.tables["jax"]["plugin"] if p["cuda"] == "12")


def wheel(name: str, version: str, major: int | bool) -> dict:
    return {"name": name, "version": version, "cuda_major": major, "component": "cudnn"}


def jax_verdicts(*wheels: dict) -> list:
    facts = make_facts(
        jax_plugin("12"),
        machine("580.65.06", "13.0"),
        {"packages": {"nvidia_wheels": list(wheels)}},
    )
    return compat_libs.cudnn_mismatch(facts, MATRIX)


def below_range() -> str:
    """A cuDNN version under the range the cuda12 plugin accepts."""
    low = next(s.version for s in SpecifierSet(PLUGIN["cudnn"]) if s.operator == ">=")
    major, minor = Version(low).release[:2]
    older = f"{major}.{minor - 1}.0" if minor else f"{major - 1}.9.0"
    assert not SpecifierSet(PLUGIN["cudnn"]).contains(older)
    return older


def test_an_unsuffixed_cudnn_wheel_serves_any_cuda_and_is_judged_by_the_plugin():
    (verdict,) = jax_verdicts(wheel("nvidia-cudnn", below_range(), False))
    assert verdict.severity is Severity.ERROR
    assert verdict.evidence == {
        "plugin": "jax-cuda12-plugin",
        "cudnn": below_range(),
        "accepted": str(SpecifierSet(PLUGIN["cudnn"])),
        "matrix_row": "jax.toml plugin cuda12",
    }


def test_every_wheel_is_judged_after_one_for_another_cuda():
    verdicts = jax_verdicts(
        wheel("nvidia-cudnn-cu11", "8.9.0", 11), wheel("nvidia-cudnn-cu12", below_range(), 12)
    )
    assert [v.evidence["cudnn"] for v in verdicts] == [below_range()]
