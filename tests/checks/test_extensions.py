"""DD520-DD523: extensions judged against the installed torch, its ABI, the driver; at each boundary."""

from __future__ import annotations

from typing import Any

import pytest

from dldoctor.checks import extensions as ext_checks
from dldoctor.checks import extensions_ops as ops
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages


def ext(key: str, version: str, **built: Any) -> dict[str, Any]:
    """One packages.extensions record, as dldoctor/facts/extensions.py writes it."""
    evidence = built.pop("evidence", ["local version label"])
    return {
        "name": key,
        "key": key,
        "framework": built.pop("framework", "torch"),
        "version": version,
        "location": "/env/lib/python3.11/site-packages",
        "local_label": False,
        "label_source": False,
        "origin": False,
        "wheel_tags": None,
        "torch_requirement": built.pop("torch_requirement", False),
        "modules": built.pop("modules", None),
        "missing_modules": None,
        "built_for": {"torch": None, "cuda": None, "rocm": None, "cxx11_abi": None, **built},
        "evidence": evidence,
        "error": None,
    }


def facts_with(
    *extensions: dict[str, Any],
    torch: str = "2.13.0+cu130",
    cuda: Any = "13.0",
    abi: Any = True,
    installer: str = "pip",
    extra: tuple[dict[str, Any], ...] = (),
):
    dists = [dist("torch", torch)] + [
        dist(e["key"], e["version"], installer=installer) for e in extensions
    ]
    section = {
        "torch_cxx11_abi": abi,
        "torch_cxx11_abi_source": "x",
        "installed": list(extensions),
        "errors": [],
    }
    return make_facts(
        with_packages(*dists, frameworks={"torch": {"distributions": [], "build": {"cuda": cuda}}}),
        {"packages": {"extensions": section}},
        *extra,
    )  # fmt: skip


# ---- DD521: CUDA major -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("torch_cuda", "ext_cuda", "fires"),
    [
        ("12.8", "12", False),  # same major: minor-version compatibility
        ("12.8", "12.1", False),
        ("12.8", "11.8", True),  # below
        ("12.8", "13", True),  # above
        ("13.0", "13.0", False),
    ],
)
def test_flash_attn_cuda_major_against_torch(matrix, torch_cuda, ext_cuda, fires):
    facts = facts_with(ext("flash-attn", "2.7.4.post1", cuda=ext_cuda), cuda=torch_cuda)
    verdicts = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert bool(verdicts) is fires
    if fires:
        assert verdicts[0].severity is Severity.ERROR
        commands = shown_all(verdicts[0].fixes[0])
        assert commands == (
            "/env/bin/python -m pip install --force-reinstall flash-attn==2.7.4.post1 "
            "--no-build-isolation --no-cache-dir --no-binary flash-attn",
        )


def test_cuda_torchvision_on_cpu_torch_gets_the_cpu_build_of_the_same_release(matrix):
    facts = facts_with(ext("torchvision", "0.28.0", cuda="13"), torch="2.13.0+cpu", cuda=False)
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert verdict.severity is Severity.ERROR and "CPU-only" in verdict.title
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install torchvision==0.28.0+cpu "
        "--index-url https://download.pytorch.org/whl/cpu",
    )
    assert verdict.fixes[0].intents[0].index_url == "https://download.pytorch.org/whl/cpu"


def test_cpu_torchvision_beside_cuda_torch_is_a_warning_but_cpu_flash_attn_is_not_judged(matrix):
    facts = facts_with(ext("torchvision", "0.28.0", cuda=False), ext("mmcv", "2.2.0", cuda=False))
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert verdict.severity is Severity.WARNING and verdict.evidence["extension"] == "torchvision"


def test_unknown_torch_cuda_judges_nothing(matrix):
    facts = facts_with(ext("flash-attn", "2.7.4", cuda="12"), cuda=None)
    (result,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert isinstance(result, Unjudged)


def test_pyg_wheel_of_another_cuda_comes_from_its_index_for_torchs_variant(matrix):
    facts = facts_with(ext("torch-scatter", "2.1.2+pt213cu128", torch="2.13", cuda="12.8"))
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install --force-reinstall torch-scatter "
        "--find-links https://data.pyg.org/whl/torch-2.13.0+cu130.html",
    )


