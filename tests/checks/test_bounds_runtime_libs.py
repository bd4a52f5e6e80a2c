"""DD611/DD612 (runtime_libs) from the rule: cuDNN's version integers as cudnnGetVersion writes
them, where every copy of a library is, and which copy each finding names and repairs."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dldoctor.checks import runtime_libs, runtime_loaded
from dldoctor.checks.registry import run_checks
from dldoctor.matrix import load
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages
from tests.checks.test_loaded import SITE, candidate, ld_path, lib, library_map
from tests.checks.test_runtime import TORCH_CU121, record, runtime

MATRIX = load()
SYSTEM_CUDNN = "/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7"
MISMATCH = (
    "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (9, 1, 0) but "
    "found runtime version (8, 9, 7)."
)


@given(st.integers(1, 8), st.integers(0, 9), st.integers(0, 99))
def test_cudnn_before_9_reads_major_thousands_minor_hundreds(major, minor, patch):
    """cudnnGetVersion before 9: major * 1000 + minor * 100 + patch (8907 is 8.9.7)."""
    assert runtime_libs.cudnn_dotted(str(major * 1000 + minor * 100 + patch)) == (
        f"{major}.{minor}.{patch}"
    )


@given(st.integers(0, 99), st.integers(0, 99))
def test_cudnn_9_reads_major_ten_thousands(minor, patch):
    """From cuDNN 9: major * 10000 + minor * 100 + patch (90100 is 9.1.0, 91000 is 9.10.0)."""
    assert runtime_libs.cudnn_dotted(str(90000 + minor * 100 + patch)) == f"9.{minor}.{patch}"


def test_cudnn_written_as_a_tuple_or_dotted_is_kept_and_words_are_none():
    assert runtime_libs.cudnn_dotted("8, 9, 2") == "8.9.2"
    assert runtime_libs.cudnn_dotted("9.1.0") == "9.1.0"
    assert runtime_libs.cudnn_dotted("cudnn") is None and runtime_libs.cudnn_dotted(None) is None


def test_a_product_name_is_the_loaders_file_name():
    """JAX names libraries by product ("cuSOLVER", "CUDA"); the loader by file."""
    assert runtime_loaded.file_stem("cuSOLVER") == "libcusolver"
    assert runtime_loaded.file_stem("CUDA") == "libcudart"
    assert runtime_loaded.file_stem("libnvJitLink.so.12") == "libnvJitLink"
    assert runtime_loaded.file_stem("curand2") == "libcurand2"


def test_the_copies_of_a_library_are_each_file_once_with_its_version():
    record_ = record(
        libraries=[
            {"name": "libcudnn.so.9", "path": f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9",
             "source": "pip wheel"},
            {"name": "libcublas.so.12", "path": "/x/libcublas.so.12", "source": "system"},
        ]
    )  # fmt: skip
    facts = make_facts(
        {
            "cuda": {
                "libraries": {"cudnn": [{"path": SYSTEM_CUDNN, "version": "8.9.7"}]},
                "library_map": {
                    "copies": {
                        "cudnn": [
                            {"path": SYSTEM_CUDNN, "version": "8.9.7"},
                            {"path": "/opt/cudnn/lib/libcudnn.so.9", "version": "9.1.0"},
                        ],
                        "cublas": [{"path": "/x/libcublas.so.12", "version": "12.4"}],
                    }
                },
            }
        },
        ld_path("/opt/cudnn/lib/:relative"),
    )
    assert runtime_libs.copies(facts, record_, "libcudnn") == {
        "loaded": [{"path": f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9", "source": "pip wheel"}],
        "on_LD_LIBRARY_PATH": [{"path": "/opt/cudnn/lib/libcudnn.so.9", "version": "9.1.0"}],
        "elsewhere": [
            {"path": SYSTEM_CUDNN, "version": "8.9.7"},
            {"path": "/opt/cudnn/lib/libcudnn.so.9", "version": "9.1.0"},
        ],
        "LD_LIBRARY_PATH": ["/opt/cudnn/lib", "relative"],
    }


def _dd(code: str, *overrides: dict[str, Any]):
    (found,) = [o for o in run_checks(make_facts(*overrides), MATRIX) if o.code == code]
    return found.findings


def test_a_cudnn_mismatch_with_a_system_copy_loaded_names_it_and_where_to_remove_it():
    """Loaded from outside the wheels but not through LD_LIBRARY_PATH (ldconfig): the copy is
    named, with the loader's path to clean; the evidence lists every copy."""
    torch = record(
        libraries=[{"name": "libcudnn.so.8", "path": SYSTEM_CUDNN, "source": "ldconfig"}],
        info_errors={"cudnn_version": MISMATCH},
    )
    (finding,) = _dd("DD611", gpu_machine(), TORCH_CU121, runtime(torch=torch))
    assert finding.evidence["shadowing_copy"] == SYSTEM_CUDNN
    assert finding.evidence["cudnn_copies"]["loaded"] == [
        {"path": SYSTEM_CUDNN, "source": "ldconfig"}
    ]
    assert "own_copies" not in finding.evidence
    summaries = [f.summary for f in finding.fixes]
    assert summaries[0] == (
        f"{SYSTEM_CUDNN} is loaded instead of the copy torch's NVIDIA wheels provide: remove it "
        "from the loader's path (ldconfig, LD_LIBRARY_PATH) or upgrade it."
    )
    assert summaries[1].startswith("Install cuDNN 9.1.0 or a newer 9.x")


