"""What each framework's CUDA build is read as (``cuda_builds``): every framework that records
one, each of its fields, the architectures as their tags write them, and what is not a build."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dldoctor.checks import cuda_builds as cb
from dldoctor.matrix import load
from tests.checks.scenarios import dist, make_facts, with_packages

MATRIX = load()


@given(st.integers(1, 20), st.integers(0, 9), st.sampled_from(["", "a", "f"]))
def test_an_arch_tag_names_its_compute_capability(major, minor, suffix):
    assert cb._cc(f"sm_{major}{minor}{suffix}") == ("sm", f"{major}.{minor}")
    assert cb._cc(f"compute_{major}{minor}{suffix}") == ("compute", f"{major}.{minor}")
    assert cb._cc(f" {major}{minor} ") == ("sm", f"{major}.{minor}")  # Paddle's bare numbers


@pytest.mark.parametrize("tag", ["sm_8", "lto_90", "sm_90ab", "", "gfx90a", "sm_x0"])
def test_what_is_no_arch_tag_is_dropped(tag):
    assert cb._cc(tag) is None


def test_cubins_and_ptx_are_told_apart_in_order():
    tags = ["sm_80", "compute_90", "junk", "sm_120", "compute_80"]
    assert cb._arches(tags) == (("8.0", "12.0"), ("9.0", "8.0"))


def frameworks(**builds: Any) -> dict[str, Any]:
    return {key: {"distributions": dists, "build": build} for key, (dists, build) in builds.items()}


def judge(*dists: dict[str, Any], **builds: Any) -> list[cb.CudaBuild]:
    facts = make_facts(with_packages(*dists, frameworks=frameworks(**builds)))
    return cb.cuda_builds(facts, MATRIX)


def test_torch_is_read_with_its_releases_cudnn_and_arches():
    """Every release and CUDA variant the matrix lists: its cuDNN, and its wheels' arches."""
    with_arches = 0
    for release in MATRIX.torch_releases:
        for variant in release.cuda:
            version = f"{release.torch}+cu{variant.replace('.', '')}"
            (build,) = judge(dist("torch", version), torch=([], {"cuda": f"{variant}.1"}))
            arch = MATRIX.torch_arch(version, variant)
            with_arches += arch is not None
            assert build == cb.CudaBuild(
                "torch", "PyTorch", "torch", version, f"{variant}.1",
                cudnn=release.cudnn.get(variant), sm=arch.sm if arch else None,
                ptx=arch.ptx if arch else (), arch_source=arch.source if arch else "",
            )  # fmt: skip
    assert with_arches and any(r.cudnn for r in MATRIX.torch_releases)
    (unlisted,) = judge(dist("torch", "0.1.0+cu80"), torch=([], {"cuda": "8.0"}))
    assert (unlisted.cudnn, unlisted.sm, unlisted.ptx, unlisted.arch_source) == (None, None, (), "")


def test_a_cpu_torch_or_no_torch_is_no_build():
    assert judge(dist("torch", "2.13.0+cpu"), torch=([], {"cuda": False})) == []
    assert judge(torch=([], {"cuda": "13.0"})) == []  # recorded, but not installed


def test_tensorflow_records_its_cuda_cudnn_and_capabilities():
    build = {
        "is_cuda_build": True,
        "cuda_version": "12.5.1",
        "cudnn_version": "9",
        "cuda_compute_capabilities": ["sm_60", "sm_70", "compute_90"],
    }
    dists = [{"name": "tensorflow-metal"}, {"name": "tensorflow"}]
    (found,) = judge(dist("tensorflow", "2.20.0"), tensorflow=(dists, build))
    assert found == cb.CudaBuild(
        "tensorflow", "TensorFlow", "tensorflow", "2.20.0", "12.5.1", cudnn="9",
        sm=("6.0", "7.0"), ptx=("9.0",),
        arch_source="tensorflow build_info.cuda_compute_capabilities",
    )  # fmt: skip
    unknown = {**build, "cuda_compute_capabilities": None, "cudnn_version": None}
    (bare,) = judge(dist("tensorflow", "2.20.0"), tensorflow=(dists, unknown))
    assert (bare.sm, bare.ptx, bare.arch_source, bare.cudnn) == (None, (), "", None)


def test_tensorflow_that_is_no_cuda_build_or_only_metal_is_none():
    build = {"is_cuda_build": False, "cuda_version": "12.5.1"}
    assert judge(dist("tensorflow", "2.20.0"), tensorflow=([{"name": "tensorflow"}], build)) == []
    cuda = {"is_cuda_build": True, "cuda_version": None}
    assert judge(dist("tensorflow", "2.20.0"), tensorflow=([{"name": "tensorflow"}], cuda)) == []
    metal = {"is_cuda_build": True, "cuda_version": "12.5"}
    only = [{"name": "tensorflow-metal"}]
    assert judge(dist("tensorflow-metal", "1.2.0"), tensorflow=(only, metal)) == []


