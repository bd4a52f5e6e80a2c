"""DD530-DD534: build readiness, judged only when a build is coming; at each boundary, and on this
machine's real CUDA 13.0 toolkit with its real host_config.h."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks import build, build_memory, build_ready
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.facts import buildtools
from dldoctor.facts.buildtools import gather_build_tools
from dldoctor.facts.cuda import gather_cuda
from dldoctor.facts.host import Host
from dldoctor.model import Severity
from tests.checks.scenarios import dist, make_facts, shown_all, with_packages
from tests.checks.test_extensions import ext
from tests.fakes.fsroot import script

TOOLS = {
    "cuda_home": "/usr/local/cuda-13.0",
    "cuda_home_chosen_by": "nvcc on PATH",
    "nvcc": "/usr/local/cuda-13.0/bin/nvcc",
    "nvcc_version": "13.0.88",
    "host_gcc_max": 15,
    "host_compiler": {"command": "gcc", "chosen_by": "PATH", "path": "/usr/bin/gcc",
                      "kind": "gcc", "version": "12.2.0", "error": None},
    "ninja": "/usr/bin/ninja",
    "max_jobs": False,
    "requested": True,
}  # fmt: skip


def facts_for(tools: dict[str, Any] | None = None, cuda: Any = "13.0", installed=(), **more: Any):
    data = {**TOOLS, **(tools or {})}
    toolkits = more.pop(
        "toolkits", [{"path": "/usr/local/cuda-13.0", "version": "13.0.2", "nvcc": "x"}]
    )
    section = {
        "torch_cxx11_abi": True,
        "torch_cxx11_abi_source": "x",
        "installed": list(installed),
        "errors": [],
    }
    return make_facts(
        with_packages(dist("torch", "2.13.0+cu130"), frameworks={"torch": {"distributions": [], "build": {"cuda": cuda}}}),
        {"packages": {"extensions": section}},
        {"cuda": {"build_tools": data, "toolkits": toolkits, "nvcc_on_path": more.pop("nvcc_on_path", False)}},
        {"python": {"headers": more.pop("headers", "/usr/include/python3.11")}},
    )  # fmt: skip


def test_nothing_being_built_is_not_applicable(matrix):
    facts = facts_for({"requested": False, "nvcc": False})
    with pytest.raises(NotApplicable):
        build.build_nvcc_mismatch(facts, matrix)


def test_deepspeed_with_jit_ops_is_a_build_coming(matrix):
    facts = facts_for(
        {"requested": False, "nvcc": False}, installed=[ext("deepspeed", "0.16.0", modules=[])]
    )
    (verdict,) = build.build_nvcc_mismatch(facts, matrix)
    assert "deepspeed 0.16.0 (its ops are compiled at first use)" in verdict.evidence["building"]


def test_a_cpu_torch_builds_no_cuda_extension(matrix):
    with pytest.raises(NotApplicable):
        build.build_nvcc_mismatch(facts_for(cuda=False), matrix)


@pytest.mark.parametrize(
    ("nvcc", "torch_cuda", "severity"),
    [("13.0.88", "13.0", None), ("13.1.80", "13.0", Severity.WARNING), ("12.9.86", "13.0", Severity.ERROR),
     ("12.8.93", "12.8", None), ("12.6.85", "12.8", Severity.WARNING), ("13.0.88", "12.8", Severity.ERROR)],
)  # fmt: skip
def test_nvcc_against_torchs_cuda(matrix, nvcc, torch_cuda, severity):
    verdicts = build.build_nvcc_mismatch(facts_for({"nvcc_version": nvcc}, cuda=torch_cuda), matrix)
    assert (verdicts[0].severity if verdicts else None) is severity


def test_no_nvcc_points_at_an_installed_toolkit_of_torchs_cuda(matrix):
    toolkits = [
        {"path": "/usr/local/cuda-12.8", "version": "12.8.1", "nvcc": "x"},
        {"path": "/usr/local/cuda-13.0", "version": "13.0.2", "nvcc": "x"},
    ]
    facts = facts_for({"nvcc": False, "cuda_home": "/opt/empty"}, toolkits=toolkits)
    (verdict,) = build.build_nvcc_mismatch(facts, matrix)
    fix = verdict.fixes[0]
    assert shown_all(fix)[0] == "export CUDA_HOME=/usr/local/cuda-13.0"
    assert fix.intents[0].action == "set" and fix.intents[0].value == "/usr/local/cuda-13.0"


def test_no_toolkit_of_that_cuda_says_where_to_get_one(matrix):
    facts = facts_for(
        {"nvcc": False},
        toolkits=[{"path": "/usr/local/cuda-12.8", "version": "12.8.1", "nvcc": "x"}],
    )
    (verdict,) = build.build_nvcc_mismatch(facts, matrix)
    assert verdict.fixes[0].commands == () and "CUDA 13.0 toolkit" in verdict.fixes[0].summary


@pytest.mark.parametrize(("gcc", "fires"), [("14.2.0", False), ("15.1.0", False), ("16.0.1", True)])
def test_host_gcc_against_the_toolkits_own_limit(matrix, gcc, fires):
    compiler = dict(TOOLS["host_compiler"], version=gcc)
    verdicts = build.build_host_compiler_too_new(facts_for({"host_compiler": compiler}), matrix)
    assert bool(verdicts) is fires
    if fires:
        assert shown_all(verdicts[0].fixes[0]) == ("export CC=gcc-15", "export CXX=g++-15")


@pytest.mark.parametrize(
    ("nvcc", "gcc", "fires"),
    [("12.4.131", "13.2.0", False), ("12.4.131", "14.1.0", True), ("12.3.107", "13.1.0", True),
     ("12.7.1", "13.3.0", False), ("12.8.93", "14.2.0", False), ("11.8.89", "12.1.0", True)],
)  # fmt: skip
def test_host_gcc_against_nvidias_table_when_host_config_is_unread(matrix, nvcc, gcc, fires):
    compiler = dict(TOOLS["host_compiler"], version=gcc)
    tools = {"host_compiler": compiler, "host_gcc_max": None, "nvcc_version": nvcc}
    verdicts = build.build_host_compiler_too_new(facts_for(tools, cuda=nvcc[:4]), matrix)
    assert bool(verdicts) is fires
    if fires:
        assert verdicts[0].evidence["rule"].startswith("extensions.toml host_gcc CUDA")


def test_clang_is_not_judged_against_gcc_limits(matrix):
    compiler = dict(TOOLS["host_compiler"], kind="clang", version="19.1.0")
    assert build.build_host_compiler_too_new(facts_for({"host_compiler": compiler}), matrix) == []


def test_real_toolkit_and_a_gcc_16_named_by_cc(matrix, tmp_path: Path):
    if not Path("/usr/local/cuda-13.0/bin/nvcc").is_file():
        pytest.skip("needs this machine's CUDA 13.0 toolkit")
    fake = script(tmp_path, "/bin/gcc-16", "echo 'gcc-16 (GCC) 16.1.0'\n")
    path = f"/usr/local/cuda-13.0/bin:{os.environ.get('PATH', '')}"
    host = Host(env={"PATH": path, "CC": str(fake)})
    tools = gather_build_tools(host, gather_cuda(host))  # the real crt/host_config.h: GCC 15
    assert tools["host_gcc_max"] == 15 and tools["host_compiler"]["version"] == "16.1.0"
    (verdict,) = build.build_host_compiler_too_new(facts_for({**tools, "requested": True}), matrix)
    assert verdict.severity is Severity.ERROR and verdict.evidence["rule"] == "crt/host_config.h"
    real = gather_build_tools(Host(env={"PATH": path}), gather_cuda(Host(env={"PATH": path})))
    assert build.build_host_compiler_too_new(facts_for({**real, "requested": True}), matrix) == []


def test_cuda_home_without_nvcc_and_cuda_home_beside_another_nvcc(matrix):
    facts = facts_for(
        {"cuda_home": "/opt/nothing", "cuda_home_chosen_by": "CUDA_HOME", "nvcc": False}
    )
    (verdict,) = build.build_cuda_home_elsewhere(facts, matrix)
    assert verdict.severity is Severity.ERROR
    other = facts_for(
        {"cuda_home": "/usr/local/cuda-12.8", "cuda_home_chosen_by": "CUDA_HOME"},
        nvcc_on_path={"path": "/usr/local/cuda-13.0/bin/nvcc", "toolkit_path": "/usr/local/cuda-13.0"},
    )  # fmt: skip
    (verdict,) = build.build_cuda_home_elsewhere(other, matrix)
    assert verdict.severity is Severity.WARNING
    same = facts_for(
        {"cuda_home": "/usr/local/cuda-13.0", "cuda_home_chosen_by": "CUDA_HOME"},
        nvcc_on_path={"path": "/usr/local/cuda-13.0/bin/nvcc", "toolkit_path": "/usr/local/cuda-13.0"},
    )  # fmt: skip
    assert build.build_cuda_home_elsewhere(same, matrix) == []


def test_no_ninja_is_an_error_for_jit_ops_and_a_warning_otherwise(matrix):
    (asked,) = build.build_without_ninja(facts_for({"ninja": False}), matrix)
    assert asked.severity is Severity.WARNING
    assert shown_all(asked.fixes[0]) == ("/env/bin/python -m pip install ninja",)
    jit = facts_for(
        {"ninja": False, "requested": False}, installed=[ext("deepspeed", "0.16.0", modules=[])]
    )
    (verdict,) = build.build_without_ninja(jit, matrix)
    assert verdict.severity is Severity.ERROR
    assert build.build_without_ninja(facts_for(), matrix) == []


def test_python_headers(matrix):
    (verdict,) = build.build_without_python_headers(facts_for(headers=False), matrix)
    assert "python3.11-dev" in verdict.fixes[0].notes
    assert build.build_without_python_headers(facts_for(), matrix) == []


def test_unknown_nvcc_version_is_not_judged(matrix):
    (result,) = build.build_nvcc_mismatch(facts_for({"nvcc_version": None}), matrix)
    assert isinstance(result, Unjudged)


def _flash(free_gib: float, cores: int = 16, tools: dict[str, Any] | None = None, **memory: Any):
    facts = facts_for(tools, installed=[ext("flash-attn", "2.8.3", modules=[])])
    facts.system["memory"].update(available_bytes=int(free_gib * 1024**3), **memory)
    facts.system["cpu"]["usable_cores"] = cores
    return facts


@pytest.mark.parametrize(
    ("free_gib", "jobs"),
    [(20, 1), (39.9, 1), (40, 2), (359, 17), (360, None), (380, None)],
)  # 16 CPUs: ninja runs 18 jobs; flash-attn's job needs up to 5 GiB x 4 nvcc threads = 20 GiB
def test_max_jobs_is_advised_where_ninja_s_jobs_do_not_fit_in_free_memory(matrix, free_gib, jobs):
    (verdict,) = build_ready.build_ready(_flash(free_gib), matrix)
    assert verdict.severity is Severity.INFO
    assert "can build CUDA extensions for torch 2.13.0+cu130 (CUDA 13.0)" in verdict.title
    assert verdict.evidence["memory"]["ninja_default_jobs"] == 18
    if jobs is None:
        assert verdict.fixes == ()
    else:
        assert shown_all(verdict.fixes[0]) == (f"export MAX_JOBS={jobs}",)
    assert build_memory.build_memory_short(_flash(free_gib), matrix) == []


@pytest.mark.parametrize(("cores", "default"), [(1, 2), (2, 3), (3, 5), (64, 66)])
def test_ninja_s_default_jobs_follow_the_cpus(matrix, cores, default):
    plan = build_memory.budget(_flash(10_000, cores), matrix, ["asked (--build)"], TOOLS)
    assert plan.default_jobs == default and plan.fits == 500


def test_nvcc_threads_and_a_container_s_memory_cap_change_the_budget(matrix):
    facts = _flash(100, tools={"nvcc_threads": "2"})  # 10 GiB a job: 10 fit, ninja runs 18
    (verdict,) = build_ready.build_ready(facts, matrix)
    assert shown_all(verdict.fixes[0]) == ("export MAX_JOBS=10",)
    capped = _flash(100, cgroup_limit_bytes=40 * 1024**3)  # the cgroup's 40 GiB bind first
    (verdict,) = build_ready.build_ready(capped, matrix)
    assert shown_all(verdict.fixes[0]) == ("export MAX_JOBS=2",)


@pytest.mark.parametrize(
    ("free_gib", "threads"), [(19.9, 3), (15, 3), (14.9, 2), (5, 1), (4.9, None)]
)  # under one 20 GiB job: NVCC_THREADS that fit at 5 GiB each, else free memory
def test_less_than_one_job_of_free_memory_is_a_warning(matrix, free_gib, threads):
    (verdict,) = build_memory.build_memory_short(_flash(free_gib), matrix)
    assert verdict.severity is Severity.WARNING
    assert verdict.title == (
        f"Building flash-attn needs up to 20 GiB for one compile job (NVCC_THREADS=4), "
        f"but only {free_gib:.1f} GiB of memory is free"
    )
    if threads is None:
        assert verdict.fixes[0].commands == ()
    else:
        assert shown_all(verdict.fixes[0]) == (
            f"export NVCC_THREADS={threads}",
            "export MAX_JOBS=1",
        )
    assert build_ready.build_ready(_flash(free_gib), matrix) == []  # not "ready"


def test_build_asked_alone_advises_without_a_warning(matrix):
    facts = facts_for({"requested": True})  # no flash-attn installed or being built
    facts.system["memory"]["available_bytes"] = 8 * 1024**3
    assert build_memory.build_memory_short(facts, matrix) == []
    (verdict,) = build_ready.build_ready(facts, matrix)
    assert shown_all(verdict.fixes[0]) == ("export NVCC_THREADS=1", "export MAX_JOBS=1")


def test_unknown_free_memory_is_not_judged(matrix):
    facts = _flash(10)
    facts.system["memory"]["available_bytes"] = None
    (result,) = build_memory.build_memory_short(facts, matrix)
    assert isinstance(result, Unjudged)


def test_the_build_directory_s_free_disk_is_read_and_shown(matrix, tmp_path):
    (tmp_path / "scratch").mkdir()
    host = Host(root=tmp_path, env={"TMPDIR": "/scratch"})
    room = buildtools.build_dir(host)
    assert room["path"] == "/scratch" and isinstance(room["free_bytes"], int)
    assert room["free_bytes"] == os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    assert buildtools.build_dir(Host(root=tmp_path, env={"TMPDIR": "/gone"}))["free_bytes"] is None
    assert buildtools.build_dir(Host(root=tmp_path, env={"TMP": "/scratch"}))["path"] == "/scratch"
    assert buildtools.build_dir(Host(root=tmp_path, env={}))["path"] == "/tmp"
    facts = _flash(1000, tools={"build_dir": {"path": "/scratch", "free_bytes": 42 * 1024**3}})
    (verdict,) = build_ready.build_ready(facts, matrix)
    assert verdict.title.endswith("; 42 GiB free in /scratch")


def test_ready_says_nothing_while_another_build_check_finds_a_problem(matrix):
    assert build_ready.build_ready(facts_for({"ninja": False}), matrix) == []
    (unknown,) = build_ready.build_ready(facts_for({"nvcc_version": None}), matrix)
    assert isinstance(unknown, Unjudged)  # not "ready": nvcc's version is unknown


def test_max_jobs_already_set_is_not_advised(matrix):
    facts = facts_for({"max_jobs": "2"}, installed=[ext("flash-attn", "2.8.3", modules=[])])
    facts.system["memory"]["total_bytes"] = 16 * 1024**3
    (verdict,) = build_ready.build_ready(facts, matrix)
    assert verdict.fixes == ()
