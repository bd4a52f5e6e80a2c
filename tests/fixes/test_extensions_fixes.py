"""What makes an extension fit the installed torch, as the exact commands a user runs: its
paired companion, its wheel from a torch-specific index, a rebuild, a build from a checkout."""

from __future__ import annotations

import pytest

from dldoctor.fixes import extensions
from dldoctor.fixes.commands import shown
from dldoctor.model import Intent
from tests.checks.scenarios import dist, make_facts, with_packages

PY = "/env/bin/python"


def facts_with(torch: str | None, *more: dict, manager: str = "venv") -> object:
    dists = ([dist("torch", torch)] if torch else []) + list(more)
    return make_facts({"python": {"environment": {"manager": manager}}}, with_packages(*dists))


def lines(fix) -> list[str]:
    return [shown(c) for c in fix.commands]


def test_torch_variant_is_the_local_label_of_the_installed_torch():
    assert extensions.torch_variant(facts_with("2.13.0+cu130")) == "cu130"
    assert extensions.torch_variant(facts_with("2.13.0+cpu")) == "cpu"
    assert extensions.torch_variant(facts_with("2.13.0")) is None  # PyPI's: no label
    assert extensions.torch_variant(facts_with(None)) is None


@pytest.mark.parametrize("key", ["torch-scatter", "torch-sparse", "torch-cluster", "pyg-lib"])
@pytest.mark.parametrize(
    ("torch", "page"), [("2.13.0+cu130", "2.13.0+cu130"), ("2.12.1+cpu", "2.12.0+cpu")]
)
def test_a_pyg_wheel_from_the_page_for_torchs_minor_and_build(matrix, key, torch, page):
    fix = extensions.for_torch(facts_with(torch), matrix, {"key": key, "version": "2.1.2"})
    url = f"https://data.pyg.org/whl/torch-{page}.html"
    assert lines(fix) == [f"{PY} -m pip install --force-reinstall {key} --find-links {url}"]
    assert fix.summary == f"Install the {key} wheel built for torch {torch} from its index."
    assert fix.intents == (Intent((key,), find_links=url, reinstall=True),)
    assert fix.automatic


def test_a_pyg_wheel_for_a_torch_without_a_build_label_is_not_guessed(matrix):
    for torch in ("2.13.0", None):
        fix = extensions.for_torch(
            facts_with(torch), matrix, {"key": "torch-scatter", "version": "2.1.2"}
        )
        assert fix is None  # rebuild "wheel": nothing better than the finding's words


def test_a_pip_rebuild_against_the_installed_torch(matrix):
    facts = facts_with("2.13.0+cu130")
    for key in ("flash-attn", "deepspeed"):
        fix = extensions.for_torch(facts, matrix, {"key": key, "version": "2.8.3+cu12torch2.7"})
        assert lines(fix) == [
            f"{PY} -m pip install --force-reinstall {key}==2.8.3 --no-build-isolation "
            f"--no-cache-dir --no-binary {key}"
        ]
        assert fix.intents == (Intent((f"{key}==2.8.3",), reinstall=True, build=True),)
        assert fix.summary.startswith(
            f"Rebuild {key} 2.8.3 against the installed torch (it needs nvcc"
        )
        assert "MAX_JOBS" in fix.notes and fix.automatic
    uv = extensions.rebuild(facts_with("2.13.0", manager="uv"), "flash-attn", "2.8.3")
    assert lines(uv) == [
        f"uv pip install --python {PY} --reinstall flash-attn==2.8.3 --no-build-isolation "
        "--no-cache --no-binary flash-attn"
    ]


def test_a_pip_rebuild_needs_the_installed_version(matrix):
    assert extensions.for_torch(facts_with("2.13.0+cu130"), matrix, {"key": "flash-attn"}) is None
    assert (
        extensions.for_torch(facts_with("2.13.0"), matrix, {"key": "flash-attn", "version": ""})
        is None
    )


def test_a_source_only_extension_is_built_from_a_checkout_with_its_build_options(matrix):
    fix = extensions.for_torch(
        facts_with("2.13.0+cu130"), matrix, {"key": "apex", "version": "0.1"}
    )
    assert fix.commands == (
        (
            PY,
            "-m",
            "pip",
            "install",
            "-v",
            "--no-build-isolation",
            "--no-cache-dir",
            "--config-settings",
            "--build-option=--cpp_ext",
            "--config-settings",
            "--build-option=--cuda_ext",
            ".",
        ),
    )
    assert fix.summary == (
        "Rebuild apex from a checkout of https://github.com/NVIDIA/apex against the installed "
        "torch with its C++/CUDA extensions."
    )
    assert not fix.automatic  # it runs in a clone the user makes, not in this directory
    assert fix.notes == (
        "Run it inside a clone of https://github.com/NVIDIA/apex "
        "(git clone https://github.com/NVIDIA/apex)."
    )


def test_a_source_only_extension_without_build_options(matrix):
    fix = extensions.for_torch(
        facts_with("2.13.0"), matrix, {"key": "detectron2", "version": "0.6"}
    )
    assert lines(fix) == [f"{PY} -m pip install -v --no-build-isolation --no-cache-dir ."]
    assert fix.summary.endswith("against the installed torch.")
    assert not fix.automatic


