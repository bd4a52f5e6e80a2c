"""The whole pipeline on this machine's real packages, with GPUs faked only at the NVML module."""

from __future__ import annotations

import os
import sys

import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.facts import gather
from dldoctor.facts.host import Host
from dldoctor.model import Severity, Status
from tests.checks.scenarios import shown_all
from tests.fakes.fake_nvml import fixture_names, load_fake
from tests.fakes.fsroot import write
from tests.machine import NO_DRIVER_REASON, expected_static_codes, nvidia_driver_loaded


def findings_by_code(outcomes):
    return {o.code: o for o in outcomes}


def test_real_cpu_stack_on_an_h100_is_told_to_install_each_gpu_build(matrix):
    facts = gather(matrix, Host(nvml=load_fake("h100")))
    assert facts.nvidia["gpus"][0]["name"].startswith("NVIDIA H100")
    outcome = findings_by_code(run_checks(facts, matrix))["DD201"]
    by_framework = {f.evidence["framework"]: f for f in outcome.findings}
    assert set(by_framework) == {"torch", "tensorflow", "jax", "paddle", "onnxruntime"}
    torch_fix = shown_all(by_framework["torch"].fixes[0])[-1]
    assert "torch==2.13.0+cu130" in torch_fix
    assert torch_fix.endswith("--index-url https://download.pytorch.org/whl/cu130")
    # The judged interpreter by absolute path (this one: no --python), never "python" from PATH.
    assert by_framework["tensorflow"].fixes[0].commands[0] == (
        os.path.abspath(sys.executable),
        *("-m", "pip", "uninstall", "-y", "tensorflow-cpu"),
    )
    assert "'tensorflow[and-cuda]==2.21.0'" in shown_all(by_framework["tensorflow"].fixes[0])[1]
    assert "'jax[cuda13]==0.10.2'" in shown_all(by_framework["jax"].fixes[0])[0]
    assert by_framework["torch"].severity is Severity.ERROR


def test_driver_470_gets_no_cuda_13_command_for_torch(matrix):
    facts = gather(matrix, Host(nvml=load_fake("driver470")))
    outcome = findings_by_code(run_checks(facts, matrix))["DD201"]
    torch = next(f for f in outcome.findings if f.evidence["framework"] == "torch")
    assert shown_all(torch.fixes[0]) == ()
    assert "upgrade the NVIDIA driver" in torch.fixes[0].summary


@pytest.mark.skipif(nvidia_driver_loaded(), reason=NO_DRIVER_REASON)
def test_this_machine_is_judged_by_what_it_has(matrix):
    """A CUDA toolkit without a driver is the only warning; without a toolkit, nothing."""
    facts = gather(matrix, Host())
    outcomes = findings_by_code(run_checks(facts, matrix))
    expected = expected_static_codes()
    assert outcomes["DD101"].status is (Status.FOUND if expected else Status.SKIPPED)
    assert outcomes["DD201"].status is Status.SKIPPED
    assert [o.code for o in outcomes.values() if o.status is Status.CRASHED] == []
    assert [f.code for o in outcomes.values() for f in o.findings] == expected


def test_a_toolkit_without_a_driver_is_the_only_warning(matrix, tmp_path):
    """The same machine built under a fake root: a CUDA 13.0 toolkit, no driver, no GPU."""
    write(tmp_path, "/usr/local/cuda-13.0/version.json", '{"cuda": {"version": "13.0.88"}}')
    # A PCI bus that was read and shows no NVIDIA device: "no GPU" is known, not unknown.
    (tmp_path / "sys/bus/pci/devices").mkdir(parents=True)
    facts = gather(matrix, Host(root=tmp_path, env={"PATH": "/usr/bin:/bin"}))
    outcomes = findings_by_code(run_checks(facts, matrix))
    assert [o.code for o in outcomes.values() if o.status is Status.CRASHED] == []
    ((code, finding),) = [(o.code, f) for o in outcomes.values() for f in o.findings]
    assert code == "DD101" and finding.severity is Severity.WARNING
    assert finding.evidence["toolkits"] == ["13.0.88"]
    assert finding.evidence["driver_needed"] == matrix.toolkit_floor("13.0").linux


def test_cuda_visible_devices_beyond_the_eight_a100s(matrix):
    env = {"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "8,9"}
    facts = gather(matrix, Host(env=env, nvml=load_fake("a100x8")))
    outcome = findings_by_code(run_checks(facts, matrix))["DD402"]
    (finding,) = outcome.findings
    assert "CUDA sees no GPU at all" in finding.title


@pytest.mark.parametrize("name", fixture_names())
def test_every_recorded_gpu_machine_is_judged_without_a_crashed_check(matrix, name):
    facts = gather(matrix, Host(nvml=load_fake(name)))
    outcomes = run_checks(facts, matrix)
    assert [o.code for o in outcomes if o.status is Status.CRASHED] == []
    # The real CPU-only stack on any of these GPU machines is always told to change.
    assert findings_by_code(outcomes)["DD201"].status is Status.FOUND


def test_k80_with_driver_470_gets_no_cuda_13_advice(matrix):
    facts = gather(matrix, Host(nvml=load_fake("k80")))
    torch = next(
        f
        for f in findings_by_code(run_checks(facts, matrix))["DD201"].findings
        if f.evidence["framework"] == "torch"
    )
    assert "cu13" not in " ".join(shown_all(torch.fixes[0]))
