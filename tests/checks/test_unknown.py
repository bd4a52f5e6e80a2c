"""Unknown facts judge nothing: each check, where it fires, is "not judged" once its input is unknown.

Each case is a machine on which the check fires, and the facts it cannot judge without; setting
them to null (unknown, as an old report or a paste leaves them) must turn the finding into the
outcome "not judged: <fact> is unknown", never into a claim and never into "passed".
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dldoctor.checks.registry import all_checks
from dldoctor.facts.model import Facts
from dldoctor.model import Status
from tests.checks.scenarios import BASE, dist, gpu_machine, merge, with_packages
from tests.checks.test_builds import CPU_STACK, NO_AVX, TORCH_CPU
from tests.checks.test_compat import TF_216_GPU, gpu, jax_stack, torch_build
from tests.checks.test_driver import NVIDIA_PCI, TOOLKIT_13

WSL = {
    "system": {"wsl": {"is_wsl": True, "version": 2}},
    "nvidia": {"libcuda": {"wsl_libcuda": False}},
}
MAC_ROSETTA = {
    "accelerators": {"apple": {"is_macos": True, "hardware_arm64": True, "macos_version": "15.1"}},
    "python": {"machine": "x86_64"},
}
DUPLICATE_NUMPY = {
    "packages": {
        "duplicates": [
            {
                "name": "numpy",
                "copies": [
                    {
                        "version": "1.26.4",
                        "location": "/home/u/.local/lib/python3.11/site-packages",
                    },
                    {"version": "2.4.6", "location": "/env/lib/python3.11/site-packages"},
                ],
            }
        ]
    }
}
CLASH = {
    "packages": {
        "module_conflicts": [
            {"module": "tensorflow", "distributions": ["tensorflow", "tensorflow-cpu"]}
        ]
    }
}
UNMET = {
    "packages": {
        "unsatisfied": [
            {
                "distribution": "torchvision",
                "version": "0.28.0",
                "requirement": "torch==2.13.0",
                "installed": "2.12.0",
                "problem": "version",
                "detail": None,
            }
        ]
    }
}
PINS = with_packages(dist("torch", "2.13.0"), dist("tensorflow", "2.21.0"))
PINS["packages"]["nvidia_pins"] = {
    "torch": ["nvidia-cudnn-cu12==9.10.2.21"],
    "tensorflow": ["nvidia-cudnn-cu12<9.4,>=9.3"],
}


def cvd(value: str) -> dict[str, Any]:
    return {"env": {"variables": {"CUDA_VISIBLE_DEVICES": value}}}


# (check code, the machine on which it fires, the facts that, unknown, leave it unable to judge)
CASES: list[tuple[str, list[dict[str, Any]], tuple[str, ...]]] = [
    ("DD101", [TOOLKIT_13], ("cuda.toolkits",)),
    ("DD101", [TOOLKIT_13], ("nvidia.nvml.status",)),
    ("DD101", [TOOLKIT_13], ("accelerators.pci.nvidia",)),
    (
        "DD102",
        [{"nvidia": {"nvml": {"status": "lib_rm_version_mismatch"}}}],
        ("nvidia.nvml.status",),
    ),
    # The issue's own case: an unknown NVML status is not "NVML cannot talk to the driver".
    ("DD103", [{"nvidia": {"nvml": {"status": "no_permission"}}}], ("nvidia.nvml.status",)),
    ("DD104", [NVIDIA_PCI], ("nvidia.nvml.status",)),
    ("DD104", [NVIDIA_PCI], ("accelerators.pci.nvidia",)),
    ("DD201", [TORCH_CPU, gpu_machine()], ("packages.frameworks.torch.build.cuda",)),
    ("DD201", [TORCH_CPU, gpu_machine()], ("packages.frameworks",)),
    (
        "DD201",
        [TORCH_CPU, gpu_machine()],
        ("nvidia.gpus", "nvidia.nvml.status", "accelerators.pci.nvidia"),
    ),
    ("DD202", [CPU_STACK, NO_AVX], ("system.cpu.flags",)),
    ("DD202", [CPU_STACK, NO_AVX], ("system.architecture",)),
    ("DD301", [DUPLICATE_NUMPY], ("packages.duplicates",)),
    ("DD301", [DUPLICATE_NUMPY], ("packages.duplicates.0.name",)),
    ("DD302", [CLASH], ("packages.module_conflicts",)),
    ("DD303", [UNMET], ("packages.unsatisfied",)),
    ("DD401", [gpu_machine(8), cvd("")], ("env.variables",)),
    (
        "DD401",
        [gpu_machine(8), cvd("")],
        ("nvidia.gpus", "nvidia.nvml.status", "accelerators.pci.nvidia"),
    ),
    ("DD402", [gpu_machine(2), cvd("GPU-deadbeef")], ("nvidia.gpus.0.uuid",)),
    ("DD402", [gpu_machine(2), cvd("4")], ("env.variables",)),
    (
        "DD501",
        [torch_build("2.13.0+cu130", "13.0"), gpu("9.0", "H100", "570.86.10", "12.8")],
        ("nvidia.driver_version", "nvidia.proc_driver.version"),
    ),
    ("DD502", [WSL], ("system.wsl.is_wsl",)),
    ("DD502", [WSL], ("nvidia.libcuda.wsl_libcuda",)),
    (
        "DD503",
        [torch_build("2.6.0+cu126", "12.6"), gpu("12.0", "RTX 5090", "580.65.06", "13.0")],
        ("nvidia.gpus.0.compute_capability",),
    ),
    ("DD504", [TF_216_GPU, gpu_machine()], ("cuda.libraries.cudnn",)),
    ("DD504", [TF_216_GPU, gpu_machine()], ("packages.nvidia_wheels",)),
    ("DD505", [PINS], ("packages.nvidia_pins",)),
    ("DD506", [jax_stack("0.10.1", "0.10.2", None)], ("packages.distributions.1.version",)),
    (
        "DD507",
        [with_packages(dist("numpy", "2.1.0"), dist("torch", "2.2.2"))],
        ("packages.distributions.0.version",),
    ),
    (
        "DD507",
        [with_packages(dist("numpy", "2.1.0"), dist("torch", "2.2.2"))],
        ("packages.distributions.1.version",),
    ),
    (
        "DD508",
        [with_packages(dist("torch", "2.5.1")), {"python": {"version": "3.13.0"}}],
        ("python.version",),
    ),
    (
        "DD509",
        [with_packages(dist("tensorflow", "2.21.0"), dist("tf-keras", "2.20.1"))],
        ("packages.distributions.0.version",),
    ),
    ("DD510", [with_packages(dist("mxnet", "1.9.1"))], ("packages.distributions",)),
    (
        "DD524",
        [
            with_packages(
                dist("oneflow", "0.7.0"),
                frameworks={
                    "oneflow": {
                        "distributions": [{"name": "oneflow", "version": "0.7.0"}],
                        "build": {"compiled_core": False},
                    }
                },
            )
        ],
        ("packages.frameworks.oneflow.build.compiled_core",),
    ),
    (
        "DD525",
        [
            {
                "packages": {
                    "darknet": {
                        "searched": ["/opt/darknet"],
                        "objects": [
                            {
                                "path": "/opt/darknet/darknet",
                                "found_via": "common build directory",
                                "kind": "executable",
                                "needed": ["libcudart.so.12", "libc.so.6"],
                                "built_with": {
                                    "cuda_runtime": "libcudart.so.12",
                                    "cublas": False,
                                    "cudnn": False,
                                    "opencv": False,
                                },
                                "missing": ["libcudart.so.12"],
                                "error": None,
                            }
                        ],
                    }
                }
            }
        ],
        ("packages.darknet",),
    ),
    (
        "DD511",
        [
            {"system": {"os": {"name": "Windows"}}},
            gpu_machine(),
            with_packages(dist("tensorflow", "2.15.0")),
        ],
        ("system.os.name",),
    ),
    (
        "DD511",
        [
            {"system": {"os": {"name": "Windows"}}},
            gpu_machine(),
            with_packages(dist("tensorflow", "2.15.0")),
        ],
        ("nvidia.gpus", "nvidia.nvml.status", "accelerators.pci.nvidia"),
    ),
    (
        "DD512",
        [MAC_ROSETTA, with_packages(dist("torch", "2.13.0"))],
        ("accelerators.apple.is_macos",),
    ),
    (
        "DD512",
        [MAC_ROSETTA, with_packages(dist("torch", "2.13.0"))],
        ("accelerators.apple.hardware_arm64",),
    ),
]


CASES.append(("DD105", [{"nvidia": {"nvml": {"status": "hung"}}}], ("nvidia.nvml.status",)))
CASES.append(
    (
        "DD106",
        [{"nvidia": {"nvml": {"status": "crashed", "signal": "SIGSEGV"}}}],
        ("nvidia.nvml.status",),
    )
)
CASES.append(("DD514", [{"python": {"version": "2.7.18"}}], ("python.version",)))
SMALL_SHM = {
    "system": {
        "container": {"kind": "docker", "evidence": "/.dockerenv exists", "ipc": "private"},
        "shm": {"path": "/dev/shm", "total_bytes": 64 << 20, "free_bytes": 64 << 20},
    }
}
CASES.append(("DD203", [SMALL_SHM], ("system.container.kind",)))
CASES.append(("DD203", [SMALL_SHM], ("system.shm.total_bytes",)))


def _extensions(*items: dict[str, Any], cuda: Any = "13.0", torch: str = "2.13.0+cu130") -> dict:
    """torch and its extensions (dldoctor/facts/extensions.py's records)."""
    from tests.checks.test_extensions import ext  # noqa: F401  (the record builder)

    return merge(
        with_packages(
            dist("torch", torch),
            frameworks={"torch": {"distributions": [], "build": {"cuda": cuda}}},
        ),
        {"packages": {"extensions": {"torch_cxx11_abi": True, "installed": list(items)}}},
    )


def _ext(key: str, version: str, **built: Any) -> dict[str, Any]:
    from tests.checks.test_extensions import ext

    return ext(key, version, **built)


_BUILD = {
    "cuda": {
        "build_tools": {
            "requested": True,
            "cuda_home": "/usr/local/cuda-12.8",
            "cuda_home_chosen_by": "CUDA_HOME",
            "nvcc": "/usr/local/cuda-12.8/bin/nvcc",
            "nvcc_version": "12.8.93",
            "host_gcc_max": 14,
            "host_compiler": {"command": "gcc", "chosen_by": "PATH", "path": "/usr/bin/gcc",
                              "kind": "gcc", "version": "15.1.0", "error": None},
            "ninja": False,
        },
        "nvcc_on_path": {"path": "/usr/local/cuda-13.0/bin/nvcc", "toolkit_path": "/usr/local/cuda-13.0"},
    },
    "python": {"headers": False},
}  # fmt: skip
_READY = merge(
    _BUILD,
    {
        "cuda": {
            "build_tools": {
                "host_compiler": {"version": "13.2.0"},
                "ninja": "/usr/bin/ninja",
                "cuda_home": "/usr/local/cuda-13.0",
            }
        },
        "python": {"headers": "/usr/include/python3.11"},
    },
)
CASES.extend(
    [
        ("DD520", [_extensions(_ext("flash-attn", "2.8.3", torch="2.6"))], ("packages.extensions",)),
        (
            "DD520",
            [_extensions(_ext("flash-attn", "2.8.3", torch="2.13", cxx11_abi=False))],
            ("packages.extensions.torch_cxx11_abi",),
        ),
        (
            "DD521",
            [_extensions(_ext("flash-attn", "2.8.3", cuda="12"))],
            ("packages.frameworks.torch.build.cuda",),
        ),
        (
            "DD521",
            [_extensions(_ext("flash-attn", "2.8.3", cuda="12"))],
            ("packages.extensions.installed.0.built_for.cuda",),
        ),
        (
            "DD522",
            [_extensions(_ext("tensorrt-cu13", "10.13", cuda="13", framework="tensorrt"), cuda="12.6",
                         torch="2.13.0+cu126"), gpu_machine(driver="575.57.08")],
            ("nvidia.driver_version", "nvidia.proc_driver.version"),
        ),
        ("DD523", [_extensions(_ext("apex", "0.1", modules=[]))], ("packages.extensions.installed.0.modules",)),
        ("DD530", [_extensions(cuda="13.0"), _BUILD], ("cuda.build_tools.nvcc_version",)),
        ("DD530", [_extensions(_ext("deepspeed", "0.16.0", modules=[]), cuda="13.0"), _BUILD], ("cuda.build_tools",)),
        ("DD531", [_extensions(cuda="12.8"), _BUILD], ("cuda.build_tools.host_compiler.version",)),
        ("DD532", [_extensions(cuda="12.8"), _BUILD], ("packages.frameworks.torch.build.cuda",)),
        ("DD533", [_extensions(cuda="12.8"), _BUILD], ("cuda.build_tools.ninja",)),
        ("DD534", [_extensions(cuda="12.8"), _BUILD], ("python.headers",)),
        ("DD535", [_extensions(cuda="12.8"), _READY], ("cuda.build_tools.nvcc_version",)),
        ("DD535", [_extensions(cuda="12.8"), _READY], ("python.headers",)),
        ("DD536", [_extensions(_ext("flash-attn", "2.8.3", modules=[]), cuda="12.8"), _READY,
                   {"system": {"memory": {"available_bytes": 10 * 1024**3}}}],
         ("system.memory.available_bytes",)),
        ("DD536", [_extensions(_ext("flash-attn", "2.8.3", modules=[]), cuda="12.8"), _READY,
                   {"system": {"memory": {"available_bytes": 10 * 1024**3}}}],
         ("system.cpu.usable_cores",)),
        ("DD528", [with_packages(dist("torch", "2.5.1"), dist("triton", "3.0.0"),
                                 frameworks={"torch": {"distributions": [], "build": {"cuda": "12.4"}}})],
         ("packages.distributions",)),
    ]
)  # fmt: skip
# Checks of what the extension probe children saw (facts.runtime.extensions): runtime checks.
RUNTIME_EXTENSION = ("DD526", "DD527")


def _forget(data: dict[str, Any], path: str) -> None:
    """Make the fact at a dotted path unknown (null), as an old report or a paste would."""
    *parents, leaf = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(leaf)] = None
    else:
        node[leaf] = None


