"""Fix choices at their edges: the CUDA variant a driver runs, "upgrade the driver first", the
release a JAX/ONNX Runtime/TensorFlow fix switches on, and reinstall renderings per installer."""

from __future__ import annotations

import pytest
from packaging.version import Version

from dldoctor.fixes import gpu_builds, runtime
from dldoctor.fixes.commands import shown
from dldoctor.fixes.installers import Install, render
from dldoctor.fixes.torch_builds import choose
from dldoctor.matrix import load
from tests.checks.bounds import around, below, machine
from tests.checks.scenarios import dist, make_facts, shown_all, with_packages

MATRIX = load()


def driver_cuda(cuda: str | None, driver: str = "610.43.02"):
    return make_facts(machine(driver, cuda))


@pytest.mark.parametrize("variant", ["11.8", "12.6", "12.8", "13.0"])
def test_the_newest_variant_the_driver_runs_is_picked_at_its_edge(variant):
    variants = ("11.8", "12.6", "12.8", "13.0")
    for cuda in around(variant):
        picked = gpu_builds.pick_variant(variants, driver_cuda(cuda), "12.8")
        fitting = [v for v in variants if Version(v) <= Version(cuda)]
        assert picked == (max(fitting, key=Version) if fitting else None), cuda


def test_without_a_driver_the_default_variant_else_the_newest():
    facts = make_facts()
    assert gpu_builds.pick_variant(("12.6", "12.8"), facts, "12.6") == "12.6"
    assert gpu_builds.pick_variant(("12.6", "12.8"), facts, None) == "12.8"
    assert gpu_builds.pick_variant((), facts, None) is None


@pytest.mark.parametrize("major", [m.cuda for m in MATRIX.cuda_majors])
def test_driver_first_at_the_majors_minor_version_compatibility_floor(major):
    floor = MATRIX.major_floor(major).linux
    for driver in around(floor):
        said = gpu_builds.driver_first(driver_cuda(None, driver), MATRIX, f"{major}.4", "it")
        old = Version(driver) < Version(floor)
        assert said == (
            f"First upgrade the NVIDIA driver to {floor} or newer (it uses CUDA {major}). "
            if old
            else ""
        )
    assert gpu_builds.driver_first(make_facts(), MATRIX, f"{major}.4", "it") == ""


def jax_fix(version: str, cuda: str | None):
    facts = make_facts(
        with_packages(dist("jax", version), dist("jaxlib", version)), machine("610.43.02", cuda)
    )
    return gpu_builds.jax_gpu_build(facts, MATRIX)


def test_jax_gets_the_cuda13_plugin_from_its_first_release_and_a_cuda13_driver():
    since = MATRIX.tables["jax"]["cuda13_since"]
    for version in around(since):
        for cuda in ("12.9", "13.0", "13.1", None):
            fix = jax_fix(version, cuda)
            new = Version(version) >= Version(since) and (
                cuda is None or Version(cuda) >= Version("13.0")
            )
            extra = "cuda13" if new else "cuda12"
            assert shown_all(fix) == (
                f"/env/bin/python -m pip install 'jax[{extra}]=={version}'",
            ), (
                version,
                cuda,
            )


def test_jax_before_the_cuda12_extra_is_told_to_upgrade_to_its_first_release():
    since = MATRIX.tables["jax"]["cuda12_since"]
    for version in around(since):
        fix = jax_fix(version, "12.4")
        if Version(version) < Version(since):
            assert shown_all(fix) == (f"/env/bin/python -m pip install 'jax[cuda12]>={since}'",)
            assert fix.summary.startswith(f"Upgrade jax to {since} or newer")
        else:
            assert shown_all(fix) == (f"/env/bin/python -m pip install 'jax[cuda12]=={version}'",)


