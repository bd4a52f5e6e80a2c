"""Runtime checks (DD6xx) over recorded runtime facts: one scenario each, as the probes record them."""

from __future__ import annotations

import copy
import functools
from typing import Any

import jsonschema

from dldoctor.checks.registry import all_checks, run_checks
from dldoctor.diagnosis import diagnose
from dldoctor.document.schema import report_schema
from dldoctor.facts.model import Facts
from dldoctor.model import Severity, Status
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages

TORCH_CU121 = with_packages(
    dist("torch", "2.5.1+cu121"),
    dist("torchvision", "0.20.1+cu121"),
    frameworks={
        "torch": {
            "distributions": [
                {"name": "torch", "version": "2.5.1+cu121"},
                {"name": "torchvision", "version": "0.20.1+cu121"},
            ],
            "build": {"cuda": "12.1", "hip": False},
        }
    },
)


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": "pass",
        "reason": "",
        "duration_s": 1.0,
        "import": {"module": "torch", "ok": True, "version": "2.5.1+cu121", "error": None},
        "companions": {},
        "info": {"cuda_built": True, "cuda_version": "12.1"},
        "info_errors": {},
        "devices": [{"id": "cpu", "kind": "cpu"}],
        "smoke": [],
        "libraries": [],
        "warnings": [],
        "output": [],
        "during": None,
        "probe_error": None,
        "process": {"exit_code": 0, "signal": None, "timed_out": False, "output_tail": []},
    }
    for key, value in fields.items():
        base[key] = value
    return base


def runtime(**records: dict[str, Any]) -> dict[str, Any]:
    section = {"ran": True, "mode": "quick", "timeout_s": 60.0, "memory_limit_bytes": 1 << 30}
    return {"runtime": {**section, "frameworks": records}}


def error(kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "traceback": []}


@functools.cache
def _validator(definition: str) -> Any:
    """A validator of one of the report schema's definitions, the schema checked once: checking
    it again on every call (what ``jsonschema.validate`` does) took seconds per test."""
    schema = report_schema()
    part = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    kind = jsonschema.validators.validator_for(part)
    kind.check_schema(part)
    return kind(part)


def judge(matrix, *overrides: dict[str, Any]):
    facts = make_facts(*overrides)
    outcomes = {o.code: o for o in run_checks(facts, matrix)}
    # the scenario's other sections are partial: check what is ours
    _validator("facts-runtime").validate(facts.runtime)
    for outcome in outcomes.values():
        for finding in outcome.findings:
            _validator("finding").validate(finding.to_dict())
    return outcomes


def test_cuda_init_failing_on_an_old_driver_names_the_driver_the_build_needs(matrix):
    torch = record(info={"cuda_built": True, "cuda_version": "12.1", "cuda_available": False})
    torch["info"]["cuda_init_error"] = (
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11040). "
        "Please update your GPU driver."
    )
    outcomes = judge(
        matrix, gpu_machine(driver="470.82.01", cuda="11.4"), TORCH_CU121, runtime(torch=torch)
    )
    (finding,) = outcomes["DD602"].findings
    assert finding.severity is Severity.ERROR
    assert finding.title.startswith(
        "The NVIDIA driver is too old for PyTorch 2.5.1+cu121 (built for CUDA 12.1): it supports CUDA 11.4 only"
    )
    assert "driver 530.30.02 or newer" in finding.fixes[0].summary
    assert "older than every CUDA build of torch 2.5.1" in finding.fixes[1].summary


def test_torchvision_built_for_another_torch_gets_the_paired_release(matrix):
    torch = record(
        companions={
            "torchvision": {
                "module": "torchvision",
                "ok": False,
                "error": error("RuntimeError", "operator torchvision::nms does not exist"),
            }
        }
    )
    outcomes = judge(matrix, TORCH_CU121, runtime(torch=torch))
    (finding,) = outcomes["DD601"].findings
    assert finding.title == (
        "`import torchvision` (PyTorch's companion) fails although it is installed: "
        "RuntimeError: operator torchvision::nms does not exist"
    )
    assert shown_all(finding.fixes[0]) == (
        "/env/bin/python -m pip install 'torchvision==0.20.*' --index-url https://download.pytorch.org/whl/cu121",
    )


