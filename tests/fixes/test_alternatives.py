"""Golden plans: both alternatives when the driver is the issue, the resolver, each installer.

The golden files are written only by `python -m tests.fixes.golden_plans`; these compare.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from packaging.version import Version

from dldoctor.facts.interpreter import environment
from dldoctor.facts.model import Facts
from dldoctor.fixes.alternatives import alternatives, install_alternatives
from dldoctor.fixes.builds import candidates
from dldoctor.fixes.resolve import keep_driver, runs, upgrade
from dldoctor.model import Area, Finding, Fix, Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.fixes.golden_plans import GOLDEN, compare, facts_of, findings, rendered, renderings


def test_old_driver_gets_plan_a_and_plan_b_with_what_each_costs(matrix):
    facts = facts_of("driver470_cpu_stack")
    plans = alternatives(findings(facts, matrix), facts, matrix)
    assert [p.letter for p in plans] == ["A", "B"]
    a, b = plans
    assert a.resolution.driver == "580.65.06"  # torch cu130 and jax[cuda13]: one upgrade for all
    assert [s.kind for s in a.steps].count("driver") == 1 and a.steps[0].kind == "driver"
    assert "driver" not in [s.kind for s in b.steps]  # B keeps the driver
    assert "B stays on torch 2.7 (2.13.0 is installed)" in b.costs
    assert "leaves JAX on the CPU" in b.costs
    compare(rendered(plans), GOLDEN / "driver470_fix.txt")


def test_a_new_enough_driver_is_not_the_issue(matrix):
    facts = facts_of("h100_cpu_stack")
    assert alternatives(findings(facts, matrix), facts, matrix) == []


def test_install_names_one_set_of_nvidia_wheels_for_the_frameworks(matrix):
    facts = facts_of("h100_cpu_stack")
    (only,) = install_alternatives(["torch", "tensorflow", "jax"], facts, matrix)
    assert only.resolution.pins["nvidia-cudnn-cu13"] == "==9.24.0.43"  # torch's pin; jax takes it
    jax = next(s for s in only.steps if "jax" in " ".join(s.commands[0]))
    assert jax.commands[0][-1] == "nvidia-cudnn-cu13==9.24.0.43"
    compare(rendered([only]), GOLDEN / "h100_install.txt")


def test_frameworks_pinning_different_cudnn_majors_cannot_share_one_environment(matrix):
    facts = facts_of("driver470_cpu_stack")
    b = keep_driver(["torch", "tensorflow"], facts, matrix)
    assert b is not None
    assert (
        "cudnn" in b.conflict
        and "torch 2.7 (CUDA 11.8) pins nvidia-cudnn-cu11==9.1.0.70" in b.conflict
    )
    assert "TensorFlow 2.14 (CUDA 11.8) loads cuDNN 8" in b.conflict
    assert [[x.framework for x in g] for g in b.groups] == [["torch"], ["tensorflow"]]
    (a_plan,) = [
        p for p in install_alternatives(["torch", "tensorflow"], facts, matrix) if p.letter == "B"
    ]
    assert a_plan.second[0].commands == (
        ("/work/venv/bin/python", "-m", "venv", "/work/venv-tensorflow"),
    )
    assert all(
        c[0] == "/work/venv-tensorflow/bin/python" for s in a_plan.second[1:] for c in s.commands
    )


def torch_build(matrix, release: str, cuda: str):
    facts = make_facts(gpu_machine(), with_packages(dist("torch", f"{release}.0")))  # an H100
    return next(
        b for b in candidates("torch", facts, matrix) if (b.release, b.cuda) == (release, cuda)
    )


@pytest.mark.parametrize(
    ("driver", "release", "cuda", "expected"),
    [
        ("520.61.05", "2.7", "11.8", True),  # 11.8's own driver
        ("450.80.02", "2.7", "11.8", True),  # below it, at 11.x's first: minor-version compat.
        ("450.80.01", "2.7", "11.8", False),  # below that
        ("525.60.13", "2.7", "12.6", True),  # 12.x's first driver runs a 12.6 build (cubins)
        ("525.60.12", "2.7", "12.6", False),
        ("580.65.06", "2.13", "13.0", True),
        ("575.51.03", "2.13", "13.0", False),  # a 12.x driver never runs a CUDA 13 build
    ],
)
def test_a_build_runs_from_its_majors_first_driver_on(matrix, driver, release, cuda, expected):
    build = torch_build(matrix, release, cuda)
    assert build.code == "cubin"  # the H100's sm_90 is compiled into each
    assert runs(driver, build) is expected


def test_minor_version_compatibility_does_not_carry_ptx(matrix):
    build = torch_build(matrix, "2.13", "13.2")
    ptx_only = dataclasses.replace(build, code="ptx")  # a GPU these wheels hold only PTX for
    assert runs("580.65.06", build) is True  # 13.x's first driver, cubins: runs
    assert runs("580.65.06", ptx_only) is False  # PTX of a 13.2 toolkit needs 13.2's driver
    assert runs(build.driver_full, ptx_only) is True


def test_plan_a_keeps_the_installed_release_and_b_never_goes_above_it(matrix):
    facts = facts_of("driver470_cpu_stack")
    a = upgrade(["torch"], facts, matrix)
    assert [(x.release, x.cuda) for x in a.builds] == [("2.13", "13.0")]
    b = keep_driver(["torch"], facts, matrix)
    assert b is not None and [(x.release, x.cuda) for x in b.builds] == [("2.7", "11.8")]


def test_unknown_driver_gives_no_plan_b(matrix):
    facts = make_facts(with_packages(dist("torch", "2.13.0+cpu")))
    assert keep_driver(["torch"], facts, matrix) is None


def conda_facts(tmp_path: Path, manager_history: str = "") -> Facts:
    """A conda env in a tmp prefix (a real conda-meta/), with torch installed by conda."""
    prefix = tmp_path / "envs" / "train"
    (prefix / "conda-meta").mkdir(parents=True)
    if manager_history:
        (prefix / "conda-meta" / "history").write_text(f"# cmd: {manager_history}\n")
    env = environment(str(prefix), {})
    python = str(prefix / "bin" / "python")
    record = {
        "name": "pytorch",
        "version": "2.13.0",
        "build": "cpu_py311",
        "channel": "conda-forge",
    }
    return make_facts(
        gpu_machine(),
        {
            "python": {
                "command": python,
                "executable": python,
                "prefix": str(prefix),
                "environment": env,
            }
        },
        with_packages(dist("torch", "2.13.0", installer="conda", conda=record)),
    )


def test_conda_owned_torch_is_removed_by_conda_by_its_conda_name_then_installed_by_pip(
    tmp_path, matrix
):
    facts = conda_facts(tmp_path)
    assert facts.python["environment"]["manager"] == "conda"
    (only,) = install_alternatives(["torch"], facts, matrix)
    prefix = facts.python["prefix"]
    commands = [c for s in only.steps for c in s.commands]
    assert commands[0] == ("conda", "remove", "--prefix", prefix, "--force", "-y", "pytorch")
    assert commands[1][-2:] == ("--index-url", "https://download.pytorch.org/whl/cu130")
    assert commands[1][:4] == (f"{prefix}/bin/python", "-m", "pip", "install")
    assert all(s.runnable for s in only.steps)  # both name the judged environment


def test_mamba_made_environment_is_changed_with_mamba(tmp_path, matrix):
    facts = conda_facts(tmp_path, "mamba create -n train python=3.11")
    assert facts.python["environment"]["manager"] == "mamba"
    (only,) = install_alternatives(["torch"], facts, matrix)
    assert only.steps[0].commands[0][:2] == ("mamba", "remove")


def test_every_golden_plan_file_is_one_regeneration_writes(matrix):
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(p.name for p in renderings(matrix))


def test_a_cuda_build_too_new_for_the_driver_gets_a_and_an_older_build_as_b(matrix):
    facts = make_facts(
        gpu_machine(driver="570.86.15", cuda="12.8"),
        with_packages(
            dist("torch", "2.13.0+cu130"),
            frameworks={
                "torch": {
                    "distributions": [{"name": "torch", "version": "2.13.0+cu130"}],
                    "build": {"cuda": "13.0", "hip": None},
                }
            },
        ),
    )
    a, b = alternatives(findings(facts, matrix), facts, matrix)
    assert a.steps[0].fix.summary.startswith("Install the NVIDIA driver 580.65.06 or newer")
    assert [(x.release, x.cuda) for x in b.resolution.builds] == [("2.13", "12.6")]
    assert b.steps[-1].commands[-1][-3:] == (
        "torch==2.13.0+cu126",
        "--index-url",
        "https://download.pytorch.org/whl/cu126",
    )


def test_a_driver_with_no_framework_waiting_on_it_is_one_plain_plan(matrix, tmp_path):
    """A CUDA toolkit and no driver (DD101), no framework: the driver step, not "two plans"."""
    from dldoctor.checks.registry import run_checks
    from dldoctor.facts import gather
    from dldoctor.facts.host import Host
    from dldoctor.fixes.plan import plan

    (tmp_path / "usr/local/cuda-13.0").mkdir(parents=True)
    (tmp_path / "usr/local/cuda-13.0/version.json").write_text('{"cuda": {"version": "13.0.88"}}')
    (tmp_path / "sys/bus/pci/devices").mkdir(parents=True)
    facts = gather(matrix, Host(root=tmp_path, env={"PATH": "/usr/bin:/bin"}))
    found = [f for o in run_checks(facts, matrix) for f in o.findings]
    assert [f.code for f in found] == ["DD101"]
    assert [s.kind for s in plan(found, facts)] == ["driver"]
    assert alternatives(found, facts, matrix) == []


@pytest.mark.parametrize(
    ("driver", "cuda", "variant"),
    [
        ("580.65.06", "13.0", "13.0"),  # at CUDA 13.0's floor: the PyPI default build runs here
        ("580.82.07", "13.0", "13.0"),  # not cu132, which would need driver 595
        ("575.57.08", "12.9", "12.6"),  # below 13.0's floor: the build this driver runs
    ],
)
def test_install_torch_picks_the_pypi_default_cuda_build_a_580_driver_runs(
    matrix, driver, cuda, variant
):
    facts = make_facts(gpu_machine(driver=driver, cuda=cuda), with_packages())
    plans = install_alternatives(["torch"], facts, matrix)
    assert [p.letter for p in plans] == ["A"]  # nothing to choose: no driver change
    (build,) = plans[0].resolution.builds
    assert (build.framework, build.release, build.cuda) == ("torch", "2.14", variant)
    assert "driver" not in [s.kind for s in plans[0].steps]
    tag = "cu" + variant.replace(".", "")
    assert plans[0].steps[-1].commands[-1][-1] == f"https://download.pytorch.org/whl/{tag}"


def _other(code: str, severity: Severity) -> Finding:
    """A finding about neither a framework's build nor the driver (its fix names no framework)."""
    remedy = Fix(f"Unset the variable {code} is about.", (("unset", "X"),))
    return Finding(code, severity, "other", Area.ENVIRONMENT, fixes=(remedy,))


