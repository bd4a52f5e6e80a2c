"""GPU architectures at their edges: the cubin/PTX rule, every torch architecture row against
every compute capability the matrix knows, every GPU of a machine, the JAX plugins' minimums."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from dldoctor.checks import compat_arch
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict
from dldoctor.fixes.torch_builds import torch_build
from dldoctor.matrix import load
from dldoctor.matrix.rules import CUBIN, PTX, coverage
from dldoctor.model import Severity
from tests.checks.bounds import jax_plugin, machine, torch
from tests.checks.scenarios import dist, make_facts, with_packages

MATRIX = load()
CCS = [c.cc for c in MATRIX.capabilities]


def rule(sm: list[str], ptx: list[str], cc: str) -> str | None:
    """A cubin runs on its own major at an equal or higher minor; PTX on any equal or newer GPU."""
    gpu = Version(cc)
    if any(Version(a).major == gpu.major and Version(a).minor <= gpu.minor for a in sm):
        return CUBIN
    if any(Version(a) <= gpu for a in ptx):
        return PTX
    return None


@settings(max_examples=300, deadline=None)
@given(
    sm=st.lists(st.sampled_from(CCS), unique=True),
    ptx=st.lists(st.sampled_from(CCS), unique=True, max_size=2),
    cc=st.sampled_from(CCS),
)
def test_coverage_property(sm, ptx, cc):
    assert coverage(sorted(sm, key=Version), ptx, cc) == rule(sm, ptx, cc)


def test_coverage_edges_on_the_same_major():
    assert coverage(["8.6"], [], "8.6") == CUBIN  # at
    assert coverage(["8.6"], [], "8.5") is None  # just below: a cubin never runs on an older minor
    assert coverage(["8.6"], [], "8.7") == CUBIN  # just above
    assert coverage(["8.6"], [], "9.0") is None  # another major needs PTX
    assert coverage([], ["8.6"], "8.6") == PTX and coverage([], ["8.6"], "8.5") is None
    assert coverage(["8.0"], ["8.0"], "8.6") == CUBIN  # a cubin wins over PTX
    assert coverage(["8.0"], [], "unknown") is None


def release_for(row) -> str | None:
    """A torch release whose architecture lookup lands on this row."""
    for release in MATRIX.torch_releases:
        version = f"{release.torch}.0"
        if MATRIX.torch_arch(version, row.variant) is row:
            return version
    return None


ARCH_ROWS = [r for r in MATRIX.torch_arches if release_for(r)]


@pytest.mark.parametrize("row", ARCH_ROWS, ids=[f"{r.torch}-cu{r.variant}" for r in ARCH_ROWS])
def test_dd503_judges_each_known_gpu_by_the_rows_architectures(row):
    version = release_for(row)
    tag = "cu" + row.variant.replace(".", "")
    for cc in CCS:
        facts = make_facts(
            torch(f"{version}+{tag}", row.variant), machine("610.43.02", "13.3", ("GPU", cc))
        )
        verdicts = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
        want = {None: [Severity.ERROR], PTX: [Severity.INFO], CUBIN: []}[
            rule(list(row.sm), list(row.ptx), cc)
        ]
        assert [v.severity for v in verdicts] == want, (row.torch, row.variant, cc)
        for verdict in verdicts:
            assert verdict.evidence["compute_capability"] == cc
            assert verdict.evidence["matrix_row"] == row.source


def test_an_rtx_5090_beside_an_h100_is_judged():
    facts = make_facts(
        torch("2.13.0+cu126", "12.6"),
        machine(
            "580.65.06",
            "13.0",
            ("NVIDIA H100 80GB HBM3", "9.0"),
            ("NVIDIA GeForce RTX 5090", "12.0"),
        ),
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.evidence["gpu"] == "NVIDIA GeForce RTX 5090"
    assert "GPU 1 (NVIDIA GeForce RTX 5090, sm_120" in verdict.title


@settings(max_examples=60, deadline=None)
@given(ccs=st.lists(st.sampled_from(CCS), min_size=1, max_size=4))
def test_every_gpu_of_a_machine_is_judged(ccs):
    row = MATRIX.torch_arch("2.13.0", "12.6")
    assert row is not None
    specs = [(f"GPU{i}", cc) for i, cc in enumerate(ccs)]
    facts = make_facts(torch("2.13.0+cu126", "12.6"), machine("610.43.02", "13.3", *specs))
    verdicts = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    uncovered = [
        f"GPU{i}" for i, cc in enumerate(ccs) if rule(list(row.sm), list(row.ptx), cc) is None
    ]
    assert [v.evidence["gpu"] for v in verdicts if v.severity is Severity.ERROR] == uncovered


def neighbours(cc: str) -> list[str]:
    """The known compute capabilities just below, at and just above ``cc``."""
    i = CCS.index(cc)
    return CCS[max(i - 1, 0) : i + 2]


PLUGINS = MATRIX.tables["jax"]["plugin"]


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p["distribution"] for p in PLUGINS])
def test_each_jax_plugin_refuses_gpus_below_its_minimum_only(plugin):
    minimum = plugin["min_compute_capability"]
    assert minimum in CCS
    for cc in neighbours(minimum):
        facts = make_facts(jax_plugin(plugin["cuda"]), machine("610.43.02", "13.3", ("GPU", cc)))
        verdicts = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
        old = Version(cc) < Version(minimum)
        assert [v.severity for v in verdicts] == ([Severity.ERROR] if old else []), cc
        for verdict in verdicts:
            assert verdict.title == (
                f"jax-cuda{plugin['cuda']}-plugin needs compute capability {minimum} or newer; "
                f"GPU 0 (GPU) is {cc}"
            )
            assert verdict.evidence == {
                "distribution": f"jax-cuda{plugin['cuda']}-plugin",
                "gpu": "GPU",
                "compute_capability": cc,
                "matrix_row": f"jax.toml plugin cuda{plugin['cuda']}",
            }
            # The remedy is the CUDA 12 plugin, which is only a remedy for the CUDA 13 one.
            if plugin["cuda"] == "13":
                (fix,) = verdict.fixes
                (intent,) = fix.intents
                assert intent.requirements == ("jax[cuda12]==0.10.2",)
                assert intent.remove_first == ("jax-cuda13-plugin", "jax-cuda13-pjrt")
                assert fix.automatic is False
                assert fix.summary == "Use the CUDA 12 plugin, which supports older GPUs."
            else:
                assert verdict.fixes == ()


def test_a_tesla_t4_is_at_the_cuda13_plugins_minimum_and_runs():
    facts = make_facts(jax_plugin("13"), machine("580.65.06", "13.0", ("Tesla T4", "7.5")))
    assert compat_arch.gpu_arch_not_in_build(facts, MATRIX) == []


def test_an_old_gpu_beside_a_new_one_is_named_for_the_jax_plugin():
    facts = make_facts(
        jax_plugin("13"),
        machine("580.65.06", "13.0", ("NVIDIA H100 80GB HBM3", "9.0"), ("Tesla V100", "7.0")),
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    assert "GPU 1 (Tesla V100) is 7.0" in verdict.title


def test_no_gpu_with_a_known_capability_is_not_judged():
    facts = make_facts(torch("2.13.0+cu126", "12.6"), machine("580.65.06", "13.0", ("GPU", "")))
    try:
        results = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    except NotApplicable:
        return
    assert not [r for r in results if isinstance(r, Verdict)]  # unknown: not judged


def test_a_gpu_without_a_known_capability_is_unjudged_by_its_index():
    facts = make_facts(
        torch("2.13.0+cu126", "12.6"), machine("580.65.06", "13.0", ("A", "9.0"), ("B", ""))
    )
    results = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    assert Unjudged("GPU 1", "its compute_capability") in results
    with pytest.raises(NotApplicable, match=r"^no NVIDIA GPU listed$"):
        compat_arch.gpu_arch_not_in_build(make_facts(torch("2.13.0+cu126", "12.6")), MATRIX)


def test_a_jax_build_without_a_plugin_row_is_not_judged_by_any_minimum():
    """jaxlib 0.4.7+cuda11 (before the plugins) has no plugin row: no minimum is invented."""
    jaxlib = with_packages(
        dist("jaxlib", "0.4.7+cuda11.cudnn86"),
        frameworks={
            "jax": {"distributions": [{"name": "jaxlib", "version": "0.4.7+cuda11.cudnn86"}]}
        },
    )
    facts = make_facts(jaxlib, machine("580.65.06", "13.0", ("Tesla K80", "3.7")))
    assert compat_arch.gpu_arch_not_in_build(facts, MATRIX) == []


def test_a_build_whose_arches_are_unknown_leaves_the_next_build_judged():
    """torch of a release the matrix has no arch row for says nothing; TensorFlow after it is
    still judged (and, not being torch, gets no torch remedy)."""
    tf = with_packages(
        dist("tensorflow", "2.20.0"),
        frameworks={
            "tensorflow": {
                "distributions": [{"name": "tensorflow", "version": "2.20.0"}],
                "build": {
                    "is_cuda_build": True,
                    "cuda_version": "12.5",
                    "cuda_compute_capabilities": ["sm_60", "sm_70"],
                },
            }
        },
    )
    old_torch = torch("0.1.0+cu80", "8.0")
    # Both frameworks installed: a merge of the two would keep only the last distributions list.
    tf["packages"]["distributions"] += old_torch["packages"]["distributions"]
    tf["packages"]["frameworks"].update(old_torch["packages"]["frameworks"])
    facts = make_facts(tf, machine("580.65.06", "13.0", ("NVIDIA H100", "9.0")))
    assert next((b.framework, b.sm) for b in cuda_builds(facts, MATRIX)) == ("torch", None)
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    assert verdict.evidence["framework"] == "tensorflow"
    assert verdict.fixes == ()
    assert verdict.evidence == {
        "framework": "tensorflow",
        "version": "2.20.0",
        "cuda": "12.5",
        "gpu": "NVIDIA H100",
        "compute_capability": "9.0",
        "sm": ["6.0", "7.0"],
        "ptx": [],
        "matrix_row": "tensorflow build_info.cuda_compute_capabilities",
    }


def test_dd503_names_the_gpus_architecture_and_asks_for_a_torch_built_for_it():
    facts = make_facts(
        torch("2.13.0+cu126", "12.6"),
        machine("610.43.02", "13.3", ("NVIDIA GeForce RTX 5090", "12.0"), ("Old", "1.0")),
    )
    new, old = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    arch = MATRIX.capability("12.0")
    assert arch is not None and MATRIX.capability("1.0") is None
    assert new.title == (
        "PyTorch 2.13.0+cu126 (CUDA 12.6) has no code for GPU 0 "
        f'(NVIDIA GeForce RTX 5090, sm_120 {arch.arch}): "no kernel image is available"'
    )
    alone = make_facts(
        torch("2.13.0+cu126", "12.6"),
        machine("610.43.02", "13.3", ("NVIDIA GeForce RTX 5090", "12.0")),
    )
    (verdict,) = compat_arch.gpu_arch_not_in_build(alone, MATRIX)
    (remedy,) = verdict.fixes  # a build that has sm_120, and what it is for
    assert remedy == torch_build(alone, MATRIX, "one built for sm_120")
    assert remedy.summary.endswith("(one built for sm_120).")
    assert old.title.endswith('GPU 1 (Old, sm_10): "no kernel image is available"')
    assert old.evidence["gpu"] == "Old" and old.evidence["compute_capability"] == "1.0"


def test_dd503_through_ptx_says_what_it_costs():
    row = MATRIX.torch_arch("2.13.0", "13.0")
    assert row is not None and row.ptx
    newer = f"{int(row.ptx[-1].split('.')[0]) + 1}.0"  # a major above its newest code
    facts = make_facts(torch("2.13.0+cu130", "13.0"), machine("580.65.06", "13.0", ("G", newer)))
    (verdict,) = compat_arch.gpu_arch_not_in_build(facts, MATRIX)
    assert verdict.severity is Severity.INFO
    assert verdict.title.endswith(
        "through PTX: the driver JIT-compiles kernels at first launch (slow start, needs a "
        "driver as new as the build)"
    )
    assert verdict.evidence["compute_capability"] == newer