def test_a_numpy_abi_import_error_gets_numpy_below_2(matrix):
    torch = record(status="fail")
    torch["import"] = {
        "module": "torch",
        "ok": False,
        "error": error(
            "ImportError",
            "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.1.0 as it may crash.",
        ),
    }
    (finding,) = judge(matrix, TORCH_CU121, runtime(torch=torch))["DD601"].findings
    assert shown_all(finding.fixes[0]) == ("/env/bin/python -m pip install 'numpy<2'",)


def test_no_kernel_image_on_the_gpu_is_reported_with_the_architecture(matrix):
    torch = record(
        devices=[{"id": "cpu", "kind": "cpu"}, {"id": "cuda:0", "kind": "cuda"}],
        smoke=[
            {
                "test": "autograd",
                "device": "cuda:0",
                "status": "fail",
                "error": error(
                    "RuntimeError",
                    "CUDA error: no kernel image is available for execution on the device",
                ),
            }
        ],
    )
    outcomes = judge(matrix, gpu_machine(), TORCH_CU121, runtime(torch=torch))
    (finding,) = outcomes["DD603"].findings
    assert "has no GPU code for sm_90" in finding.title
    judged = diagnose([f for o in outcomes.values() for f in o.findings]).findings
    assert [f.code for f in judged if f.severity is Severity.ERROR] == ["DD603"]  # once
    assert [e["code"] for e in judged[0].explains] == ["DD606"]  # the failed test is its evidence


def test_a_missing_cuda_library_on_a_gpu_machine_is_named(matrix):
    tf = record(
        **{"import": {"module": "tensorflow", "ok": True, "version": "2.16.1", "error": None}},
        info={"build_info": {"is_cuda_build": True}},
        output=[
            "W0000 ... Could not load dynamic library 'libcudnn.so.9'; dlerror: libcudnn.so.9: "
            "cannot open shared object file: No such file or directory",
            "W0000 ... Cannot dlopen some GPU libraries. Skipping registering GPU devices...",
        ],
    )
    outcomes = judge(matrix, gpu_machine(), runtime(tensorflow=tf))
    (finding,) = outcomes["DD604"].findings
    assert finding.evidence["libraries"] == ["libcudnn.so.9"]
    assert finding.title == "TensorFlow 2.16.1 could not load libcudnn.so.9 (output)"
    assert outcomes["DD605"].status is Status.PASSED  # the library explains the missing GPU


def test_the_same_library_message_without_a_gpu_is_not_a_finding(matrix):
    tf = record(
        **{"import": {"module": "tensorflow", "ok": True, "version": "2.16.1", "error": None}},
        output=[
            "Could not load dynamic library 'libcudart.so.12'; dlerror: libcudart.so.12: cannot open shared object file"
        ],
    )
    assert judge(matrix, runtime(tensorflow=tf))["DD604"].status is Status.PASSED


def test_nvml_sees_a_gpu_but_a_cuda_build_of_torch_sees_none(matrix):
    info = {"cuda_built": True, "cuda_version": "12.1", "cuda_available": False}
    torch = record(info=info, warnings=["UserWarning: torch sees no CUDA device here"])
    outcomes = judge(matrix, gpu_machine(), TORCH_CU121, runtime(torch=torch))
    (finding,) = outcomes["DD605"].findings
    assert finding.title.startswith("PyTorch 2.5.1+cu121 sees no GPU although NVML lists 1")
    assert finding.evidence["framework_said"] == ["UserWarning: torch sees no CUDA device here"]


def test_wrong_numbers_from_a_gpu_are_an_error_with_hardware_checks(matrix):
    torch = record(
        devices=[{"id": "cpu", "kind": "cpu"}, {"id": "cuda:0", "kind": "cuda"}],
        smoke=[
            {
                "test": "matmul",
                "device": "cuda:0",
                "status": "fail",
                "expected": {"float32": "<= 0.005"},
                "got": {"float32": 0.71},
            },
            {
                "test": "compile",
                "device": "cpu",
                "status": "fail",
                "error": error("InvalidCxxCompiler", "No working C++ compiler found"),
            },
        ],
    )
    findings = judge(matrix, gpu_machine(), TORCH_CU121, runtime(torch=torch))["DD606"].findings
    matmul, compile_ = sorted(findings, key=lambda f: f.evidence["test"], reverse=True)
    assert matmul.severity is Severity.ERROR
    assert matmul.title == (
        "PyTorch 2.5.1+cu121: matmul on cuda:0 gave a wrong result: expected "
        "{'float32': '<= 0.005'}, got {'float32': 0.71}"
    )
    assert "nvidia-smi -q -d ECC" in matmul.fixes[0].summary
    assert compile_.severity is Severity.WARNING
    assert "build-essential" in shown_all(compile_.fixes[0])[0]


