"""Fixes for what the runtime probes saw, as the commands a user runs: the same build again from
its own index, the paired companion, NumPy's line, the NVIDIA wheels a framework pins, jax's pieces."""

from __future__ import annotations

import pytest

from dldoctor.fixes import runtime
from dldoctor.fixes.commands import shown
from dldoctor.model import Intent
from tests.checks.scenarios import dist, make_facts, with_packages

PY = "/env/bin/python"


def lines(fix) -> list[str]:
    return [shown(c) for c in fix.commands]


@pytest.mark.parametrize(
    ("library", "component"),
    [
        ("libcudart.so.12", "cuda-runtime"),
        ("libcublasLt.so.12", "cublas"),
        ("libcublas.so.12", "cublas"),
        ("libcudnn_ops.so.9", "cudnn"),
        ("libcudnn.so.8", "cudnn"),
        ("libnccl.so.2", "nccl"),
        ("libcufft.so.11", "cufft"),
        ("libcusparse.so.12", "cusparse"),
        ("libcusolver.so.11", "cusolver"),
        ("libcurand.so.10", "curand"),
        ("libnvrtc.so.12", "cuda-nvrtc"),
        ("libnvJitLink.so.12", "nvjitlink"),
        ("libcupti.so.12", "cuda-cupti"),
        ("libnvToolsExt.so.1", "nvtx"),
        ("libcufile.so.0", "cufile"),
        ("libstdc++.so.6", None),
        ("libcuda.so.1", None),  # the driver's: no wheel ships it
    ],
)
def test_which_nvidia_wheel_ships_a_library(library, component):
    assert runtime.component(library) == component


@pytest.mark.parametrize(
    ("name", "version", "index"),
    [
        ("torch", "2.13.0+cu128", "https://download.pytorch.org/whl/cu128"),
        ("torchvision", "0.28.0+cpu", "https://download.pytorch.org/whl/cpu"),
        ("torchaudio", "2.13.0+rocm6.4", "https://download.pytorch.org/whl/rocm6.4"),
        ("torch", "2.13.0", None),  # PyPI's build: PyPI
        ("jax", "0.10.2+local", None),  # only the torch family lives on PyTorch's index
    ],
)
def test_a_reinstall_of_the_same_build_from_its_own_index(matrix, name, version, index):
    facts = make_facts(with_packages(dist(name, version)))
    fix = runtime.reinstall(facts, matrix, name, version, "a file is missing")
    assert fix.summary == f"Reinstall {name} {version} (a file is missing)."
    assert fix.intents == (Intent((f"{name}=={version}",), index_url=index, reinstall=True),)
    tail = f" --index-url {index}" if index else ""
    assert lines(fix) == [f"{PY} -m pip install --force-reinstall {name}=={version}{tail}"]
    assert fix.automatic


def test_the_companion_paired_with_the_installed_torch(matrix):
    facts = make_facts(with_packages(dist("torch", "2.13.0+cu130")))
    fix = runtime.paired_companion(facts, matrix, "torchvision")
    assert (
        fix.summary
        == "Install the torchvision release paired with the installed torch 2.13.0+cu130."
    )
    assert lines(fix) == [
        f"{PY} -m pip install 'torchvision==0.28.*' --index-url https://download.pytorch.org/whl/cu130"
    ]
    assert fix.automatic
    audio = runtime.paired_companion(facts, matrix, "torchaudio")
    assert audio.intents[0].requirements == ("torchaudio==2.13.*",)
    plain = make_facts(with_packages(dist("torch", "2.5.1")))
    assert lines(runtime.paired_companion(plain, matrix, "torchaudio")) == [
        f"{PY} -m pip install 'torchaudio==2.5.*'"
    ]


def test_no_companion_without_torch_or_its_release_in_the_matrix(matrix):
    assert runtime.paired_companion(make_facts(with_packages()), matrix, "torchvision") is None
    old = make_facts(with_packages(dist("torch", "0.4.1")))
    assert runtime.paired_companion(old, matrix, "torchvision") is None


def test_numpy_lines():
    facts = make_facts()
    below_2 = runtime.numpy_below_2(facts)
    assert lines(below_2) == [f"{PY} -m pip install 'numpy<2'"] and below_2.automatic
    assert below_2.summary.startswith(
        "Install NumPy 1.x, which the framework's binaries were compiled"
    )
    below_124 = runtime.numpy_below_1_24(facts)
    assert lines(below_124) == [f"{PY} -m pip install 'numpy<1.24'"] and below_124.automatic
    assert below_124.summary.startswith("Install a NumPy older than 1.24, the release that removed")


def pins(owner: str, *requirements: str) -> object:
    return make_facts({"packages": {"nvidia_pins": {owner: list(requirements)}}})


TF_PINS = (
    "nvidia-cublas-cu12==12.5.3.2; extra == 'and-cuda'",
    "nvidia-cudnn-cu12==9.3.0.75; extra == 'and-cuda'",
    "nvidia-nccl-cu12 ==2.23.4",
    "nvidia-cuda-runtime-cu12>=12.5,<13",
    "Nvidia_Cufft_Cu12==11.2.3.61",
    "numpy>=1.26",
)