def test_tensorflow_cpu_is_read_by_its_own_name():
    build = {"is_cuda_build": True, "cuda_version": "11.2"}
    (found,) = judge(
        dist("tensorflow-gpu", "2.10.0"), tensorflow=([{"name": "tensorflow-gpu"}], build)
    )
    assert (found.distribution, found.version, found.cuda) == ("tensorflow-gpu", "2.10.0", "11.2")


@pytest.mark.parametrize("cuda", [False, None, ""])
def test_paddle_without_cuda_is_none(cuda):
    build = {"cuda_version": cuda, "cudnn_version": "9"}
    assert judge(dist("paddlepaddle-gpu", "3.0.0"), paddle=([], build)) == []


def test_paddle_records_its_cuda_cudnn_and_archs():
    build = {"cuda_version": "12.6", "cudnn_version": "9.5.1", "compiled_cuda_archs": [61, 80, 90]}
    (found,) = judge(dist("paddlepaddle-gpu", "3.0.0"), paddle=([], build))
    assert found == cb.CudaBuild(
        "paddle", "PaddlePaddle", "paddlepaddle-gpu", "3.0.0", "12.6", cudnn="9.5.1",
        sm=("6.1", "8.0", "9.0"), ptx=(), arch_source="paddle.version.cuda_archs()",
    )  # fmt: skip
    for none in (False, None, ""):
        (bare,) = judge(
            dist("paddlepaddle-gpu", "3.0.0"),
            paddle=([], {"cuda_version": "12.6", "cudnn_version": none}),
        )
        assert (bare.cudnn, bare.sm, bare.arch_source) == (None, None, "")
    assert judge(dist("paddlepaddle", "3.0.0"), paddle=([], build)) == []  # the CPU package


def test_jax_cuda_plugins_and_a_jaxlib_of_the_plugin_era():
    plugins = [
        {"name": "jax-cuda12-plugin", "backend": "cuda", "major": "12", "version": "0.7.2"},
        {"name": "jax-cuda12-pjrt", "backend": "cuda", "major": "12", "version": "0.7.2"},
        {"name": "jax-rocm-plugin", "backend": "rocm", "major": "6", "version": "0.7.2"},
        {"name": "jax-cuda13-plugin", "backend": "cuda", "major": None, "version": None},
    ]
    dists = [{"name": "jaxlib", "version": "0.7.2"}]
    (found,) = judge(dist("jaxlib", "0.7.2"), jax=(dists, {"plugins": plugins}))
    assert found == cb.CudaBuild("jax", "JAX", "jax-cuda12-plugin", "0.7.2", "12")
    nameless = [{"name": "jax-cuda12-plugin", "backend": "cuda", "major": "12"}]
    (unversioned,) = judge(jax=([], {"plugins": nameless}))
    assert unversioned.version == "?"


def test_before_the_plugins_jaxlib_is_the_cuda_build():
    dists = [{"name": "jaxlib", "version": "0.4.7+cuda11.cudnn86"}]
    (found,) = judge(dist("jaxlib", "0.4.7+cuda11.cudnn86"), jax=(dists, {"plugins": []}))
    assert found == cb.CudaBuild("jax", "JAX", "jaxlib", "0.4.7+cuda11.cudnn86", "11", "8.6")
    (unknown,) = judge(jax=(dists, {}))
    assert unknown.version == "?"
    assert judge(dist("jaxlib", "0.4.7"), jax=([{"name": "jaxlib", "version": "0.4.7"}], {})) == []


def test_mxnet_is_the_cuda_its_distribution_names():
    build = {"distribution": "mxnet-cu117", "cuda_variant": "11.7"}
    (found,) = judge(dist("mxnet-cu117", "1.9.1"), mxnet=([], build))
    assert found == cb.CudaBuild("mxnet", "MXNet", "mxnet-cu117", "1.9.1", "11.7")
    cpu = {"distribution": "mxnet", "cuda_variant": None}
    assert judge(dist("mxnet", "1.9.1"), mxnet=([], cpu)) == []


@pytest.mark.parametrize("row", MATRIX.tables["onnxruntime"]["release"], ids=lambda r: r["cuda"])
def test_onnxruntime_gpu_follows_its_releases_row_unless_it_says_its_cuda(row):
    version = row["onnxruntime"].split(",")[0].lstrip(">=")
    (found,) = judge(dist("onnxruntime-gpu", version))
    assert found == cb.CudaBuild(
        "onnxruntime", "ONNX Runtime", "onnxruntime-gpu", version, row["cuda"], cudnn=row["cudnn"]
    )
    (said,) = judge(dist("onnxruntime-gpu", version), onnxruntime=([], {"cuda_version": "12.9"}))
    assert (said.cuda, said.cudnn) == ("12.9", row["cudnn"])


def test_onnxruntime_gpu_without_a_row_or_a_cuda_is_none():
    assert judge(dist("onnxruntime-gpu", "1.0.0")) == []
    (said,) = judge(dist("onnxruntime-gpu", "1.0.0"), onnxruntime=([], {"cuda_version": "10.2"}))
    assert (said.cuda, said.cudnn) == ("10.2", None)
    assert judge(dist("onnxruntime", "1.20.0")) == []
