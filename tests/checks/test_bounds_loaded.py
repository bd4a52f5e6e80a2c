"""DD619 (runtime_loaded) from the rule: which loaded copy is another's than the framework's own,
how the loader found it, and the one finding per place the copies came from."""

from __future__ import annotations

from typing import Any

from dldoctor.checks import runtime_loaded
from dldoctor.checks.registry import run_checks
from dldoctor.matrix import load
from dldoctor.model import Status
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.checks.test_loaded import SITE, candidate, ld_path, lib, library_map
from tests.checks.test_runtime import TORCH_CU121, record, runtime

MATRIX = load()
OWN = f"{SITE}/nvidia/nvjitlink/lib/libnvJitLink.so.12"
SYSTEM = "/usr/local/cuda/lib64/libnvJitLink.so.12.1.105"
LIBS = ("nvjitlink", "cublas", "cublaslt", "cusparse", "cufft")
FILES = {
    "nvjitlink": "libnvJitLink.so.12",
    "cublas": "libcublas.so.12",
    "cublaslt": "libcublasLt.so.12",
    "cusparse": "libcusparse.so.12",
    "cufft": "libcufft.so.11",
}


def _outcome(*overrides: dict[str, Any]):
    (found,) = [o for o in run_checks(make_facts(*overrides), MATRIX) if o.code == "DD619"]
    return found


def _shadowed(keys: tuple[str, ...], framework: str = "torch") -> dict[str, Any]:
    return library_map(
        {
            k: [
                candidate(f"/usr/local/cuda/lib64/{FILES[k]}", f"/usr/local/cuda/lib64/{FILES[k]}",
                          "LD_LIBRARY_PATH"),
                candidate(f"{SITE}/nvidia/{k}/lib/{FILES[k]}", f"{SITE}/nvidia/{k}/lib/{FILES[k]}",
                          "runpath"),
            ]
            for k in keys
        },
        framework,
    )  # fmt: skip


def _loaded(keys: tuple[str, ...]) -> dict[str, Any]:
    return record(libraries=[lib(f"/usr/local/cuda/lib64/{FILES[k]}", k) for k in keys])


def test_nothing_loaded_is_not_applicable_and_says_why():
    found = _outcome(TORCH_CU121, _shadowed(LIBS[:1]), runtime(torch=record()))
    assert found.status is Status.SKIPPED
    assert found.reason == "no probed framework loaded a CUDA library (CPU builds, or no GPU)"


def test_one_copy_from_ld_library_path_is_a_warning_with_its_exact_evidence():
    found = _outcome(
        TORCH_CU121, _shadowed(LIBS[:1]), ld_path("/usr/local/cuda/lib64"),
        runtime(torch=_loaded(LIBS[:1])),
    )  # fmt: skip
    (finding,) = found.findings
    own = f"{SITE}/nvidia/nvjitlink/lib/libnvJitLink.so.12"
    assert finding.evidence == {
        "cause": "library-from-elsewhere",
        "frameworks": ["torch"],
        "framework": "torch",
        "libraries": [
            {
                "library": "nvjitlink",
                "loaded": "/usr/local/cuda/lib64/libnvJitLink.so.12",
                "loaded_version": None,
                "via": "LD_LIBRARY_PATH",
                "LD_LIBRARY_PATH_entry": "/usr/local/cuda/lib64",
                "own_copies": [{"path": own, "version": None, "via": "runpath"}],
                "framework": "torch",
            }
        ],
    }


def test_more_than_four_libraries_show_four_names_then_an_ellipsis():
    found = _outcome(
        TORCH_CU121, _shadowed(LIBS), ld_path("/usr/local/cuda/lib64"), runtime(torch=_loaded(LIBS))
    )
    (finding,) = found.findings
    assert finding.title == (
        "PyTorch 2.5.1+cu121 loaded 5 CUDA libraries from LD_LIBRARY_PATH (/usr/local/cuda/lib64) "
        "instead of its own copies (libnvJitLink.so.12, libcublas.so.12, libcublasLt.so.12, "
        "libcusparse.so.12, …)"
    )


def test_four_libraries_show_all_four():
    found = _outcome(
        TORCH_CU121, _shadowed(LIBS[:4]), ld_path("/usr/local/cuda/lib64"),
        runtime(torch=_loaded(LIBS[:4])),
    )  # fmt: skip
    (finding,) = found.findings
    assert finding.title.endswith(
        "(libnvJitLink.so.12, libcublas.so.12, libcublasLt.so.12, libcusparse.so.12)"
    )


