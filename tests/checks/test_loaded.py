"""DD619 and the shadow DD611/DD612 name: the copy a framework loaded vs the copies its own
packages ship (recorded runtime facts and a recorded library map)."""

from __future__ import annotations

from typing import Any

from dldoctor.diagnosis import diagnose
from dldoctor.model import Severity, Status
from tests.checks.scenarios import gpu_machine, shown_all
from tests.checks.test_runtime import TORCH_CU121, error, judge, record, runtime

SITE = "/env/lib/python3.11/site-packages"
WHEEL = f"{SITE}/nvidia/nvjitlink/lib/libnvJitLink.so.12"
SYSTEM = "/usr/local/cuda-12.1/targets/x86_64-linux/lib/libnvJitLink.so.12.1.105"


def lib(path: str, key: str, stage: str = "end") -> dict[str, Any]:
    name = path.rsplit("/", 1)[1]
    return {"name": name, "path": path, "version": None, "source": "x", "library": key,
            "soname": None, "loaded_by": stage}  # fmt: skip


def candidate(path: str, real: str, via: str, version: str | None = None) -> dict[str, Any]:
    return {"path": path, "real": real, "soname": None, "version": version, "via": via}


def library_map(libraries: dict[str, list[dict[str, Any]]], framework: str = "torch") -> dict:
    entries = {k: {"requested": None, "candidates": v} for k, v in libraries.items()}
    frameworks = {framework: {"anchor": f"{SITE}/torch/lib/libtorch_cuda.so", "libraries": entries}}
    return {"cuda": {"library_map": {"copies": {}, "frameworks": frameworks, "errors": {}}}}


def ld_path(value: str) -> dict[str, Any]:
    return {"env": {"variables": {"LD_LIBRARY_PATH": value}}}


NVJITLINK_SHADOWED = library_map(
    {
        "nvjitlink": [
            candidate(
                "/usr/local/cuda/lib64/libnvJitLink.so.12", SYSTEM, "LD_LIBRARY_PATH", "12.1.105"
            ),
            candidate(WHEEL, WHEEL, "runpath", "12.4.127"),
        ]
    }
)


def test_a_library_loaded_through_ld_library_path_instead_of_the_wheel_is_named_with_the_repair(
    matrix,
):
    torch = record(libraries=[lib(SYSTEM, "nvjitlink")])
    outcomes = judge(
        matrix,
        gpu_machine(),
        TORCH_CU121,
        NVJITLINK_SHADOWED,
        ld_path("/usr/local/cuda/lib64:/opt/tools/lib"),
        runtime(torch=torch),
    )
    (finding,) = outcomes["DD619"].findings
    assert finding.severity is Severity.WARNING
    assert finding.title == (
        f"PyTorch 2.5.1+cu121 loaded {SYSTEM} from LD_LIBRARY_PATH (/usr/local/cuda/lib64) "
        f"instead of its own copy ({WHEEL})"
    )
    (remedy,) = finding.fixes
    assert shown_all(remedy) == ("export LD_LIBRARY_PATH=/opt/tools/lib",)
    assert [(i.action, i.variable, i.value) for i in remedy.intents] == [
        ("set", "LD_LIBRARY_PATH", "/opt/tools/lib")
    ]
    assert finding.evidence["libraries"][0]["own_copies"][0]["version"] == "12.4.127"


def test_the_only_directory_on_the_path_is_unset(matrix):
    torch = record(libraries=[lib(SYSTEM, "nvjitlink")])
    outcomes = judge(
        matrix,
        TORCH_CU121,
        NVJITLINK_SHADOWED,
        ld_path("/usr/local/cuda/lib64/"),
        runtime(torch=torch),
    )
    (finding,) = outcomes["DD619"].findings
    assert shown_all(finding.fixes[0]) == ("unset LD_LIBRARY_PATH",)


def test_the_frameworks_own_copy_loaded_is_healthy(matrix):
    torch = record(libraries=[lib(WHEEL, "nvjitlink")])
    outcomes = judge(
        matrix,
        TORCH_CU121,
        NVJITLINK_SHADOWED,
        ld_path("/usr/local/cuda/lib64"),
        runtime(torch=torch),
    )
    assert outcomes["DD619"].status is Status.PASSED and not outcomes["DD619"].findings


def test_a_library_its_packages_do_not_ship_is_the_systems_to_load(matrix):
    only_system = library_map(
        {"nvjitlink": [candidate("/usr/local/cuda/lib64/libnvJitLink.so.12", SYSTEM, "ldconfig")]}
    )
    torch = record(libraries=[lib(SYSTEM, "nvjitlink")])
    outcomes = judge(matrix, TORCH_CU121, only_system, runtime(torch=torch))
    assert not outcomes["DD619"].findings


