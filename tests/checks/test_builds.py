"""DD201 (CPU-only builds on a GPU machine) and DD202 (missing CPU instructions)."""

from __future__ import annotations

import pytest

from dldoctor.checks import builds
from dldoctor.checks.registry import NotApplicable
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages

TORCH_CPU = with_packages(
    dist("torch", "2.13.0+cpu"),
    dist("torchvision", "0.28.0+cpu"),
    frameworks={
        "torch": {
            "distributions": [
                {"name": "torch", "version": "2.13.0+cpu"},
                {"name": "torchvision", "version": "0.28.0+cpu"},
            ],
            "build": {"cuda": None, "hip": None},
        }
    },
)
TORCH_CUDA = with_packages(
    dist("torch", "2.13.0+cu130"),
    frameworks={
        "torch": {
            "distributions": [{"name": "torch", "version": "2.13.0+cu130"}],
            "build": {"cuda": "13.0", "hip": None},
        }
    },
)
CPU_STACK = with_packages(
    dist("tensorflow-cpu", "2.21.0"),
    dist("jax", "0.10.2"),
    dist("jaxlib", "0.10.2"),
    dist("paddlepaddle", "3.3.1"),
    dist("onnxruntime", "1.32.0"),
    frameworks={
        "tensorflow": {
            "distributions": [{"name": "tensorflow-cpu", "version": "2.21.0"}],
            "build": {"is_cuda_build": False},
        },
        "jax": {
            "distributions": [
                {"name": "jax", "version": "0.10.2"},
                {"name": "jaxlib", "version": "0.10.2"},
            ],
            "build": {},
        },
        "paddle": {
            "distributions": [{"name": "paddlepaddle", "version": "3.3.1"}],
            "build": {"cuda_version": "False"},
        },
        "onnxruntime": {
            "distributions": [{"name": "onnxruntime", "version": "1.32.0"}],
            "build": {},
        },
    },
)


def test_cpu_torch_on_h100_with_driver_580_gets_the_cu130_build_and_matching_torchvision(matrix):
    (verdict,) = builds.cpu_only_build_on_gpu(make_facts(TORCH_CPU, gpu_machine()), matrix)
    assert verdict.severity is Severity.ERROR
    assert "H100" in verdict.title
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install torch==2.13.0+cu130 torchvision==0.28.0+cu130 "
        "--index-url https://download.pytorch.org/whl/cu130",
    )


def test_driver_for_cuda_12_8_gets_the_cu126_build_of_torch_2_13(matrix):
    facts = make_facts(TORCH_CPU, gpu_machine(driver="570.86.15", cuda="12.8"))
    (verdict,) = builds.cpu_only_build_on_gpu(facts, matrix)
    assert "cu126" in shown_all(verdict.fixes[0])[0]


def test_driver_older_than_every_variant_says_upgrade_instead_of_a_command(matrix):
    facts = make_facts(TORCH_CPU, gpu_machine(driver="470.82.01", cuda="11.4"))
    (verdict,) = builds.cpu_only_build_on_gpu(facts, matrix)
    assert shown_all(verdict.fixes[0]) == ()
    assert "upgrade the NVIDIA driver" in verdict.fixes[0].summary


def test_uv_environment_gets_uv_commands(matrix):
    facts = make_facts(
        TORCH_CPU,
        gpu_machine(),
        {"python": {"environment": {"manager": "uv"}}},
        with_packages(dist("torch", "2.13.0+cpu", installer="uv")),
    )
    (verdict,) = builds.cpu_only_build_on_gpu(facts, matrix)
    assert shown_all(verdict.fixes[0])[0].startswith(
        "uv pip install --python /env/bin/python torch==2.13.0+cu130"
    )


def test_cuda_torch_on_gpu_machine_is_silent(matrix):
    assert builds.cpu_only_build_on_gpu(make_facts(TORCH_CUDA, gpu_machine()), matrix) == []