def test_the_nvidia_wheels_the_framework_pins_for_the_missing_libraries():
    facts = pins("tensorflow", *TF_PINS)
    fix = runtime.pinned_wheels(facts, "tensorflow", ["libcudnn_ops.so.9", "libcublasLt.so.12"])
    assert fix.intents == (Intent(("nvidia-cublas-cu12==12.5.3.2", "nvidia-cudnn-cu12==9.3.0.75")),)
    assert fix.summary == "Install the NVIDIA library wheels tensorflow declares for them."
    assert fix.automatic
    more = runtime.pinned_wheels(
        facts, "tensorflow", ["libnccl.so.2", "libcudart.so.12", "libcufft.so.11"]
    )
    assert more.intents[0].requirements == (
        "nvidia-nccl-cu12==2.23.4",
        "nvidia-cuda-runtime-cu12>=12.5,<13",
        "nvidia-cufft-cu12==11.2.3.61",  # the name canonical, as pip spells it
    )


def test_the_owner_is_matched_by_its_canonical_name():
    facts = pins("tensorflow_cpu", *TF_PINS)
    fix = runtime.pinned_wheels(facts, "tensorflow-cpu", ["libcudnn.so.9"])
    assert fix.intents[0].requirements == ("nvidia-cudnn-cu12==9.3.0.75",)


@pytest.mark.parametrize(
    ("owner", "libraries"),
    [
        ("tensorflow", ["libstdc++.so.6"]),  # no NVIDIA wheel ships it
        ("tensorflow", []),
        (None, ["libcudnn.so.9"]),
        ("torch", ["libcudnn.so.9"]),  # another framework's pins are not torch's
        ("tensorflow", ["libcusolver.so.11"]),  # tensorflow pins no cusolver wheel here
    ],
)
def test_no_wheels_when_nothing_pinned_ships_them(owner, libraries):
    assert runtime.pinned_wheels(pins("tensorflow", *TF_PINS), owner, libraries) is None


def test_a_pin_that_is_not_a_requirement_is_skipped():
    facts = pins("tensorflow", "; nothing", "nvidia-cudnn-cu12==9.3.0.75")
    fix = runtime.pinned_wheels(facts, "tensorflow", ["libcudnn.so.9"])
    assert fix.intents[0].requirements == ("nvidia-cudnn-cu12==9.3.0.75",)


def jax(version: str, *plugins: str, jaxlib: str | None = None) -> object:
    found = [{"name": p} for p in plugins] + (
        [{"name": "jaxlib", "version": jaxlib}] if jaxlib else []
    )
    frame = {"distributions": found}
    return make_facts(with_packages(dist("jax", version), frameworks={"jax": frame}))


def test_jax_with_its_cuda_plugin_gets_every_piece_at_jaxs_version():
    fix = runtime.jax_pieces(jax("0.10.2", "jax-cuda13-plugin", "jax-cuda13-pjrt"))
    assert lines(fix) == [f"{PY} -m pip install 'jax[cuda13]==0.10.2'"]
    assert fix.summary == (
        "Install jax[cuda13] 0.10.2 with every piece (jaxlib, the CUDA plugin) at the same version."
    )
    both = runtime.jax_pieces(jax("0.10.2", "jax-cuda12-plugin", "jax-cuda13-plugin"))
    assert both.intents[0].requirements == ("jax[cuda13]==0.10.2",)  # the newest plugin's


def test_jax_without_a_plugin_pins_jaxlib_no_newer_than_jax():
    fix = runtime.jax_pieces(jax("0.4.38"), "0.4.36")
    assert lines(fix) == [f"{PY} -m pip install 'jaxlib>=0.4.36,<=0.4.38'"]
    assert fix.summary == "Install the jaxlib that fits jax 0.4.38 (jaxlib>=0.4.36,<=0.4.38)."
    assert runtime.jax_pieces(jax("0.4.38+local")).intents[0].requirements == ("jaxlib<=0.4.38",)


def test_a_cuda_jaxlib_from_before_the_plugins_comes_from_jaxs_own_wheel_pages():
    fix = runtime.jax_pieces(jax("0.4.7", jaxlib="0.4.6+cuda11.cudnn86"), "0.4.6")
    assert fix.summary.startswith(
        "Install a jaxlib>=0.4.6,<=0.4.7 built for CUDA 11 from jax's own wheel pages "
        "(https://storage.googleapis.com/jax-releases/jax_releases.html"
    )
    assert fix.commands == () and not fix.automatic  # PyPI's jaxlib of that time is the CPU one
    cpu = runtime.jax_pieces(jax("0.4.7", jaxlib="0.4.6"), "0.4.6")
    assert lines(cpu) == [f"{PY} -m pip install 'jaxlib>=0.4.6,<=0.4.7'"]


def test_no_jax_no_fix():
    assert runtime.jax_pieces(make_facts(with_packages())) is None
    assert runtime.jax_pieces(make_facts(with_packages(dist("jax", "")))) is None