def test_jax_on_native_windows_is_sent_to_wsl2_not_to_a_plugin_that_does_not_exist():
    for name, wsl2 in (("Windows", True), ("Linux", False)):
        facts = make_facts(
            with_packages(dist("jax", "0.5.3"), dist("jaxlib", "0.5.3")),
            machine("610.43.02", "12.4"),
            {"system": {"os": {"name": name}}},
        )
        fix = gpu_builds.jax_gpu_build(facts, MATRIX)
        assert ("WSL2" in fix.summary) is wsl2, name
        assert bool(shown_all(fix)) is not wsl2, name


def test_onnxruntime_from_the_cuda12_default_release_asks_for_a_cuda12_driver():
    since = MATRIX.tables["onnxruntime"]["cuda12_default_since"]
    floor = MATRIX.major_floor("12").linux
    for version in around(since):
        facts = make_facts(
            with_packages(dist("onnxruntime", version)), machine(below(floor), "11.8")
        )
        fix = gpu_builds.onnxruntime_gpu_build(facts, MATRIX)
        needs_12 = Version(version) >= Version(since)
        assert fix.summary.startswith("First upgrade") is needs_12, version
        assert shown_all(fix)[-1] == f"/env/bin/python -m pip install onnxruntime-gpu=={version}"


def test_tensorflow_before_and_cuda_is_told_to_upgrade():
    since = MATRIX.tables["tensorflow"]["and_cuda_since"]
    for version in around(since):
        frame = {"tensorflow": {"distributions": [{"name": "tensorflow-cpu", "version": version}]}}
        facts = make_facts(with_packages(dist("tensorflow-cpu", version), frameworks=frame))
        fix = gpu_builds.tensorflow_gpu_build(facts, MATRIX)
        if Version(version) < Version(since):
            assert (
                fix.summary
                == f"Upgrade to TensorFlow {since} or newer, then install tensorflow[and-cuda]."
            )
        else:
            assert shown_all(fix) == (
                "/env/bin/python -m pip uninstall -y tensorflow-cpu",
                f"/env/bin/python -m pip install 'tensorflow[and-cuda]=={version}'",
            )


def reinstall(manager: str, installer: str):
    facts = make_facts(
        {"python": {"environment": {"manager": manager}}},
        with_packages(dist("torch", "2.13.0+cu128", installer=installer)),
    )
    return shown_all(runtime.reinstall(facts, MATRIX, "torch", "2.13.0+cu128", "a file is missing"))


def test_reinstall_renderings_per_installer():
    index = "--index-url https://download.pytorch.org/whl/cu128"
    assert reinstall("venv", "pip") == (
        f"/env/bin/python -m pip install --force-reinstall torch==2.13.0+cu128 {index}",
    )
    assert reinstall("uv", "uv") == (
        f"uv pip install --python /env/bin/python --reinstall torch==2.13.0+cu128 {index}",
    )


def test_a_plain_install_never_forces_and_an_extra_index_is_kept():
    facts = make_facts()
    rendered = render(Install(("numpy<2",), extra_index_url="https://example.org/simple"), facts)
    assert tuple(shown(c) for c in rendered) == (
        "/env/bin/python -m pip install 'numpy<2' --extra-index-url https://example.org/simple",
    )


def test_the_torch_variant_is_chosen_by_the_drivers_cuda_at_its_edge():
    release = MATRIX.torch_release("2.13.0")
    assert release is not None
    for variant in release.cuda:
        for cuda in around(variant):
            facts = make_facts(
                with_packages(dist("torch", "2.13.0+cpu")), machine("610.43.02", cuda)
            )
            choice = choose(facts, MATRIX, "2.13.0")
            runs = [v for v in release.cuda if Version(v) <= Version(cuda)]
            if not runs:
                assert choice == "driver"
                continue
            assert not isinstance(choice, str)
            assert Version(choice.variant) <= Version(cuda)
            assert choice.variant in runs


def test_pins_keep_the_version_as_written():
    from dldoctor.facts.queries import release_of

    assert release_of("2.13.0+cpu") == "2.13.0"
    assert release_of("2.3.01+cu121") == "2.3.01"  # never re-rendered as 2.3.1
    assert release_of("not a version") == "not a version"