def test_a_build_fix_is_left_to_the_user_under_poetry(matrix):
    poetry = {"python": {"environment": {"manager": "poetry", "name": "p", "evidence": "x"}}}
    facts = facts_with(ext("flash-attn", "2.7.4", cuda="11.8"), extra=(poetry,))
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert verdict.fixes[0].commands == () and "Rebuild flash-attn" in verdict.fixes[0].summary


# ---- DD520: torch release and ABI --------------------------------------------------------------


@pytest.mark.parametrize(("built", "fires"), [("2.12", True), ("2.13", False), ("2.14", True)])
def test_flash_attn_label_torch_release(matrix, built, fires):
    facts = facts_with(ext("flash-attn", "2.8.3", torch=built, cuda="13"))
    assert bool(ext_checks.extension_for_another_torch(facts, matrix)) is fires


@pytest.mark.parametrize(("abi", "torch_abi", "fires"), [(False, True, True), (True, True, False), (True, False, True), (None, True, False), (False, None, False)])  # fmt: skip
def test_cxx11_abi_against_torchs(matrix, abi, torch_abi, fires):
    facts = facts_with(ext("flash-attn", "2.8.3", torch="2.13", cxx11_abi=abi), abi=torch_abi)
    verdicts = [
        v
        for v in ext_checks.extension_for_another_torch(facts, matrix)
        if not isinstance(v, Unjudged)
    ]
    assert bool(verdicts) is fires
    if fires:
        assert "C++ ABI" in verdicts[0].title


def test_an_exact_requires_dist_pin_is_pip_checks(matrix):
    pinned = ext(
        "xformers", "0.0.28.post3", torch="2.5.1", torch_requirement="torch==2.5.1",
        evidence=["Requires-Dist torch==2.5.1"],
    )  # fmt: skip
    assert ext_checks.extension_for_another_torch(facts_with(pinned), matrix) == []


@pytest.mark.parametrize(
    ("version", "fires"), [("0.27.1", True), ("0.28.0", False), ("0.29.0", True)]
)
def test_unpinned_torchvision_is_judged_by_the_pairing_table(matrix, version, fires):
    facts = facts_with(ext("torchvision", version))  # a conda or source build: no torch pin
    verdicts = ext_checks.extension_for_another_torch(facts, matrix)
    assert bool(verdicts) is fires
    if fires:
        assert "pairs with torchvision 0.28" in verdicts[0].title


def test_no_torch_is_not_applicable(matrix):
    facts = make_facts({"packages": {"extensions": {"installed": [], "torch_cxx11_abi": None}}})
    with pytest.raises(NotApplicable):
        ext_checks.extension_for_another_torch(facts, matrix)


# ---- DD522: the driver -------------------------------------------------------------------------


@pytest.mark.parametrize(("driver", "fires"), [("575.57.08", True), ("580.65.06", False), ("590.44.01", False)])  # fmt: skip
def test_tensorrt_cu13_needs_the_cuda_13_driver(matrix, driver, fires):
    facts = facts_with(
        ext("tensorrt-cu13", "10.13.3.9", cuda="13", framework="tensorrt"),
        torch="2.13.0+cu126", cuda="12.6", extra=(gpu_machine(driver=driver),),
    )  # fmt: skip
    verdicts = ops.extension_driver_too_old(facts, matrix)
    assert bool(verdicts) is fires
    if fires:
        assert verdicts[0].evidence["driver_needed"] == "580.65.06"


def test_an_extension_that_needs_no_more_than_torch_is_torchs_finding(matrix):
    facts = facts_with(ext("vllm", "0.11.0", cuda="13"), extra=(gpu_machine(driver="575.57.08"),))
    assert ops.extension_driver_too_old(facts, matrix) == []  # DD501 names torch's


# ---- DD523: compiled code missing --------------------------------------------------------------


def test_apex_without_its_extensions_is_rebuilt_from_a_checkout(matrix):
    facts = facts_with(ext("apex", "0.1", modules=[]))
    (verdict,) = ops.extension_ops_missing(facts, matrix)
    assert "amp_C" in verdict.title and "fused_layer_norm_cuda" in verdict.title
    fix = verdict.fixes[0]
    assert shown_all(fix) == (
        "/env/bin/python -m pip install -v --no-build-isolation --no-cache-dir "
        "--config-settings --build-option=--cpp_ext --config-settings --build-option=--cuda_ext .",
    )
    assert "https://github.com/NVIDIA/apex" in fix.summary and not fix.automatic


