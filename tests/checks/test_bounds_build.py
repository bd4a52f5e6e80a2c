"""DD530-DD534 at every branch of their rules: what makes a build come (each extension the matrix
lists, by its ops, its rebuild and where it came from), nvcc against torch's CUDA, the host
compiler, CUDA_HOME, ninja and Python.h; each verdict's severity, evidence and fix."""

from __future__ import annotations

import pytest

from dldoctor.checks import build, build_memory, build_ready
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.fixes import build as fb
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.test_build import TOOLS, facts_for
from tests.checks.test_extensions import ext

MATRIX = load()
SPECS = MATRIX.tables["extensions"]["extension"]
ASKED = ["asked (--build)"]


def expected_reason(spec: dict, modules, origin) -> str | None:
    """The rule: JIT ops not yet built, required ops missing from a build that is not a wheel
    swap, or an extension installed from a directory or a checkout, is a build coming."""
    name, version = spec["name"], "1.0"
    if spec.get("ops") == "jit" and modules == []:
        return f"{name} {version} (its ops are compiled at first use)"
    if spec.get("ops") == "required" and modules == [] and spec.get("rebuild") != "wheel":
        return f"{name} {version} (to be rebuilt with its extensions)"
    if isinstance(origin, dict) and origin.get("kind") in ("directory", "vcs"):
        return f"{name} {version} (built from a {origin['kind']})"
    return None


ORIGINS = [False, {"kind": "directory"}, {"kind": "vcs"}, {"kind": "index"}]


@pytest.mark.parametrize("spec", SPECS, ids=[s["name"] for s in SPECS])
def test_what_makes_a_build_come_follows_each_extensions_row(spec):
    for modules in ([], ["ops.so"], None):
        for origin in ORIGINS:
            item = ext(spec["name"], "1.0", modules=modules)
            item["origin"] = origin
            facts = facts_for({"requested": False}, installed=[item])
            want = expected_reason(spec, modules, origin)
            assert build.building(facts, MATRIX) == ([want] if want else []), (modules, origin)


def test_every_rule_kind_is_in_the_matrix():
    """The table above is only a test if the matrix has each kind of row."""
    kinds = {(s.get("ops"), s.get("rebuild") == "wheel") for s in SPECS}
    assert {("jit", False), ("required", False), ("required", True), ("none", True)} <= kinds


def test_asked_comes_first_and_unknown_extensions_add_nothing():
    item = ext("deepspeed", "0.16.0", modules=[])
    facts = facts_for({"requested": True}, installed=[item])
    assert build.building(facts, MATRIX) == [
        *ASKED,
        "deepspeed 0.16.0 (its ops are compiled at first use)",
    ]
    facts.packages["extensions"] = None  # not examined: no reason read from it
    assert build.building(facts, MATRIX) == ASKED


def test_nothing_coming_or_no_torch_or_a_cpu_torch_is_not_applicable():
    with pytest.raises(
        NotApplicable, match=r"^nothing is being built \(dldoctor check --build asks\)$"
    ):
        build.build_without_ninja(facts_for({"requested": False}), MATRIX)
    no_torch = facts_for()
    no_torch.packages["distributions"] = []
    with pytest.raises(NotApplicable, match=r"^torch is not installed$"):
        build.build_without_ninja(no_torch, MATRIX)
    with pytest.raises(
        NotApplicable, match=r"^torch is a CPU-only build: CUDA extensions are not built for it$"
    ):
        build.build_without_ninja(facts_for(cuda=False), MATRIX)


