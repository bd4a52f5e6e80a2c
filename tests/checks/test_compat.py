"""DD501-DD512: the compatibility matrix's verdicts, where each must fire and where it must not."""

from __future__ import annotations

import pytest

from dldoctor.checks import (
    compat_arch,
    compat_driver,
    compat_libs,
    compat_platform,
    compat_versions,
)
from dldoctor.checks.registry import NotApplicable
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages


def torch_build(version: str, cuda: str | None) -> dict:
    return with_packages(
        dist("torch", version),
        frameworks={
            "torch": {
                "distributions": [{"name": "torch", "version": version}],
                "build": {"cuda": cuda if cuda is not None else False, "hip": False},
            }
        },
    )


def gpu(cc: str, name: str, driver: str, cuda: str) -> dict:
    machine = gpu_machine(1, driver=driver, cuda=cuda)
    machine["nvidia"]["gpus"][0].update(compute_capability=cc, name=name)
    return machine


# DD501 driver too old for a build


def test_cu130_torch_on_a_cuda_12_8_driver_is_an_error_with_both_remedies(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu130", "13.0"), gpu_machine(driver="570.86.15", cuda="12.8")
    )
    (verdict,) = compat_driver.driver_too_old(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert "needs driver 580.65.06 or newer" in verdict.title
    assert "580.65.06" in verdict.fixes[0].summary
    assert shown_all(verdict.fixes[1]) == (
        "/env/bin/python -m pip install torch==2.13.0+cu126 --index-url https://download.pytorch.org/whl/cu126",
    )


def test_newer_minor_build_on_the_majors_first_driver_runs_under_minor_version_compatibility(
    matrix,
):
    facts = make_facts(
        torch_build("2.13.0+cu132", "13.2"), gpu_machine(driver="580.82.07", cuda="13.0")
    )
    (verdict,) = compat_driver.driver_too_old(facts, matrix)
    assert verdict.severity is Severity.WARNING
    assert "minor-version compatibility" in verdict.title
    assert verdict.evidence["driver_needed"] == "595.45.04"


def test_a_newer_driver_is_never_too_old(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu126", "12.6"), gpu_machine(driver="610.43.02", cuda="13.3")
    )
    assert compat_driver.driver_too_old(facts, matrix) == []


def test_no_driver_is_not_judged_here(matrix):
    with pytest.raises(NotApplicable):
        compat_driver.driver_too_old(make_facts(torch_build("2.13.0+cu130", "13.0")), matrix)


def mxnet_build(name: str, cuda: str | bool) -> dict:
    return with_packages(
        dist(name, "1.9.1"),
        frameworks={
            "mxnet": {
                "distributions": [{"name": name, "version": "1.9.1"}],
                "build": {
                    "source": "distribution name",
                    "distribution": name,
                    "cuda_variant": cuda,
                },
            }
        },
    )


@pytest.mark.parametrize(
    ("driver", "severity"),
    [
        ("450.80.01", Severity.ERROR),  # below CUDA 11's first driver
        ("450.80.02", Severity.WARNING),  # at it: 11.7 under minor-version compatibility
        ("515.43.04", None),  # at CUDA 11.7's own minimum
    ],
)
def test_mxnet_cu117_is_judged_by_the_cuda_its_name_says(matrix, driver, severity):
    facts = make_facts(mxnet_build("mxnet-cu117", "11.7"), gpu_machine(driver=driver, cuda="11.7"))
    verdicts = compat_driver.driver_too_old(facts, matrix)
    assert [v.severity for v in verdicts] == ([severity] if severity else [])
    if verdicts:
        assert "MXNet 1.9.1" in verdicts[0].title and "11.7" in verdicts[0].title
        assert verdicts[0].evidence["distribution"] == "mxnet-cu117"


def test_the_cpu_mxnet_is_no_cuda_build(matrix):
    facts = make_facts(mxnet_build("mxnet", False), gpu_machine(driver="390.1", cuda="9.1"))
    assert compat_driver.driver_too_old(facts, matrix) == []


def test_jax_cuda13_plugin_uses_its_own_driver_floor(matrix):
    facts = make_facts(
        with_packages(
            dist("jax", "0.10.2"),
            dist("jaxlib", "0.10.2"),
            dist("jax-cuda13-plugin", "0.10.2"),
            frameworks={
                "jax": {
                    "distributions": [],
                    "build": {
                        "jaxlib": "0.10.2",
                        "plugins": [
                            {
                                "name": "jax-cuda13-plugin",
                                "version": "0.10.2",
                                "backend": "cuda",
                                "major": 13,
                            }
                        ],
                    },
                }
            },
        ),
        gpu_machine(driver="550.54.14", cuda="12.4"),
    )
    (verdict,) = compat_driver.driver_too_old(facts, matrix)
    assert "needs driver 580" in verdict.title


# DD502 WSL


def test_wsl_without_libcuda_is_an_error_and_with_it_silent(matrix):
    wsl = {"system": {"wsl": {"is_wsl": True, "version": 2}}}
    (verdict,) = compat_driver.wsl_without_libcuda(
        make_facts(wsl, {"nvidia": {"libcuda": {"wsl_libcuda": False}}}), matrix
    )
    assert verdict.severity is Severity.ERROR and "wsl --update" in shown_all(verdict.fixes[0])
    assert (
        compat_driver.wsl_without_libcuda(
            make_facts(wsl, {"nvidia": {"libcuda": {"wsl_libcuda": True}}}), matrix
        )
        == []
    )


# DD503 GPU architecture


def test_rtx_5090_with_a_cu126_torch_and_an_old_driver_says_upgrade_the_driver_then_cu130(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu126", "12.6"),
        gpu("12.0", "NVIDIA GeForce RTX 5090", "575.57.08", "12.9"),
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert "sm_120" in verdict.title and "no kernel image" in verdict.title
    assert (
        "needs driver 580.65.06" in verdict.fixes[0].summary
        and "torch==2.13.0+cu130" in verdict.fixes[0].summary
    )


def test_rtx_5090_with_a_new_driver_gets_the_cu130_build(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu126", "12.6"),
        gpu("12.0", "NVIDIA GeForce RTX 5090", "580.65.06", "13.0"),
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install torch==2.13.0+cu130 --index-url https://download.pytorch.org/whl/cu130",
    )


def test_kepler_k80_is_sent_back_to_the_last_release_that_built_for_it(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu126", "12.6"), gpu("3.7", "Tesla K80", "535.54.03", "12.2")
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert "Go back to torch 2.7 built for CUDA 11.8" in verdict.fixes[0].summary
    assert shown_all(verdict.fixes[0])[-1].endswith(
        "--index-url https://download.pytorch.org/whl/cu118"
    )


def test_same_major_newer_minor_runs_the_cubin(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu130", "13.0"), gpu("12.1", "NVIDIA GB10", "580.65.06", "13.0")
    )
    assert compat_arch.gpu_arch_not_in_build(facts, matrix) == []


def test_a_ptx_only_match_is_information_not_an_error(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu130", "13.0"), gpu("13.0", "Future GPU", "610.43.02", "13.3")
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert verdict.severity is Severity.INFO and "PTX" in verdict.title


def test_cuda13_jax_plugin_on_a_volta_is_refused(matrix):
    facts = make_facts(
        with_packages(
            dist("jax", "0.10.2"),
            dist("jaxlib", "0.10.2"),
            frameworks={
                "jax": {
                    "distributions": [],
                    "build": {
                        "plugins": [
                            {
                                "name": "jax-cuda13-plugin",
                                "version": "0.10.2",
                                "backend": "cuda",
                                "major": 13,
                            }
                        ]
                    },
                }
            },
        ),
        gpu("7.0", "Tesla V100-SXM2-16GB", "580.65.06", "13.0"),
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert "7.5 or newer" in verdict.title
    assert "'jax[cuda12]==0.10.2'" in shown_all(verdict.fixes[0])[-1]


# DD504 cuDNN

TF_216_GPU = with_packages(
    dist("tensorflow", "2.16.1"),
    frameworks={
        "tensorflow": {
            "distributions": [{"name": "tensorflow", "version": "2.16.1"}],
            "build": {"is_cuda_build": True, "cuda_version": "12.3", "cudnn_version": "8"},
        }
    },
)


def test_ld_library_path_shadowing_cudnn_with_an_older_minor_is_named(matrix):
    cudnn = {
        "cuda": {
            "libraries": {
                "cudnn": [
                    {
                        "version": "8.6.0",
                        "path": "/usr/lib/x86_64-linux-gnu/libcudnn.so.8.6.0",
                        "source": "LD_LIBRARY_PATH",
                    },
                    {
                        "version": "8.9.7",
                        "path": "/env/nvidia/cudnn/lib/libcudnn.so.8",
                        "source": "ldconfig",
                    },
                ]
            }
        }
    }
    (verdict,) = compat_libs.cudnn_mismatch(make_facts(TF_216_GPU, gpu_machine(), cudnn), matrix)
    assert verdict.title == (
        "TensorFlow 2.16.1 needs cuDNN 8.9, but LD_LIBRARY_PATH makes it load cuDNN 8.6.0 "
        "from /usr/lib/x86_64-linux-gnu"
    )
    assert verdict.fixes[0].commands == ()  # LD_LIBRARY_PATH's value unknown: no command made up
    for value, expected in [
        ("/opt/x:/usr/lib/x86_64-linux-gnu/:/opt/y z", "export 'LD_LIBRARY_PATH=/opt/x:/opt/y z'"),
        ("/usr/lib/x86_64-linux-gnu", "unset LD_LIBRARY_PATH"),
    ]:
        env = {"env": {"variables": {"LD_LIBRARY_PATH": value}}}
        facts = make_facts(TF_216_GPU, gpu_machine(), cudnn, env)
        (verdict,) = compat_libs.cudnn_mismatch(facts, matrix)
        assert shown_all(verdict.fixes[0]) == (expected,)


def test_no_cudnn_of_the_needed_major_anywhere_is_an_error(matrix):
    (verdict,) = compat_libs.cudnn_mismatch(make_facts(TF_216_GPU, gpu_machine()), matrix)
    assert "no cuDNN 8 is installed" in verdict.title
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install 'nvidia-cudnn-cu12>=8.9'",
    )


def test_the_right_cudnn_wheel_is_silent(matrix):
    wheel = {
        "packages": {
            "nvidia_wheels": [
                {
                    "name": "nvidia-cudnn-cu12",
                    "version": "8.9.7.29",
                    "cuda_major": 12,
                    "component": "cudnn",
                }
            ]
        }
    }
    assert compat_libs.cudnn_mismatch(make_facts(TF_216_GPU, gpu_machine(), wheel), matrix) == []


# DD505 NVIDIA pins


def test_torch_and_tensorflow_pinning_different_cudnn_wheels_conflict(matrix):
    facts = make_facts(
        {
            "packages": {
                "nvidia_wheels": [
                    {"name": "nvidia-cudnn-cu12", "version": "9.10.2.21", "component": "cudnn"}
                ],
                "nvidia_pins": {
                    "torch": ['nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux"'],
                    "tensorflow": ['nvidia-cudnn-cu12<9.5,>=9.3.0.75; extra == "and-cuda"'],
                },
            }
        },
        {"python": {"marker_environment": {"platform_system": "Linux", "sys_platform": "linux"}}},
    )
    (verdict,) = compat_libs.conflicting_nvidia_pins(facts, matrix)
    assert verdict.title == (
        "tensorflow and torch pin NVIDIA wheels no single version satisfies: torch wants "
        "nvidia-cudnn-cu12==9.10.2.21; tensorflow wants nvidia-cudnn-cu12<9.5,>=9.3.0.75"
    )


def test_one_pin_conflict_over_ten_wheels_is_one_finding_listing_them(matrix):
    names = ["cublas", "cuda-cupti", "cuda-nvrtc", "cuda-runtime", "cudnn", "cufft", "curand"]
    names += ["cusolver", "cusparse", "nccl"]
    wheels = [f"nvidia-{n}-cu12" for n in names]
    facts = make_facts(
        {
            "packages": {
                "nvidia_wheels": [{"name": w, "version": "12.4.0"} for w in wheels],
                "nvidia_pins": {
                    "torch": [f"{w}==12.4.0" for w in wheels],
                    "tensorflow": [f"{w}==12.3.0" for w in wheels],
                },
            }
        }
    )
    (verdict,) = compat_libs.conflicting_nvidia_pins(facts, matrix)
    assert sorted(verdict.evidence["wheels"]) == sorted(wheels)
    assert "(and 9 more NVIDIA wheel(s): " in verdict.title
    assert verdict.evidence["owners"] == ["tensorflow", "torch"]


def test_pins_that_agree_are_silent(matrix):
    facts = make_facts(
        {
            "packages": {
                "nvidia_wheels": [
                    {"name": "nvidia-nccl-cu12", "version": "2.27.7", "component": "nccl"}
                ],
                "nvidia_pins": {
                    "torch": ["nvidia-nccl-cu12==2.27.7"],
                    "jax-cuda12-plugin": ["nvidia-nccl-cu12>=2.18.1"],
                },
            }
        }
    )
    assert compat_libs.conflicting_nvidia_pins(facts, matrix) == []


# DD506 - DD510 versions


def jax_stack(jax: str, jaxlib: str, plugin: str | None) -> dict:
    plugins = (
        [{"name": "jax-cuda13-plugin", "version": plugin, "backend": "cuda", "major": 13}]
        if plugin
        else []
    )
    return with_packages(
        dist("jax", jax),
        dist("jaxlib", jaxlib),
        frameworks={"jax": {"distributions": [], "build": {"plugins": plugins}}},
    )


def test_jax_plugin_of_another_version_than_jaxlib_is_an_error(matrix):
    (verdict,) = compat_versions.jax_version_mismatch(
        make_facts(jax_stack("0.10.2", "0.10.2", "0.10.1")), matrix
    )
    assert "jax-cuda13-plugin 0.10.1 differs from jaxlib 0.10.2" in verdict.title
    assert shown_all(verdict.fixes[0]) == ("/env/bin/python -m pip install 'jax[cuda13]==0.10.2'",)


def test_jaxlib_newer_than_jax_is_an_error_and_a_matching_trio_is_silent(matrix):
    assert compat_versions.jax_version_mismatch(
        make_facts(jax_stack("0.10.1", "0.10.2", None)), matrix
    )
    assert (
        compat_versions.jax_version_mismatch(
            make_facts(jax_stack("0.10.2", "0.10.2", "0.10.2")), matrix
        )
        == []
    )


def test_numpy2_with_torch_2_2_is_an_error_and_with_2_3_silent(matrix):
    (verdict,) = compat_versions.numpy2_with_numpy1_build(
        make_facts(with_packages(dist("numpy", "2.1.0"), dist("torch", "2.2.2"))), matrix
    )
    assert "_ARRAY_API not found" in verdict.title
    assert shown_all(verdict.fixes[0]) == ("/env/bin/python -m pip install 'numpy<2'",)
    assert (
        compat_versions.numpy2_with_numpy1_build(
            make_facts(with_packages(dist("numpy", "2.1.0"), dist("torch", "2.3.0"))), matrix
        )
        == []
    )


def test_numpy1_does_not_apply(matrix):
    with pytest.raises(NotApplicable):
        compat_versions.numpy2_with_numpy1_build(
            make_facts(with_packages(dist("numpy", "1.26.4"))), matrix
        )


def test_torch_2_5_under_python_3_13_is_unsupported(matrix):
    facts = make_facts(with_packages(dist("torch", "2.5.1")), {"python": {"version": "3.13.0"}})
    (verdict,) = compat_versions.python_unsupported(facts, matrix)
    assert verdict.severity is Severity.WARNING and "<3.13,>=3.9" in verdict.title
    assert (
        compat_versions.python_unsupported(
            make_facts(with_packages(dist("torch", "2.13.0"))), matrix
        )
        == []
    )


def test_legacy_keras_without_tf_keras_and_a_mismatched_tf_keras(matrix):
    legacy = {"env": {"variables": {"TF_USE_LEGACY_KERAS": "1"}}}
    (verdict,) = compat_versions.keras_mismatch(
        make_facts(with_packages(dist("tensorflow", "2.21.0")), legacy), matrix
    )
    assert "tf-keras is not installed" in verdict.title
    assert shown_all(verdict.fixes[0]) == ("/env/bin/python -m pip install 'tf-keras~=2.21.0'",)
    facts = make_facts(with_packages(dist("tensorflow", "2.21.0"), dist("tf-keras", "2.20.1")))
    (verdict,) = compat_versions.keras_mismatch(facts, matrix)
    assert "does not match TensorFlow 2.21.0" in verdict.title


def test_keras3_with_a_torch_backend_older_than_2_1(matrix):
    facts = make_facts(
        with_packages(dist("keras", "3.15.1"), dist("torch", "2.0.1")),
        {"env": {"variables": {"KERAS_BACKEND": "torch"}}},
    )
    (verdict,) = compat_versions.keras_mismatch(facts, matrix)
    assert "needs torch 2.1.0 or newer" in verdict.title
    assert (
        compat_versions.keras_mismatch(
            make_facts(with_packages(dist("keras", "3.15.1"), dist("tensorflow", "2.21.0"))), matrix
        )
        == []
    )


def test_mxnet_is_retired(matrix):
    (verdict,) = compat_versions.retired_framework(
        make_facts(with_packages(dist("mxnet", "1.9.1"))), matrix
    )
    assert verdict.severity is Severity.WARNING and "retired" in verdict.title


def test_mxnets_retirement_names_a_maintained_alternative_per_use(matrix):
    def uses(*dists: dict) -> list[str]:
        (verdict,) = compat_versions.retired_framework(make_facts(with_packages(*dists)), matrix)
        return [f.summary.split(":")[0] for f in verdict.fixes]

    mxnet = dist("mxnet", "1.9.1")
    assert uses(mxnet) == [
        "Serving a trained model",
        "Training code",
        "Until then, pin the packages around it (NumPy, CUDA) to the versions it was built with.",
    ]
    gluonts, autogluon = dist("gluonts", "0.14.3"), dist("autogluon", "0.8.2")
    assert uses(mxnet, gluonts, autogluon)[:2] == ["Time-series models from GluonTS", "AutoGluon"]
    (verdict,) = compat_versions.retired_framework(
        make_facts(with_packages(mxnet, gluonts)), matrix
    )
    first = verdict.fixes[0]
    assert shown_all(first) == ("/env/bin/python -m pip install 'gluonts[torch]'",)
    assert not first.automatic and first.notes.startswith("Source: https://")


@pytest.mark.parametrize(
    ("numpy", "pinned"),
    [("1.23.5", False), ("1.24.0rc1", True), ("1.24.0", True), ("2.4.6", True), (None, False)],
)
def test_mxnet_keeps_a_numpy_below_124_until_the_move(numpy, pinned, matrix):
    """MXNet's last release binds np.bool, which NumPy 1.24 removed: at and above 1.24 the first
    fix pins NumPy below it; below it, or without NumPy's version, the move alone."""
    dists = [dist("mxnet", "1.9.1")] + ([dist("numpy", numpy)] if numpy else [])
    (verdict,) = compat_versions.retired_framework(make_facts(with_packages(*dists)), matrix)
    first = shown_all(verdict.fixes[0])
    assert (first == ("/env/bin/python -m pip install 'numpy<1.24'",)) is pinned, first
    assert [f.summary.split(":")[0] for f in verdict.fixes[pinned:]][:2] == [
        "Serving a trained model",
        "Training code",
    ]


def test_a_numpy_pin_the_fixes_cannot_render_is_refused():
    from dldoctor.matrix import MatrixError, _alternatives

    _alternatives({"framework": [{"distribution": "mxnet", "numpy_below": "1.24"}]})
    with pytest.raises(MatrixError, match="numpy_below"):
        _alternatives({"framework": [{"distribution": "mxnet", "numpy_below": "1.25"}]})


def test_an_alternative_for_a_framework_that_is_not_retired_is_refused():
    from dldoctor.matrix import MatrixError, _alternatives

    doc = {"framework": [{"distribution": "mxnet"}]}
    _alternatives({**doc, "alternative": [{"framework": "mxnet", "use": "u", "advice": "a"}]})
    with pytest.raises(MatrixError, match="not a retired framework"):
        _alternatives({**doc, "alternative": [{"framework": "torch", "use": "u", "advice": "a"}]})
    bad = {"framework": "mxnet", "use": "u", "advice": "a", "intents": [{"action": "rm"}]}
    with pytest.raises(MatrixError, match="known action"):
        _alternatives({**doc, "alternative": [bad]})


def test_a_cuda_build_of_mxnet_is_retired_too_under_its_own_name(matrix):
    frameworks = {"mxnet": {"distributions": [{"name": "mxnet-cu117", "version": "1.9.1"}]}}
    facts = make_facts(with_packages(dist("mxnet-cu117", "1.9.1"), frameworks=frameworks))
    (verdict,) = compat_versions.retired_framework(facts, matrix)
    assert verdict.title.startswith("mxnet-cu117 1.9.1 is retired")
    assert verdict.evidence["distribution"] == "mxnet-cu117"
    # Another framework's distribution is not MXNet's.
    other = {"torch": {"distributions": [{"name": "torch", "version": "2.9.0"}]}}
    facts = make_facts(with_packages(dist("torch", "2.9.0"), frameworks=other))
    assert compat_versions.retired_framework(facts, matrix) == []


# DD511, DD512 platforms

WINDOWS = {"system": {"os": {"name": "Windows"}}}


def test_tensorflow_after_2_10_on_native_windows_with_a_gpu(matrix):
    (verdict,) = compat_platform.windows_native_tensorflow_gpu(
        make_facts(WINDOWS, gpu_machine(), with_packages(dist("tensorflow", "2.15.0"))), matrix
    )
    assert "GPU support ended with 2.10" in verdict.title
    assert (
        compat_platform.windows_native_tensorflow_gpu(
            make_facts(WINDOWS, gpu_machine(), with_packages(dist("tensorflow", "2.10.1"))), matrix
        )
        == []
    )
    with pytest.raises(NotApplicable):
        compat_platform.windows_native_tensorflow_gpu(
            make_facts(gpu_machine(), with_packages(dist("tensorflow", "2.15.0"))), matrix
        )


MAC = {
    "accelerators": {"apple": {"is_macos": True, "hardware_arm64": True, "macos_version": "15.1"}},
    "python": {"machine": "arm64"},
}


def test_x86_python_under_rosetta_cannot_use_mps(matrix):
    facts = make_facts(
        MAC, {"python": {"machine": "x86_64"}}, with_packages(dist("torch", "2.13.0"))
    )
    (verdict,) = compat_platform.mps_unavailable(facts, matrix)
    assert "Rosetta" in verdict.title


def test_old_macos_for_the_torch_release(matrix):
    facts = make_facts(
        MAC,
        {"accelerators": {"apple": {"macos_version": "13.6"}}},
        with_packages(dist("torch", "2.13.0")),
    )
    (verdict,) = compat_platform.mps_unavailable(facts, matrix)
    assert "needs macOS 14.0 or newer" in verdict.title
    assert (
        compat_platform.mps_unavailable(
            make_facts(MAC, with_packages(dist("torch", "2.13.0"))), matrix
        )
        == []
    )


def test_kepler_with_an_old_driver_is_told_the_last_release_and_the_driver_it_needs(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu126", "12.6"), gpu("3.7", "Tesla K80", "470.82.01", "11.4")
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert verdict.fixes[0].summary.startswith(
        "The newest torch with code for these GPUs is 2.7 (CUDA 11.8), which needs driver 520.61.05 or newer"
    )


def test_an_older_release_without_wheels_for_this_python_is_never_proposed(matrix):
    facts = make_facts(
        torch_build("2.13.0+cu126", "12.6"),
        gpu("3.7", "Tesla K80", "535.54.03", "12.2"),
        {"python": {"version": "3.14.0"}},
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, matrix)
    assert "torch==" not in " ".join(shown_all(verdict.fixes[0]))