def test_deepspeed_without_prebuilt_ops_is_normal(matrix):
    assert (
        ops.extension_ops_missing(facts_with(ext("deepspeed", "0.16.0", modules=[])), matrix) == []
    )


def bnb(*minors: str) -> dict[str, Any]:
    modules = [{"path": f"bitsandbytes/libbitsandbytes_cuda{m}.so", "needed": [], "cuda_major": int(m[:2]),
                "links_torch": False, "cxx11_abi": None} for m in minors]  # fmt: skip
    return ext("bitsandbytes", "0.45.0", modules=modules)


@pytest.mark.parametrize(("torch_cuda", "fires"), [("12.4", False), ("12.6", False), ("12.8", True), ("13.0", True)])  # fmt: skip
def test_bitsandbytes_needs_a_binary_for_torchs_cuda(matrix, torch_cuda, fires):
    facts = facts_with(bnb("118", "124", "126"), cuda=torch_cuda)
    verdicts = ops.extension_ops_missing(facts, matrix)
    assert bool(verdicts) is fires
    if fires:
        wanted = "libbitsandbytes_cuda" + torch_cuda.replace(".", "")
        assert wanted in verdicts[0].title
        assert shown_all(verdicts[0].fixes[0]) == (
            "/env/bin/python -m pip install 'bitsandbytes>0.45.0'",
        )


def test_unknown_extensions_are_not_judged(matrix):
    from dldoctor.facts.known import Unknown

    facts = make_facts(with_packages(dist("torch", "2.13.0")))
    with pytest.raises(Unknown):
        ext_checks.extension_cuda_mismatch(facts, matrix)


def test_a_hostile_report_gets_no_command_built_from_its_strings(matrix):
    hostile = ext("flash-attn", "2.7.4 --index-url=https://evil.example/", cuda="11.8")
    facts = facts_with(hostile, torch="2.13.0+cu130 -r /etc/passwd", cuda="13.0")
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert verdict.fixes[0].commands == ()
    pyg = ext("torch-scatter", "2.1.2", cuda="11.8")
    facts = facts_with(pyg, torch="2.13.0+cu130&&x", cuda="13.0")
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert verdict.fixes[0].commands == ()


def test_rocm_builds_are_not_called_cpu_builds(matrix):
    rocm_ext = ext("torchvision", "0.28.0", cuda=False, rocm="7.2")
    (verdict,) = ext_checks.extension_cuda_mismatch(facts_with(rocm_ext), matrix)
    assert "ROCm 7.2 build" in verdict.title and verdict.severity is Severity.ERROR
    rocm_torch = facts_with(
        ext("flash-attn", "2.8.3", cuda="12"), torch="2.13.0+rocm7.2", cuda=False
    )
    rocm_torch.packages["frameworks"]["torch"]["build"]["hip"] = "7.2.0"
    (verdict,) = ext_checks.extension_cuda_mismatch(rocm_torch, matrix)
    assert "a ROCm (7.2.0) build" in verdict.title


def _with_missing(count: int, cuda: str = "12") -> dict[str, Any]:
    module = {"path": "flash_attn_2_cuda.so", "needed": ["libc10.so"], "cuda_major": int(cuda), "links_torch": True,
              "cxx11_abi": None, "torch_symbols_missing": {"count": count, "examples": ["_ZN3c104cuda9SetDeviceEi"][:count]}}  # fmt: skip
    return ext("flash-attn", "2.5.8", cuda=cuda, torch="2.2", modules=[module])


@pytest.mark.parametrize(("count", "fires"), [(0, False), (1, True), (40, True)])
def test_torch_symbols_missing_from_the_installed_torch(matrix, count, fires):
    # flash-attn#931: the 2.5.8 wheel for torch 2.2 (built with 2.2.2) on torch 2.2.0.
    facts = facts_with(_with_missing(count), torch="2.2.0", cuda="12.1")
    verdicts = ext_checks.extension_for_another_torch(facts, matrix)
    assert bool(verdicts) is fires
    if fires:
        assert (
            f"{count} torch symbol(s)" in verdicts[0].title and "SetDeviceEi" in verdicts[0].title
        )


def test_missing_symbols_of_a_build_for_another_cuda_major_are_dd521s(matrix):
    facts = facts_with(_with_missing(5, cuda="11"), torch="2.2.0", cuda="12.1")
    assert ext_checks.extension_for_another_torch(facts, matrix) == []
    assert ext_checks.extension_cuda_mismatch(facts, matrix)


