"""GPU timelines from NVML faked at the module boundary: the code path real GPUs take."""

from __future__ import annotations

import jsonschema

from dldoctor.document.schema import profile_report_schema
from dldoctor.facts.host import Host
from dldoctor.profilers import gate
from dldoctor.profilers.report import build
from dldoctor.profilers.runner import Target
from dldoctor.profilers.session import SETTLE_REASON, Options, run
from tests.profilers.fake_gpu import TimelineNvml
from tests.profilers.helpers import SCRIPTS

PLAIN = str(SCRIPTS / "plain.py")


def _profile(nvml: TimelineNvml, script: str, *args: str, conditions=()):
    session = run(Target(script, args), Options(forward_signals=False), Host(nvml=nvml))
    report = build(session, [gate.parse(c) for c in conditions], "dldoctor profile", 1.0)
    jsonschema.validate(report.to_dict(), profile_report_schema())
    return report


def test_a_busy_gpu_is_gpu_bound_and_attributed_to_the_script():
    nvml = TimelineNvml("h100", lambda t: 93)
    report = _profile(nvml, PLAIN, "--steps", "40", "--step-ms", "25")
    p = report.profile
    assert p["verdict"]["class"] == "gpu-bound"
    gpu = p["gpu"]
    assert gpu["measured"] and gpu["attribution"] == "per-process"
    assert abs(gpu["busy_fraction"] - 0.93) < 0.01
    (device,) = gpu["devices"]
    assert device["name"] == "NVIDIA H100 80GB HBM3" and device["used_by_script"] is True
    assert device["process_memory_peak_bytes"] == 3 << 30
    assert device["process_sm_percent_mean"] == 93
    assert [f.code for f in report.findings] == ["DD705"]
    assert nvml.refcount == 0  # NVML shut down again


def test_the_timeline_follows_the_gpu_and_the_fraction_covers_the_steps_only():
    # Idle while the script starts, then busy at 60 % while it steps.
    nvml = TimelineNvml("h100", lambda t: 0 if t < 0.6 else 60)
    report = _profile(nvml, PLAIN, "--sleep", "0.8", "--steps", "50", "--step-ms", "20")
    p = report.profile
    series = [v for v in p["timeline"]["gpu_busy"] if v is not None]
    assert min(series) == 0.0 and max(series) >= 0.55
    assert 0.5 < p["gpu"]["busy_fraction"] <= 0.6  # start-up idleness left out
    assert p["verdict"]["class"] == "healthy"


def test_an_idle_gpu_with_a_busy_main_thread_is_cpu_bound():
    nvml = TimelineNvml("h100", lambda t: 12)
    report = _profile(nvml, PLAIN, "--steps", "60", "--step-ms", "25", "--busy")
    p = report.profile
    assert p["verdict"]["class"] == "cpu-bound"
    finding = next(f for f in report.findings if f.code == "DD703")
    assert finding.severity.value == "warning" and "GPU is busy 12 %" in finding.title


def test_an_underused_gpu_suggests_a_larger_batch():
    nvml = TimelineNvml("h100", lambda t: 30)
    report = _profile(nvml, PLAIN, "--steps", "40", "--step-ms", "20", conditions=["gpu-busy<0.5"])
    assert report.profile["verdict"]["class"] == "healthy"
    (finding,) = [f for f in report.findings if f.code == "DD704"]
    assert "raise the batch size" in finding.fixes[0].summary
    assert report.gate_tripped and report.exit_code() == 1


def test_input_bound_on_a_gpu_machine_also_pins_memory():
    nvml = TimelineNvml("h100", lambda t: 25)
    script = str(SCRIPTS / "train_torch.py")
    report = _profile(nvml, script, "--items", "320", "--sleep-ms", "2")
    assert report.profile["verdict"]["class"] == "input-bound"
    fix = next(f for f in report.findings if f.code == "DD701").fixes[0]
    assert "set pin_memory=True" in fix.summary and "raise num_workers from 0" in fix.summary
    assert "DD708" not in [f.code for f in report.findings]


def test_nvml_without_a_driver_says_why_the_gpu_was_not_measured():
    nvml = TimelineNvml("h100", lambda t: 50)
    nvml.description["init_error"] = "DriverNotLoaded"
    report = _profile(nvml, PLAIN, "--steps", "20", "--step-ms", "10")
    gpu = report.profile["gpu"]
    assert not gpu["measured"] and "Driver Not Loaded" in gpu["reason"]
    (finding,) = [f for f in report.findings if f.code == "DD708"]
    assert "Driver Not Loaded" in finding.title


def test_a_script_that_ends_at_once_opens_no_gpu_and_says_why():
    """NVML's init (long on a real GPU machine) and the sampler are for a run that lasts: a
    script that ends within its first moments is not kept waiting for them."""
    nvml = TimelineNvml("h100", lambda t: 93)
    report = _profile(nvml, PLAIN)  # prints what it sees and exits
    gpu = report.profile["gpu"]
    assert gpu == {"measured": False, "reason": SETTLE_REASON, "devices": []}
    assert nvml.init_calls == 0
    (finding,) = [f for f in report.findings if f.code == "DD708"]
    assert "before sampling began" in finding.title


def test_a_script_that_runs_past_the_settling_time_is_sampled_from_then_on():
    nvml = TimelineNvml("h100", lambda t: 93)
    report = _profile(nvml, PLAIN, "--sleep", "0.4")
    assert report.profile["gpu"]["measured"] and nvml.init_calls == 1
    assert nvml.refcount == 0