@pytest.mark.parametrize("manager", ["uv", "poetry", "pdm", "pixi"])
def test_a_checkout_build_is_words_only_where_pip_is_not_the_installer(manager, matrix):
    fix = extensions.from_checkout(
        facts_with("2.13.0", manager=manager), "apex", extensions.spec_of(matrix, "apex")
    )
    assert fix.commands == () and "git clone https://github.com/NVIDIA/apex" in fix.notes


def test_a_checkout_build_without_a_repository_has_no_command():
    fix = extensions.from_checkout(facts_with("2.13.0"), "mystery", {"build_options": ["--x"]})
    assert fix.commands == ()
    assert (
        fix.summary
        == "Rebuild mystery from a checkout of  against the installed torch with its C++/CUDA extensions."
    )


def test_an_extension_the_matrix_does_not_know_gets_no_fix(matrix):
    assert extensions.spec_of(matrix, "not-an-extension") == {}
    assert (
        extensions.for_torch(
            facts_with("2.13.0+cu130"), matrix, {"key": "not-an-extension", "version": "1.0"}
        )
        is None
    )
    for key in ("xformers", "triton", "vllm"):  # wheels pinned to one torch: no generic fix here
        assert (
            extensions.for_torch(facts_with("2.13.0+cu130"), matrix, {"key": key, "version": "1.0"})
            is None
        )


def test_a_companion_of_the_paired_release_gets_the_build_of_torchs_variant(matrix):
    facts = facts_with("2.13.0+cu130")
    for key, version, paired in (
        ("torchvision", "0.28.1", "0.28.1"),
        ("torchaudio", "2.13.0+cpu", "2.13.0"),
    ):
        fix = extensions.for_torch(facts, matrix, {"key": key, "version": version})
        assert lines(fix) == [
            f"{PY} -m pip install {key}=={paired}+cu130 --index-url https://download.pytorch.org/whl/cu130"
        ]
        assert fix.summary == (
            f"Install {key} {paired} built like the installed torch 2.13.0+cu130 (cu130), "
            "from PyTorch's index."
        )
        assert fix.automatic


def test_a_companion_of_another_release_gets_the_paired_release(matrix):
    facts = facts_with("2.13.0+cu130")
    fix = extensions.companion(facts, matrix, "torchvision", "0.27.0")
    assert lines(fix) == [
        f"{PY} -m pip install 'torchvision==0.28.*' --index-url https://download.pytorch.org/whl/cu130"
    ]
    assert (
        fix.summary
        == "Install the torchvision release paired with the installed torch 2.13.0+cu130."
    )


def test_a_companion_of_a_torch_without_a_label_gets_the_paired_release_from_pypi(matrix):
    fix = extensions.companion(facts_with("2.13.0"), matrix, "torchvision", "0.28.0")
    assert lines(fix) == [f"{PY} -m pip install 'torchvision==0.28.*'"]


def test_a_companion_without_torch_or_a_known_torch_release_gets_no_fix(matrix):
    assert extensions.companion(facts_with(None), matrix, "torchvision", "0.28.0") is None
    assert extensions.companion(facts_with("1.0.0+cu90"), matrix, "torchvision", "0.2.0") is None


def test_a_newer_release_than_the_installed_one():
    fix = extensions.newer_release(
        facts_with("2.13.0"), "xformers", "0.0.30+cu128", "it lacks sm_120"
    )
    assert lines(fix) == [f"{PY} -m pip install 'xformers>0.0.30'"]
    assert fix.summary == "Install a xformers release newer than 0.0.30+cu128 (it lacks sm_120)."
    assert fix.automatic


def test_a_newer_release_of_a_crafted_version_is_words_only():
    fix = extensions.newer_release(facts_with("2.13.0"), "xformers", "1.0; rm -rf ~", "why")
    assert fix.commands == () and not fix.automatic
    assert fix.summary == "Install a xformers release newer than 1.0; rm -rf ~ (why)."


def test_the_triton_that_torch_pins():
    fix = extensions.paired_triton(facts_with("2.13.0+cu130"), "3.6.0", "2.13.0+cu130")
    assert lines(fix) == [f"{PY} -m pip install triton==3.6.0"]
    assert (
        fix.summary
        == "Install triton 3.6.0, the release torch 2.13.0+cu130 is built and tested with."
    )


def test_a_rebuilds_exact_words():
    fix = extensions.rebuild(facts_with("2.13.0"), "flash-attn", "2.8.3")
    assert fix.summary == (
        "Rebuild flash-attn 2.8.3 against the installed torch (it needs nvcc of torch's CUDA "
        "major, a supported host compiler and ninja: see the build checks)."
    )
    assert fix.notes == (
        "flash-attn's build first looks for its release wheel for this torch, CUDA major and "
        "C++ ABI, and compiles only when there is none (set MAX_JOBS to bound its memory)."
    )


def test_a_checkout_build_follows_the_installer_of_the_extension_itself(matrix):
    spec = extensions.spec_of(matrix, "apex")
    by_uv = facts_with("2.13.0", dist("apex", "0.1", installer="uv"))  # in a pip venv
    assert extensions.from_checkout(by_uv, "apex", spec).commands == ()
    by_pip = facts_with("2.13.0", dist("apex", "0.1"), manager="uv")
    assert extensions.from_checkout(by_pip, "apex", spec).commands[0][1:4] == (
        "-m",
        "pip",
        "install",
    )
    assert extensions.from_checkout(by_pip, "apex", spec).automatic is False