def test_two_frameworks_shadowed_from_one_directory_are_one_finding_naming_both():
    tf = with_packages(
        dist("tensorflow", "2.18.0"),
        frameworks={"tensorflow": {"distributions": [{"name": "tensorflow", "version": "2.18.0"}]}},
    )
    maps = _shadowed(LIBS[:1])
    frameworks = maps["cuda"]["library_map"]["frameworks"]
    frameworks["tensorflow"] = _shadowed(LIBS[1:2])["cuda"]["library_map"]["frameworks"]["torch"]
    tf_record = _loaded(LIBS[1:2])
    tf_record["import"] = {"module": "tensorflow", "ok": True, "version": "2.18.0", "error": None}
    found = _outcome(
        TORCH_CU121, tf, maps, ld_path("/usr/local/cuda/lib64"),
        runtime(torch=_loaded(LIBS[:1]), tensorflow=tf_record),
    )  # fmt: skip
    (finding,) = found.findings
    assert finding.title == (
        "PyTorch 2.5.1+cu121 and TensorFlow 2.18.0 loaded 2 CUDA libraries from LD_LIBRARY_PATH "
        "(/usr/local/cuda/lib64) instead of their own copies (libnvJitLink.so.12, libcublas.so.12)"
    )
    assert finding.evidence["frameworks"] == ["torch", "tensorflow"]
    assert "framework" not in finding.evidence
    assert "before PyTorch and TensorFlow's own library path" in finding.fixes[0].summary


def test_a_copy_the_map_does_not_list_but_from_an_ld_library_path_directory_came_through_it():
    """The file loaded is none of the map's candidates; its directory is on LD_LIBRARY_PATH."""
    other = "/opt/cuda/lib64/libnvJitLink.so.12.0.76"
    torch = record(libraries=[lib(other, "nvjitlink")])
    found = _outcome(
        TORCH_CU121, _shadowed(LIBS[:1]), ld_path("/opt/cuda/lib64/"), runtime(torch=torch)
    )
    (finding,) = found.findings
    (entry,) = finding.evidence["libraries"]
    assert entry["via"] == "LD_LIBRARY_PATH" and entry["LD_LIBRARY_PATH_entry"] == "/opt/cuda/lib64"


def test_a_copy_found_through_ldconfig_is_named_with_where_to_look():
    system = "/usr/lib/x86_64-linux-gnu/libnvJitLink.so.12.1.105"
    maps = library_map(
        {
            "nvjitlink": [
                candidate("/usr/lib/x86_64-linux-gnu/libnvJitLink.so.12", system, "ldconfig"),
                candidate(OWN, OWN, "runpath"),
            ]
        }
    )
    found = _outcome(TORCH_CU121, maps, runtime(torch=record(libraries=[lib(system, "nvjitlink")])))
    (finding,) = found.findings
    assert finding.title == f"PyTorch 2.5.1+cu121 loaded {system} instead of its own copy ({OWN})"
    assert finding.fixes[0].summary == (
        f"{system} is loaded instead of the copy PyTorch ships ({OWN}): remove it from the "
        "loader's path (the ldconfig cache, /etc/ld.so.conf.d) or upgrade it to the version the "
        "framework pins."
    )


def test_an_older_record_names_the_library_by_its_file():
    """Before schema 1.3 a mapped file carries no library key: its file name gives it."""
    old = {"name": "libnvJitLink.so.12", "path": SYSTEM, "version": None, "source": "x"}
    found = _outcome(
        TORCH_CU121, _shadowed(LIBS[:1]), ld_path("/usr/local/cuda/lib64"),
        runtime(torch=record(libraries=[old])),
    )  # fmt: skip
    (finding,) = found.findings
    assert finding.evidence["libraries"][0]["library"] == "nvjitlink"


def test_a_library_the_frameworks_own_words_blame_is_their_finding_not_this_one():
    """DD612 names the shadow from the undefined symbol: DD619 does not report it again."""
    victim = f"{SITE}/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12"
    torch = _loaded(LIBS[:1])
    torch["output"] = [
        f"{victim}: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12"
    ]
    found = _outcome(
        gpu_machine(), TORCH_CU121, _shadowed(LIBS[:1]), ld_path("/usr/local/cuda/lib64"),
        runtime(torch=torch),
    )  # fmt: skip
    assert found.status is Status.PASSED and not found.findings


def test_jax_naming_an_older_library_by_product_covers_that_library():
    """JAX says "cuSPARSE" (DD612 reports that copy as the root cause): DD619 does not report
    the same copy again as a warning. It did, until DD619 read product names as DD612 does."""
    jax_dist = with_packages(
        dist("jax", "0.4.30"),
        dist("jaxlib", "0.4.30"),
        frameworks={"jax": {"distributions": [{"name": "jaxlib", "version": "0.4.30"}]}},
    )
    jax = _loaded(("cusparse",))
    jax["import"] = {"module": "jax", "ok": True, "version": "0.4.30", "error": None}
    jax["output"] = [
        "Found cuSPARSE version 12001, but JAX was built against version 12400, which is newer."
    ]
    maps = _shadowed(("cusparse",), "jax")
    found = _outcome(
        gpu_machine(), jax_dist, maps, ld_path("/usr/local/cuda/lib64"), runtime(jax=jax)
    )
    assert found.status is Status.PASSED and not found.findings  # judged, not crashed


def test_the_loaders_predicted_pick_is_evidence_as_a_pick_not_a_load():
    facts = make_facts(TORCH_CU121, _shadowed(LIBS[:1]), ld_path("/usr/local/cuda/lib64"))
    found = runtime_loaded.foreign(facts, MATRIX, "torch", record(), "nvjitlink", predict=True)
    assert found is not None and not found.observed
    evidence = found.evidence()
    assert evidence["loader_pick"] == "/usr/local/cuda/lib64/libnvJitLink.so.12"
    assert "loaded" not in evidence