def test_both_plans_carry_the_other_findings_and_the_driver_step_its_findings_code(matrix):
    facts = facts_of("driver470_cpu_stack")
    driver_first = next(f for f in findings(facts, matrix) if f.code == "DD201")
    about_driver = dataclasses.replace(driver_first, code="DD104", evidence={})
    found = [
        about_driver,
        *findings(facts, matrix),
        _other("DD402", Severity.WARNING),
        _other("DD401", Severity.INFO),  # below a warning: no plan step of its own
    ]
    a, b = alternatives(found, facts, matrix)
    for alternative in (a, b):
        codes = [c for s in alternative.steps for c in s.codes]
        assert "DD402" in codes and "DD401" not in codes
    driver = next(s for s in a.steps if s.kind == "driver")
    assert driver.codes[0] == "DD104"


def test_the_second_environment_step_carries_its_command_and_nothing_there_runs_by_itself(matrix):
    facts = facts_of("driver470_cpu_stack")
    (b,) = [
        p for p in install_alternatives(["torch", "tensorflow"], facts, matrix) if p.letter == "B"
    ]
    made = b.second[0]
    assert (
        made.fix.commands
        == made.commands
        == (("/work/venv/bin/python", "-m", "venv", "/work/venv-tensorflow"),)
    )
    assert made.fix.summary == "Create a second environment at /work/venv-tensorflow."
    assert all(s.fix.automatic is False for s in b.second[1:])  # a plain bool in the report