def test_dd522_judges_every_torch_extension_after_one_torch_itself_explains(matrix):
    """On a cu126 torch, an extension for CUDA 12 needs no more than torch; the next one, for
    CUDA 13, needs a newer driver than this one: it is the finding."""
    facts = facts_with(
        ext("xformers", "0.0.30", cuda="12"),
        ext("vllm", "0.11.0", cuda="13"),
        torch="2.13.0+cu126",
        cuda="12.6",
        extra=(gpu_machine(driver="520.61.05"),),
    )  # fmt: skip  (a driver below both: torch's own build explains the first)
    (verdict,) = ops.extension_driver_too_old(facts, matrix)
    assert verdict.title == (
        "Driver 520.61.05 is too old for vllm 0.11.0 (built with CUDA 13, needs driver "
        "580.65.06 or newer)"
    )
    assert verdict.evidence["extension"] == "vllm" and verdict.evidence["driver"] == "520.61.05"


def test_dd522_without_a_driver_or_with_an_unreadable_one(matrix):
    unloaded = {"nvidia": {"nvml": {"status": "driver_not_loaded", "error": "x"}, "driver_version": None,
                           "proc_driver": {"text": None, "version": None, "error": "missing"}}}  # fmt: skip
    facts = facts_with(ext("vllm", "0.11.0", cuda="13"), extra=(unloaded,))
    with pytest.raises(NotApplicable, match=r"^no NVIDIA driver loaded$"):
        ops.extension_driver_too_old(facts, matrix)
    odd = facts_with(ext("vllm", "0.11.0", cuda="13"), extra=(gpu_machine(driver="r580"),))
    (unjudged,) = ops.extension_driver_too_old(odd, matrix)
    assert isinstance(unjudged, Unjudged)
    assert (unjudged.what, unjudged.path) == ("the driver", "nvidia.driver_version")


def test_dd523_unknown_modules_are_unjudged_by_name_and_a_missing_binary_names_its_file(matrix):
    (unjudged,) = ops.extension_ops_missing(facts_with(ext("apex", "0.1", modules=None)), matrix)
    assert isinstance(unjudged, Unjudged)
    assert (unjudged.what, unjudged.path) == ("apex 0.1", "packages.extensions.installed.0.modules")
    (verdict,) = ops.extension_ops_missing(facts_with(bnb("118"), cuda="12.8"), matrix)
    assert verdict.evidence["wanted"].endswith("libbitsandbytes_cuda128")
    assert verdict.evidence["torch_cuda"] == "12.8"


@pytest.mark.parametrize(("abi", "torch_abi"), [(False, True), (True, False)])
def test_dd520_names_both_abis_as_the_labels_write_them(matrix, abi, torch_abi):
    facts = facts_with(ext("flash-attn", "2.8.3", torch="2.13", cxx11_abi=abi), abi=torch_abi)
    (verdict,) = ext_checks.extension_for_another_torch(facts, matrix)
    mine, theirs = ("TRUE" if abi else "FALSE"), ("TRUE" if torch_abi else "FALSE")
    assert verdict.title == (
        f"flash-attn 2.8.3 does not fit the installed torch 2.13.0+cu130 (C++ ABI cxx11abi{mine}, "
        f"torch's is {theirs}): its compiled code will not load"
    )
    assert verdict.evidence["built_for"]["cxx11_abi"] is abi
    assert verdict.evidence["torch_abi"] is torch_abi


def test_dd520_a_companion_pinning_torch_is_not_judged_by_the_pairing_table(matrix):
    """torchvision with a torch requirement is pip's to judge (DD303), not the pairing's."""
    pinned = ext("torchvision", "0.27.1", torch_requirement="torch==2.12.0")
    assert ext_checks.extension_for_another_torch(facts_with(pinned), matrix) == []


def test_dd520_without_a_build_to_name_has_no_fix(matrix):
    facts = facts_with(ext("mylib", "1.0", torch="2.12"))
    (verdict,) = ext_checks.extension_for_another_torch(facts, matrix)
    assert verdict.fixes == ()


def test_dd521_carries_torchs_cuda_as_evidence(matrix):
    facts = facts_with(ext("flash-attn", "2.8.3", cuda="12"), cuda="13.0")
    (verdict,) = ext_checks.extension_cuda_mismatch(facts, matrix)
    assert verdict.evidence["torch_cuda"] == "13.0"