def test_cpu_builds_without_a_gpu_do_not_apply(matrix):
    with pytest.raises(NotApplicable):
        builds.cpu_only_build_on_gpu(make_facts(TORCH_CPU, CPU_STACK), matrix)


def test_every_cpu_only_framework_is_named_with_its_own_fix(matrix):
    verdicts = builds.cpu_only_build_on_gpu(make_facts(CPU_STACK, gpu_machine()), matrix)
    by_framework = {v.evidence["framework"]: v for v in verdicts}
    assert set(by_framework) == {"tensorflow", "jax", "paddle", "onnxruntime"}
    assert by_framework["onnxruntime"].severity is Severity.WARNING
    assert shown_all(by_framework["tensorflow"].fixes[0]) == (
        "/env/bin/python -m pip uninstall -y tensorflow-cpu",
        "/env/bin/python -m pip install 'tensorflow[and-cuda]==2.21.0'",
    )
    assert shown_all(by_framework["jax"].fixes[0]) == (
        "/env/bin/python -m pip install 'jax[cuda13]==0.10.2'",
    )
    paddle = shown_all(by_framework["paddle"].fixes[0])
    assert paddle[0] == "/env/bin/python -m pip uninstall -y paddlepaddle"
    assert paddle[1].endswith("--index-url https://www.paddlepaddle.org.cn/packages/stable/cu130/")


def test_jax_on_a_cuda_12_driver_gets_the_cuda12_plugin(matrix):
    facts = make_facts(CPU_STACK, gpu_machine(driver="550.54.14", cuda="12.4"))
    verdicts = builds.cpu_only_build_on_gpu(facts, matrix)
    jax = next(v for v in verdicts if v.evidence["framework"] == "jax")
    assert "jax[cuda12]" in shown_all(jax.fixes[0])[0]


def test_gpu_on_the_pci_bus_without_driver_still_counts_as_a_gpu_machine(matrix):
    facts = make_facts(
        TORCH_CPU, {"accelerators": {"pci": {"nvidia": [{"address": "0000:01:00.0"}]}}}
    )
    (verdict,) = builds.cpu_only_build_on_gpu(facts, matrix)
    # No driver: the default variant of the release, the driver itself is DD104's business.
    assert "cu130" in shown_all(verdict.fixes[0])[0]


NO_AVX = {
    "system": {
        "cpu": {
            "model": "Intel Pentium G4560",
            "flags": ["sse4_1", "sse4_2"],
            "flags_source": "/proc/cpuinfo",
        }
    }
}


def test_tensorflow_jax_and_paddle_on_a_cpu_without_avx_are_errors(matrix):
    verdicts = builds.cpu_lacks_instructions(make_facts(CPU_STACK, NO_AVX), matrix)
    assert sorted(v.evidence["distribution"] for v in verdicts) == [
        "jaxlib",
        "paddlepaddle",
        "tensorflow-cpu",
    ]
    assert all(v.severity is Severity.ERROR and "AVX" in v.title for v in verdicts)


def test_torch_alone_on_a_cpu_without_avx_is_fine(matrix):
    assert builds.cpu_lacks_instructions(make_facts(TORCH_CPU, NO_AVX), matrix) == []


def test_avx_cpu_is_silent(matrix):
    assert builds.cpu_lacks_instructions(make_facts(CPU_STACK), matrix) == []


def test_aarch64_is_not_judged_by_x86_rules(matrix):
    facts = make_facts(CPU_STACK, NO_AVX, {"system": {"architecture": "aarch64"}})
    assert builds.cpu_lacks_instructions(facts, matrix) == []


def test_unknown_cpu_flags_skip_rather_than_guess(matrix):
    facts = make_facts(CPU_STACK, {"system": {"cpu": {"flags": None, "flags_source": None}}})
    with pytest.raises(NotApplicable):
        builds.cpu_lacks_instructions(facts, matrix)