def _compile_fix(matrix, *overrides: dict[str, Any]):
    torch = record(
        smoke=[
            {
                "test": "compile",
                "device": "cpu",
                "status": "fail",
                "error": error("InvalidCxxCompiler", "No working C++ compiler found"),
            }
        ],
    )
    found = judge(matrix, TORCH_CU121, runtime(torch=torch), *overrides)["DD606"].findings
    (finding,) = found
    return finding.fixes[0]


def test_a_missing_compiler_is_named_for_the_distribution_and_the_python(matrix):
    system_python = {"python": {"base_prefix": "/usr"}}
    ubuntu = _compile_fix(matrix, system_python)
    assert ubuntu.commands == (
        ("sudo", "apt-get", "install", "-y", "build-essential", "python3-dev"),
    )
    assert not ubuntu.automatic
    fedora = {"system": {"os": {"name": "Linux", "distribution_id": "fedora"}}}
    assert _compile_fix(matrix, system_python, fedora).commands == (
        ("sudo", "dnf", "install", "-y", "gcc-c++", "python3-devel"),
    )
    # A conda or pyenv Python ships its own Python.h: only the compiler is missing.
    conda = {"python": {"base_prefix": "/opt/conda"}}
    assert _compile_fix(matrix, conda).commands == (
        ("sudo", "apt-get", "install", "-y", "build-essential"),
    )
    unknown = {"system": {"os": {"name": "Linux", "distribution_id": "gentoo"}}}
    words = _compile_fix(matrix, conda, unknown)
    assert words.commands == () and "with your system's package manager" in words.notes


def test_sigill_is_the_cpu_not_a_generic_crash(matrix):
    jax = record(
        status="crash",
        reason="crashed with SIGILL during import jax",
        during="import jax",
        **{"import": None},
        process={"exit_code": -4, "signal": "SIGILL", "timed_out": False, "output_tail": []},
    )
    facts = {"system": {"cpu": {"model": "Intel Xeon E5-2670", "flags": ["sse4_2"]}}}
    outcomes = judge(
        matrix,
        facts,
        with_packages(
            dist("jaxlib", "0.4.30"),
            frameworks={"jax": {"distributions": [{"name": "jax", "version": "0.4.30"}]}},
        ),
        runtime(jax=jax),
    )
    (finding,) = outcomes["DD609"].findings
    assert finding.title == (
        "JAX 0.4.30 cannot run on this CPU (Intel Xeon E5-2670): illegal instruction (SIGILL)"
    )
    assert outcomes["DD607"].status is Status.PASSED


def test_a_timeout_says_where_it_stuck(matrix):
    torch = record(status="timeout", during="import torch", reason="no answer")
    (finding,) = judge(matrix, TORCH_CU121, runtime(torch=torch))["DD608"].findings
    assert finding.title == (
        "PyTorch 2.5.1+cu121 did not finish import torch within 60.0 s and was killed"
    )
    assert shown_all(finding.fixes[0]) == ("dldoctor check --framework torch --timeout 600",)
    assert "D state" in finding.fixes[0].notes


RERUN = ("--framework", "torch", "--timeout", "600")


def test_a_timeouts_rerun_hint_keeps_the_python_it_judged(matrix):
    torch = record(status="timeout", during="import torch", reason="no answer")
    other = {"python": {"command": "/envs/my env/bin/python"}}  # what --python PATH leaves
    (finding,) = judge(matrix, TORCH_CU121, other, runtime(torch=torch))["DD608"].findings
    (command,) = finding.fixes[0].commands
    assert command == ("dldoctor", "check", "--python", "/envs/my env/bin/python", *RERUN)
    assert shown_all(finding.fixes[0]) == (
        "dldoctor check --python '/envs/my env/bin/python' --framework torch --timeout 600",
    )


def test_a_report_without_runtime_facts_skips_every_runtime_check(matrix):
    data = copy.deepcopy(make_facts(gpu_machine(), TORCH_CU121).to_dict())
    del data["runtime"]
    outcomes = {o.code: o for o in run_checks(Facts.from_dict(data), matrix)}
    for check in all_checks():
        if check.code.startswith("DD6"):
            assert outcomes[check.code].status is Status.SKIPPED
            assert outcomes[check.code].reason == (
                "no runtime facts (a report written before runtime probes existed)"
            )