def test_plan_as_driver_step_says_what_it_is_for(matrix):
    facts = facts_of("driver470_cpu_stack")
    a = alternatives(findings(facts, matrix), facts, matrix)[0]
    assert a.steps[0].fix.summary == (
        "Install the NVIDIA driver 580.65.06 or newer (for every build this plan installs), "
        "then reboot."
    )


def test_no_plan_b_when_the_kept_driver_runs_no_build(matrix):
    facts = facts_of("driver470_cpu_stack")
    ancient = dataclasses.replace(
        facts, nvidia=dict(facts.nvidia, driver_version="340.108", cuda_driver_version="6.5")
    )
    plans = alternatives(findings(ancient, matrix), ancient, matrix)
    assert [p.letter for p in plans] == ["A"]


def test_a_driver_step_only_the_builds_need_names_the_driver_check_then_their_findings(matrix):
    """The A100 with driver 470 and only CPU builds of TensorFlow, JAX and ONNX Runtime: no
    finding is about the driver (each asks for a GPU build), yet A's builds need driver 580.
    Its driver step answers DD501 (a driver older than a CUDA build needs) and the builds'
    DD201; B keeps the driver and has no driver step."""
    recorded = facts_of("driver470_cpu_stack")
    kept = ("tensorflow", "jax", "onnxruntime", "keras")
    packages = dict(
        recorded.packages,
        frameworks={k: v for k, v in recorded.packages["frameworks"].items() if k in kept},
        distributions=[
            d
            for d in recorded.packages["distributions"]
            if not d["name"].lower().startswith(("torch", "paddle"))
        ],
    )
    facts = dataclasses.replace(recorded, packages=packages)
    found = findings(facts, matrix)
    assert {f.code for f in found} == {"DD201"}
    assert not [i for f in found for i in f.fixes[0].intents if i.action == "driver"]
    a, b = alternatives(found, facts, matrix)
    driver = [s for s in a.steps if s.kind == "driver"]
    assert [s.codes for s in driver] == [("DD501", "DD201")]
    assert driver[0].fix.summary.startswith("Install the NVIDIA driver 580.65.06 or newer")
    assert "driver" not in [s.kind for s in b.steps]