def _run(code: str, overrides: list[dict[str, Any]], unknown: tuple[str, ...], matrix: Any):
    data = copy.deepcopy(BASE)
    for override in overrides:
        data = merge(data, override)
    for path in unknown:
        _forget(data, path)
    (check,) = [c for c in all_checks() if c.code == code]
    return check.run(Facts.from_dict(data), matrix)


@pytest.mark.parametrize(
    ("code", "overrides", "unknown"), CASES, ids=[f"{c}-{'+'.join(u)}" for c, _, u in CASES]
)
def test_a_check_whose_input_is_unknown_is_not_judged(code, overrides, unknown, matrix):
    fired = _run(code, overrides, (), matrix)
    assert fired.status is Status.FOUND, fired.reason  # the scenario is one where it fires
    outcome = _run(code, overrides, unknown, matrix)
    assert outcome.findings == ()
    assert outcome.status is Status.NOT_JUDGED
    assert outcome.reason.startswith("not judged: ") and "unknown" in outcome.reason


@pytest.mark.parametrize("code", ["DD304", "DD513"])
def test_conda_checks_are_not_judged_when_the_conda_records_are_unknown(code, tmp_path, matrix):
    from tests.checks.test_conda import ENV_SITE, conda_env, packages, torch_frame

    section = conda_env(tmp_path, "conda-forge-cuda")
    torch = dist("torch", "1.13.0", location=ENV_SITE, installer="pip")
    fires = packages(section, torch, frameworks=torch_frame("1.13.0", "11.2"))
    assert _run(code, [fires], (), matrix).status is Status.FOUND
    outcome = _run(code, [fires], ("packages.conda",), matrix)
    assert outcome.status is Status.NOT_JUDGED and "packages.conda" in outcome.reason