def test_without_a_library_map_the_own_copies_are_unknown_and_nothing_is_claimed(matrix):
    torch = record(libraries=[lib(SYSTEM, "nvjitlink")])
    outcomes = judge(matrix, TORCH_CU121, runtime(torch=torch))
    assert not outcomes["DD619"].findings
    assert outcomes["DD619"].status is Status.NOT_JUDGED
    assert outcomes["DD619"].reason == (
        "not judged: torch (cuda.library_map.frameworks.torch is unknown)"
    )


def test_nothing_loaded_is_not_applicable(matrix):
    outcomes = judge(matrix, TORCH_CU121, NVJITLINK_SHADOWED, runtime(torch=record()))
    assert outcomes["DD619"].status is Status.SKIPPED


def test_every_library_shadowed_from_one_directory_is_one_finding(matrix):
    cublas_sys = "/usr/local/cuda-12.1/targets/x86_64-linux/lib/libcublasLt.so.12.1.3.1"
    cublas_own = f"{SITE}/nvidia/cublas/lib/libcublasLt.so.12"
    shadowed = library_map(
        {
            "nvjitlink": NVJITLINK_SHADOWED["cuda"]["library_map"]["frameworks"]["torch"][
                "libraries"
            ]["nvjitlink"]["candidates"],
            "cublaslt": [
                candidate("/usr/local/cuda/lib64/libcublasLt.so.12", cublas_sys, "LD_LIBRARY_PATH"),
                candidate(cublas_own, cublas_own, "runpath"),
            ],
        }
    )
    torch = record(libraries=[lib(SYSTEM, "nvjitlink", "import"), lib(cublas_sys, "cublaslt")])
    outcomes = judge(
        matrix, TORCH_CU121, shadowed, ld_path("/usr/local/cuda/lib64"), runtime(torch=torch)
    )
    (finding,) = outcomes["DD619"].findings
    assert finding.title == (
        "PyTorch 2.5.1+cu121 loaded 2 CUDA libraries from LD_LIBRARY_PATH (/usr/local/cuda/lib64) "
        "instead of its own copies (libnvJitLink.so.12.1.105, libcublasLt.so.12.1.3.1)"
    )
    assert [e["library"] for e in finding.evidence["libraries"]] == ["nvjitlink", "cublaslt"]


def test_an_undefined_symbol_names_the_ld_library_path_copy_once_as_the_root_cause(matrix):
    victim = f"{SITE}/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12"
    torch = record(status="fail", libraries=[])  # the failed load unmapped what it had loaded
    torch["import"] = {
        "module": "torch",
        "ok": False,
        "error": error(
            "ImportError",
            f"{victim}: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12",
        ),
    }
    outcomes = judge(
        matrix,
        gpu_machine(),
        TORCH_CU121,
        NVJITLINK_SHADOWED,
        ld_path("/usr/local/cuda/lib64"),
        runtime(torch=torch),
    )
    (finding,) = outcomes["DD612"].findings
    assert finding.title == (
        f"PyTorch 2.5.1+cu121 finds {SYSTEM} through LD_LIBRARY_PATH (/usr/local/cuda/lib64) "
        f"instead of its own copy ({WHEEL}): libcusparse.so.12 needs __nvJitLinkComplete_12_4, "
        "which that copy lacks"
    )
    assert shown_all(finding.fixes[0]) == ("unset LD_LIBRARY_PATH",)
    assert outcomes["DD619"].status is Status.SKIPPED  # nothing mapped: DD612 alone says it
    findings = [f for o in outcomes.values() for f in o.findings]
    errors = [f for f in diagnose(findings).findings if f.severity is Severity.ERROR]
    assert [f.code for f in errors] == ["DD612"]


def test_a_cudnn_mismatch_with_the_shadow_loaded_is_one_finding_not_two(matrix):
    own = f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"
    system = "/usr/lib/x86_64-linux-gnu/libcudnn.so.9.0.0"
    cudnn = library_map(
        {
            "cudnn": [
                candidate("/usr/lib/x86_64-linux-gnu/libcudnn.so.9", system, "LD_LIBRARY_PATH"),
                candidate(own, own, "runpath", "9.1.0.70"),
            ]
        }
    )
    torch = record(libraries=[lib(system, "cudnn")])
    torch["info_errors"] = {
        "cudnn_version": "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  "
        "against (9, 1, 0) but found runtime version (9, 0, 0)."
    }
    outcomes = judge(
        matrix, gpu_machine(), TORCH_CU121, cudnn, ld_path("/usr/lib/x86_64-linux-gnu"),
        runtime(torch=torch),
    )  # fmt: skip
    (finding,) = outcomes["DD611"].findings
    assert finding.evidence["shadowing_copy"] == system
    assert shown_all(finding.fixes[0]) == ("unset LD_LIBRARY_PATH",)
    assert not outcomes["DD619"].findings  # the same copy: DD611 is its finding