def test_which_framework_a_finding_is_about_by_its_fix_else_its_evidence():
    from dldoctor.fixes.alternatives import _about_driver, _framework
    from dldoctor.model import Intent

    driver = Intent(action="driver", driver="580.65.06")
    torch = Intent(("torch==2.13.0+cu130",), framework="torch")

    def about(*intents, evidence=None, fixes=True):
        remedy = Fix("x", intents=intents)
        return Finding(
            "DD501", Severity.ERROR, "t", Area.NVIDIA, evidence or {}, fixes=(remedy,) * fixes
        )

    assert _framework(about(torch, driver)) == "torch"  # its intent names it: evidence unread
    assert _framework(about(driver, evidence={"framework": "jax"})) == "jax"
    assert _framework(about(driver, evidence={"framework": ["jax"]})) is None  # not a name
    assert _framework(about(evidence={"framework": "jax"})) is None  # no driver: not its plan
    assert _framework(about(fixes=False)) is None and not _about_driver(about(fixes=False))
    assert _about_driver(about(driver)) and not _about_driver(about(torch))


def test_install_answers_no_finding_its_steps_name_no_code(matrix):
    facts = facts_of("driver470_cpu_stack")
    plans = install_alternatives(["torch", "tensorflow"], facts, matrix)
    steps = [s for p in plans for s in (*p.steps, *p.second)]
    assert steps and {c for s in steps for c in s.codes} == {""}
    assert any(s.kind == "driver" for s in plans[0].steps)  # A's driver step too


def test_install_has_no_plan_b_when_the_kept_driver_runs_no_build(matrix):
    facts = make_facts(gpu_machine(driver="340.108", cuda="6.5"), with_packages())
    assert [p.letter for p in install_alternatives(["torch"], facts, matrix)] == ["A"]


def test_install_with_no_build_for_this_python_says_none(matrix):
    facts = make_facts(gpu_machine(), with_packages(), {"python": {"version": "3.8.18"}})
    (a,) = install_alternatives(["tensorflow"], facts, matrix)
    assert a.headline == "The builds these GPUs run best: none."


def test_a_conflict_within_one_group_needs_no_second_environment(matrix):
    from dldoctor.fixes.alternatives import resolved_plan
    from dldoctor.fixes.resolve import Resolution

    facts = facts_of("h100_cpu_stack")
    (only,) = install_alternatives(["torch"], facts, matrix)
    single = Resolution(
        only.resolution.builds,
        {},
        only.resolution.driver,
        conflict="x",
        groups=(only.resolution.builds,),
    )
    steps, second = resolved_plan(single, facts, False)
    assert second == [] and steps


def test_plan_as_second_environment_waits_for_no_second_driver_upgrade(matrix):
    """The driver is the machine's: A upgrades it once, to the floor of every build of both
    environments; the second environment's installs wait only for that environment."""
    from dldoctor.fixes.alternatives import resolved_plan
    from dldoctor.fixes.resolve import Resolution

    recorded = facts_of("driver470_cpu_stack")
    # the driver read from NVML and /proc alike: neither may plan a second upgrade
    proc = {"version": recorded.nvidia["driver_version"]}
    facts = dataclasses.replace(recorded, nvidia=dict(recorded.nvidia, proc_driver=proc))
    torch, tf = candidates("torch", facts, matrix)[0], candidates("tensorflow", facts, matrix)[0]
    driver = max(torch.driver_full, tf.driver_full, key=Version)
    split = Resolution((torch, tf), {}, driver, conflict="x", groups=((torch,), (tf,)))
    steps, second = resolved_plan(split, facts, True)
    assert [s.kind for s in steps].count("driver") == 1
    assert [s.kind for s in second] == ["other", "install"]
    assert second[1].after == (1,)