def test_dd530_no_nvcc_is_an_error_naming_cuda_home():
    facts = facts_for({"nvcc": False, "cuda_home": "/opt/empty"})
    (verdict,) = build.build_nvcc_mismatch(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert (
        verdict.title
        == "No nvcc to build CUDA extensions for torch's CUDA 13.0 (CUDA_HOME: /opt/empty)"
    )
    assert verdict.evidence == {"building": ASKED, "cuda_home": "/opt/empty", "torch_cuda": "13.0"}
    assert verdict.fixes == (fb.toolkit_for(facts, "13.0"),)
    (none,) = build.build_nvcc_mismatch(facts_for({"nvcc": False, "cuda_home": None}), MATRIX)
    assert none.title.endswith("(CUDA_HOME: none found)")


def test_dd530_unknown_nvcc_or_its_version_is_unjudged():
    assert build.build_nvcc_mismatch(facts_for({"nvcc": None}), MATRIX) == [
        Unjudged("nvcc", "cuda.build_tools.nvcc")
    ]
    assert build.build_nvcc_mismatch(facts_for({"nvcc_version": "junk"}), MATRIX) == [
        Unjudged("nvcc", "cuda.build_tools.nvcc_version")
    ]


@pytest.mark.parametrize(
    ("nvcc", "torch_cuda", "severity", "title"),
    [
        ("12.9.86", "13.0", Severity.ERROR,
         "nvcc 12.9.86 (CUDA 12) cannot build extensions for torch's CUDA 13.0: another CUDA major"),
        ("13.1.80", "13.0", Severity.WARNING,
         "nvcc 13.1.80 builds extensions for torch's CUDA 13.0 with another minor version "
         "(torch warns; it usually works)"),
    ],
)  # fmt: skip
def test_dd530_another_major_or_minor(nvcc, torch_cuda, severity, title):
    facts = facts_for({"nvcc_version": nvcc}, cuda=torch_cuda)
    (verdict,) = build.build_nvcc_mismatch(facts, MATRIX)
    assert (verdict.severity, verdict.title) == (severity, title)
    assert verdict.evidence == {
        "building": ASKED,
        "cuda_home": TOOLS["cuda_home"],
        "torch_cuda": torch_cuda,
        "nvcc_version": nvcc,
    }
    assert verdict.fixes == (fb.toolkit_for(facts, torch_cuda),)


def test_dd531_no_host_compiler_is_an_error():
    compiler = {**TOOLS["host_compiler"], "path": False, "command": "cc-x"}
    facts = facts_for({"host_compiler": compiler})
    (verdict,) = build.build_host_compiler_too_new(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == "No host compiler (cc-x) for nvcc: CUDA extensions cannot be built"
    assert verdict.evidence == {"building": ASKED}
    assert verdict.fixes == (fb.compiler(facts, None),)


def test_dd531_without_nvcc_or_a_compiler_record_leaves_it_to_dd530():
    assert build.build_host_compiler_too_new(facts_for({"nvcc": False}), MATRIX) == []
    assert build.build_host_compiler_too_new(facts_for({"host_compiler": None}), MATRIX) == []
    compiler = {**TOOLS["host_compiler"], "path": False}
    assert (
        build.build_host_compiler_too_new(
            facts_for({"host_compiler": compiler, "nvcc": False}), MATRIX
        )
        == []
    )


def test_dd531_unknown_compiler_version_or_range_is_unjudged():
    compiler = {**TOOLS["host_compiler"], "version": None}
    assert build.build_host_compiler_too_new(facts_for({"host_compiler": compiler}), MATRIX) == [
        Unjudged("the host compiler", "cuda.build_tools.host_compiler.version")
    ]
    tools = {"host_gcc_max": None, "nvcc_version": "9.0.1"}  # older than every host_gcc row
    assert build.build_host_compiler_too_new(facts_for(tools), MATRIX) == [
        Unjudged("nvcc's host compiler range", "cuda.build_tools.host_gcc_max")
    ]


@pytest.mark.parametrize("limit", [12, 13, 15])
@pytest.mark.parametrize("above", [-1, 0, 1])
def test_dd531_gcc_at_below_and_above_the_toolkits_limit(limit, above):
    compiler = {**TOOLS["host_compiler"], "version": f"{limit + above}.1.0"}
    facts = facts_for({"host_compiler": compiler, "host_gcc_max": limit})
    verdicts = build.build_host_compiler_too_new(facts, MATRIX)
    if above <= 0:
        assert verdicts == []
        return
    (verdict,) = verdicts
    assert verdict.severity is Severity.ERROR
    assert verdict.title == (
        f"gcc {limit + 1}.1.0 is newer than nvcc 13.0.88 accepts (GCC {limit} at most): "
        "CUDA extensions will not compile"
    )
    assert verdict.evidence == {
        "building": ASKED, "compiler": compiler, "gcc_max": limit, "rule": "crt/host_config.h",
    }  # fmt: skip
    assert verdict.fixes == (fb.compiler(facts, limit),)


@pytest.mark.parametrize("row", MATRIX.tables["extensions"]["host_gcc"], ids=lambda r: r["cuda"])
def test_dd531_each_host_gcc_row_applies_from_its_own_release(row):
    """A row is the limit of its own CUDA release (at it, not only after it)."""
    assert build._gcc_row(MATRIX, row["cuda"]) == row
    assert build._gcc_row(MATRIX, "junk") is None


def test_dd532_cuda_home_or_cuda_path_without_nvcc():
    for chosen in ("CUDA_HOME", "CUDA_PATH"):
        facts = facts_for({"cuda_home": "/opt/x", "cuda_home_chosen_by": chosen, "nvcc": False})
        (verdict,) = build.build_cuda_home_elsewhere(facts, MATRIX)
        assert verdict.severity is Severity.ERROR
        assert (
            verdict.title == f"{chosen}=/opt/x has no bin/nvcc: torch will not find a CUDA compiler"
        )
        assert verdict.evidence == {
            "building": ASKED, "cuda_home": "/opt/x", "chosen_by": chosen, "nvcc_on_path": False,
        }  # fmt: skip
        assert verdict.fixes == (fb.toolkit_for(facts, "13.0"),)
    guessed = facts_for(
        {"cuda_home": "/opt/x", "cuda_home_chosen_by": "nvcc on PATH", "nvcc": False}
    )
    assert build.build_cuda_home_elsewhere(guessed, MATRIX) == []


def test_dd532_cuda_home_beside_another_toolkits_nvcc():
    on_path = {"path": "/usr/local/cuda-13.0/bin/nvcc", "toolkit_path": "/usr/local/cuda-13.0"}
    for chosen in ("CUDA_HOME", "CUDA_PATH"):
        facts = facts_for(
            {"cuda_home": "/usr/local/cuda-12.8", "cuda_home_chosen_by": chosen},
            nvcc_on_path=on_path,
        )
        (verdict,) = build.build_cuda_home_elsewhere(facts, MATRIX)
        assert verdict.severity is Severity.WARNING
        assert verdict.title == (
            f"{chosen}=/usr/local/cuda-12.8 but the nvcc on PATH is /usr/local/cuda-13.0's: "
            "a build mixes two toolkits"
        )
        assert verdict.evidence["nvcc_on_path"] == on_path
        assert verdict.fixes == (fb.toolkit_for(facts, "13.0"),)
    chosen_by_path = facts_for(
        {"cuda_home": "/usr/local/cuda-12.8", "cuda_home_chosen_by": "nvcc on PATH"},
        nvcc_on_path=on_path,
    )
    assert build.build_cuda_home_elsewhere(chosen_by_path, MATRIX) == []


def test_dd533_unknown_ninja_is_unjudged_and_each_verdict_says_why():
    assert build.build_without_ninja(facts_for({"ninja": None}), MATRIX) == [
        Unjudged("ninja", "cuda.build_tools.ninja")
    ]
    (slow,) = build.build_without_ninja(facts_for({"ninja": False}), MATRIX)
    assert slow.title == "No ninja on PATH: extensions build slowly, one file at a time"
    assert slow.evidence == {"building": ASKED}
    jit = facts_for(
        {"ninja": False, "requested": False}, installed=[ext("deepspeed", "0.16.0", modules=[])]
    )
    (fails,) = build.build_without_ninja(jit, MATRIX)
    assert fails.title == "No ninja on PATH: JIT-compiled ops will fail to build"
    assert fails.fixes == (fb.ninja(jit),)


def test_dd534_names_pythons_minor_in_the_headers_fix():
    facts = facts_for(headers=False)
    (verdict,) = build.build_without_python_headers(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == "Python.h is missing: C/C++ extensions cannot be built"
    assert verdict.evidence == {"building": ASKED, "python": "3.11.7"}
    assert verdict.fixes == (fb.python_headers("3.11"),)
    facts.python["version"] = None
    (unknown,) = build.build_without_python_headers(facts, MATRIX)
    assert unknown.fixes == (fb.python_headers(""),)


def test_dd535_ready_names_the_tools_it_will_use_and_the_memory_it_planned():
    tools = {"build_dir": {"path": "/scratch", "free_bytes": 42 * 1024**3}, "max_jobs": "4"}
    facts = facts_for(tools, installed=[ext("flash-attn", "2.8.3", modules=[])])
    (verdict,) = build_ready.build_ready(facts, MATRIX)
    plan = build_memory.budget(
        facts, MATRIX, build.building(facts, MATRIX), facts.cuda["build_tools"]
    )
    assert verdict.severity is Severity.INFO
    assert verdict.title == (
        "This machine can build CUDA extensions for torch 2.13.0+cu130 (CUDA 13.0): "
        "nvcc 13.0.88, gcc 12.2.0, ninja; 42 GiB free in /scratch"
    )
    assert verdict.evidence == {
        "building": build.building(facts, MATRIX),
        "cuda_home": TOOLS["cuda_home"],
        "max_jobs": "4",
        "build_dir": tools["build_dir"],
        "memory": {
            "free_bytes": plan.free_bytes,
            "job_bytes": plan.job_bytes,
            "jobs_that_fit": plan.fits,
            "ninja_default_jobs": plan.default_jobs,
        },
    }


def test_dd535_with_the_memory_unknown_is_ready_and_says_the_memory_was_not_judged():
    facts = facts_for()
    facts.system["memory"]["available_bytes"] = None
    facts.system["memory"]["total_bytes"] = None
    ready, unknown = build_ready.build_ready(facts, MATRIX)
    assert ready.evidence["memory"] is None and ready.evidence["build_dir"] is None
    assert ready.fixes == () and not ready.title.endswith("free in None")
    assert unknown == Unjudged("the build's memory", "system.memory.available_bytes")


FLASH = next(s for s in SPECS if s.get("build_memory"))
PER_THREAD = int(FLASH["build_memory"]["gib_per_nvcc_thread"])
THREADS = int(FLASH["build_memory"]["nvcc_threads"])
GIB = 1024**3


def flash(free: int, **more):
    facts = facts_for(
        {"requested": False, **more.pop("tools", {})},
        installed=[ext(FLASH["name"], "2.8.3", modules=[])],
    )
    facts.system["memory"].update(available_bytes=free, **more)
    return facts


@pytest.mark.parametrize("limit", [0, 1, PER_THREAD * THREADS * GIB, None])
def test_dd536_a_containers_memory_cap_binds_from_one_byte(limit):
    free = 1000 * GIB
    facts = flash(free, cgroup_limit_bytes=limit)
    verdicts = build_memory.build_memory_short(facts, MATRIX)
    if limit == 1:
        (verdict,) = verdicts
        assert verdict.evidence["free_bytes"] == 1
    else:
        assert verdicts == []  # 0 and None: no cap; a cap of one job: that job fits


def test_dd536_says_how_much_one_job_needs_and_how_much_is_free():
    job = PER_THREAD * THREADS * GIB
    facts = flash(job - 1)
    (verdict,) = build_memory.build_memory_short(facts, MATRIX)
    assert verdict.severity is Severity.WARNING
    free = (job - 1) / GIB
    assert verdict.title == (
        f"Building {FLASH['name']} needs up to {PER_THREAD * THREADS} GiB for one compile job "
        f"(NVCC_THREADS={THREADS}), but only {free:.1f} GiB of memory is free"
    )
    assert verdict.evidence == {
        "building": [f"{FLASH['name']} 2.8.3 (to be rebuilt with its extensions)"],
        "free_bytes": job - 1,
        "nvcc_threads": THREADS,
        "job_bytes": job,
    }
    threads = int(free // PER_THREAD)
    assert verdict.fixes == (fb.nvcc_threads(threads, f"{FLASH['name']}: {free:.1f} GiB free"),)
    (tiny,) = build_memory.build_memory_short(flash(GIB), MATRIX)
    assert tiny.fixes[0].summary == (
        f"Free memory (or add swap) before building {FLASH['name']}: one nvcc thread needs up to "
        f"{PER_THREAD} GiB, 1.0 GiB is free."
    )
    assert tiny.fixes[0].commands == ()


@pytest.mark.parametrize(
    ("written", "threads"),
    [("1", 1), ("2", 2), ("0", THREADS), ("x", THREADS), (None, THREADS)],
)
def test_nvcc_threads_as_set_else_the_extensions_default(written, threads):
    facts = flash(10_000 * GIB, tools={"nvcc_threads": written})
    plan = build_memory.budget(
        facts, MATRIX, build.building(facts, MATRIX), facts.cuda["build_tools"]
    )
    assert plan.threads == threads and plan.job_bytes == PER_THREAD * threads * GIB


@pytest.mark.parametrize("cores", [0, None])
def test_unknown_or_no_usable_cores_leave_the_jobs_unjudged(cores):
    facts = flash(100 * GIB)
    facts.system["cpu"]["usable_cores"] = cores
    assert build_memory.build_memory_short(facts, MATRIX) == [
        Unjudged("the build's parallel jobs", "system.cpu.usable_cores")
    ]


def test_the_max_jobs_advice_says_why():
    job = PER_THREAD * THREADS * GIB
    facts = flash(3 * job)
    facts.system["cpu"]["usable_cores"] = 16
    (verdict,) = build_ready.build_ready(facts, MATRIX)
    free = 3 * job / GIB
    assert verdict.fixes == (
        fb.max_jobs(
            3,
            f"{FLASH['name']}: {free:.0f} GiB free, up to {PER_THREAD * THREADS} GiB a job with "
            f"NVCC_THREADS={THREADS}; ninja would run 18",
        ),
    )


def test_a_build_of_an_extension_that_states_no_memory_is_not_budgeted():
    """Building apex (no build_memory row) on a machine with 1 GiB free: flash-attn's budget is
    flash-attn's alone, never applied to another extension's build."""
    facts = facts_for({"requested": False}, installed=[ext("apex", "0.1", modules=[])])
    facts.system["memory"].update(available_bytes=GIB)
    why = build.building(facts, MATRIX)
    assert why and not any(w.startswith(f"{FLASH['name']} ") for w in why)
    assert build_memory.budget(facts, MATRIX, why, facts.cuda["build_tools"]) is None
    assert build_memory.build_memory_short(facts, MATRIX) == []
    (ready,) = build_ready.build_ready(facts, MATRIX)
    assert ready.evidence["memory"] is None and ready.fixes == ()


@pytest.mark.parametrize("gib", [1, 42, 1000, 4096])
def test_dd535_says_the_build_folders_free_space_in_whole_gib(gib):
    tools = {"build_dir": {"path": "/scratch", "free_bytes": gib * GIB}}
    facts = facts_for(tools, installed=[ext("flash-attn", "2.8.3", modules=[])])
    (verdict,) = build_ready.build_ready(facts, MATRIX)
    assert verdict.title.endswith(f"; {gib} GiB free in /scratch")


def test_dd535_without_the_build_folders_free_space_says_nothing_of_it():
    facts = facts_for({"build_dir": None}, installed=[ext("flash-attn", "2.8.3", modules=[])])
    (verdict,) = build_ready.build_ready(facts, MATRIX)
    assert verdict.title == (
        "This machine can build CUDA extensions for torch 2.13.0+cu130 (CUDA 13.0): "
        "nvcc 13.0.88, gcc 12.2.0, ninja"
    )