def test_a_cudnn_mismatch_with_the_wheels_copy_loaded_names_no_shadow():
    own = f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"
    torch = record(
        libraries=[{"name": "libcudnn.so.9", "path": own, "source": "pip wheel"}],
        info_errors={"cudnn_version": MISMATCH},
    )
    (finding,) = _dd("DD611", gpu_machine(), TORCH_CU121, runtime(torch=torch))
    assert finding.evidence["shadowing_copy"] is None
    assert finding.fixes[0].summary.startswith("Install cuDNN 9.1.0 or a newer 9.x")


def test_a_cudnn_mismatch_through_the_library_map_carries_the_frameworks_own_copies():
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
    torch = record(libraries=[lib(system, "cudnn")], info_errors={"cudnn_version": MISMATCH})
    found = _dd(
        "DD611", gpu_machine(), TORCH_CU121, cudnn, ld_path("/usr/lib/x86_64-linux-gnu"),
        runtime(torch=torch),
    )  # fmt: skip
    (finding,) = found
    assert finding.evidence["own_copies"] == [
        {"path": own, "version": "9.1.0.70", "via": "runpath"}
    ]


JAX = with_packages(
    dist("jax", "0.4.30"),
    dist("jaxlib", "0.4.30"),
    frameworks={"jax": {"distributions": [{"name": "jaxlib", "version": "0.4.30"}]}},
)
CUSOLVER_OLD = (
    "Unable to initialize backend 'cuda': Found cuSOLVER version 11002, but JAX was built against "
    "version 11401, which is newer."
)


def test_jax_finding_an_older_cuda_library_names_the_copy_on_ld_library_path():
    jax = record(output=[CUSOLVER_OLD])
    jax["import"] = {"module": "jax", "ok": True, "version": "0.4.30", "error": None}
    old = "/usr/local/cuda-11.2/lib64/libcusolver.so.11"
    static = {"cuda": {"libraries": {"cusolver": [{"path": old, "version": "11.0.2"}]}}}
    (finding,) = _dd(
        "DD612", gpu_machine(), JAX, static, ld_path("/usr/local/cuda-11.2/lib64"), runtime(jax=jax)
    )
    assert finding.evidence["library"] == "libcusolver"
    assert finding.evidence["shadowing_copy"] == old
    assert finding.title.endswith(f" ({old})")
    assert shown_all(finding.fixes[0]) == ("unset LD_LIBRARY_PATH",)


def test_a_shadowing_copy_found_through_ldconfig_is_named_without_a_path_entry():
    """The library map's pick came through ldconfig: no LD_LIBRARY_PATH entry in the title."""
    victim = f"{SITE}/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12"
    own = f"{SITE}/nvidia/nvjitlink/lib/libnvJitLink.so.12"
    system = "/usr/lib/x86_64-linux-gnu/libnvJitLink.so.12.1.105"
    shadowed = library_map(
        {
            "nvjitlink": [
                candidate("/usr/lib/x86_64-linux-gnu/libnvJitLink.so.12", system, "ldconfig"),
                candidate(own, own, "runpath", "12.4.127"),
            ]
        }
    )
    torch = record(status="fail", libraries=[])
    torch["import"] = {
        "module": "torch",
        "ok": False,
        "error": {
            "type": "ImportError",
            "message": f"{victim}: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12",
            "traceback": [],
        },
    }
    (finding,) = _dd("DD612", gpu_machine(), TORCH_CU121, shadowed, runtime(torch=torch))
    assert finding.title == (
        f"PyTorch 2.5.1+cu121 finds {system} instead of its own copy ({own}): libcusparse.so.12 "
        "needs __nvJitLinkComplete_12_4, which that copy lacks"
    )
    assert finding.fixes[0].summary.startswith(
        f"{system} is loaded instead of the copy PyTorch ships"
    )


def test_a_copy_is_on_ld_library_path_however_the_entry_spells_its_directory():
    """ "/opt//cudnn/./lib/" is the directory /opt/cudnn/lib to the loader."""
    facts = make_facts(
        {
            "cuda": {
                "library_map": {
                    "copies": {
                        "cudnn": [{"path": "/opt/cudnn/lib/libcudnn.so.9", "version": "9.1"}]
                    }
                }
            }
        },
        ld_path("/opt//cudnn/./lib/"),
    )
    found = runtime_libs.copies(facts, record(libraries=[]), "libcudnn")
    assert found["on_LD_LIBRARY_PATH"] == [
        {"path": "/opt/cudnn/lib/libcudnn.so.9", "version": "9.1"}
    ]