def test_every_check_outside_the_runtime_probes_has_an_unknown_case():
    covered = {code for code, _, _ in CASES} | {"DD304", "DD513"}
    static = {
        c.code
        for c in all_checks()
        if not c.code.startswith("DD6") and c.code not in RUNTIME_EXTENSION
    }
    assert static <= covered, sorted(static - covered)


def test_runtime_checks_claim_nothing_when_no_probe_facts_are_known(matrix):
    """DD6xx judge what the probes saw: with the runtime section unknown, none may fire."""
    facts = Facts.from_dict(merge(copy.deepcopy(BASE), {**gpu_machine(), "runtime": None}))
    for check in all_checks():
        if check.code.startswith("DD6") or check.code in RUNTIME_EXTENSION:
            assert check.run(facts, matrix).findings == (), check.code


def _probed(**record: Any) -> Facts:
    from tests.checks.test_runtime import TORCH_CU121, runtime
    from tests.checks.test_runtime import record as probe_record

    data = merge(merge(copy.deepcopy(BASE), gpu_machine()), TORCH_CU121)
    return Facts.from_dict(merge(data, runtime(torch=probe_record(**record))))


@pytest.mark.parametrize(
    ("code", "fires", "unknown"),
    [
        # the devices a framework lists: unknown, or never listed because the probe failed first
        ("DD605", {"devices": [{"id": "cpu", "kind": "cpu"}]}, {"devices": None}),
        (
            "DD605",
            {"devices": [{"id": "cpu", "kind": "cpu"}]},
            {"devices": [], "probe_error": {"type": "AttributeError", "message": "no attribute"}},
        ),
        # the smoke tests it ran: unknown is not "none could run"
        ("DD610", {"smoke": []}, {"smoke": None}),
    ],
    ids=["DD605-devices", "DD605-probe-error", "DD610-smoke"],
)
def test_a_runtime_check_whose_record_is_unknown_is_not_judged(code, fires, unknown, matrix):
    (check,) = [c for c in all_checks() if c.code == code]
    assert check.run(_probed(**fires), matrix).status is Status.FOUND
    outcome = check.run(_probed(**unknown), matrix)
    assert outcome.findings == ()
    assert outcome.status is Status.NOT_JUDGED and "unknown" in outcome.reason


_NOT_SEEN = ("nvidia.gpus", "nvidia.nvml.status", "accelerators.pci.nvidia")


@pytest.mark.parametrize("code", ["DD503", "DD605"])
def test_no_gpu_is_a_reason_to_skip_only_where_nvml_or_the_bus_was_read(code, matrix):
    """A paste that never showed NVML or the PCI bus has not shown that there is no GPU."""
    cuda_torch = [torch_build("2.6.0+cu126", "12.6")]
    unseen = _run(code, cuda_torch, _NOT_SEEN, matrix)
    assert unseen.status is Status.NOT_JUDGED, unseen.reason
    assert "nvidia.gpus" in unseen.reason and "are unknown" in unseen.reason
    read_none = _run(code, cuda_torch, (), matrix)  # BASE: NVML and the bus read, no GPU
    assert read_none.status is Status.SKIPPED, read_none.reason
    # The bus shows a GPU NVML cannot list (no driver): other checks say why; this one has no GPU.
    bus_only = _run(code, [*cuda_torch, NVIDIA_PCI], ("nvidia.gpus",), matrix)
    assert bus_only.status is Status.SKIPPED, bus_only.reason
