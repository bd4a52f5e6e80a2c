"""The profile verdict at each threshold's edge, and the analysis of collected samples: which GPUs
are averaged, what the steps' window keeps out, how the first steps are set apart."""

from __future__ import annotations

import pytest

from dldoctor.profilers import thresholds as th
from dldoctor.profilers.analysis import analyse, classify, judged_wait, safe_args
from dldoctor.profilers.collector import Collector
from dldoctor.profilers.gpu import Device
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session
from tests.profilers.synthetic import make

EPS = 1e-4


def verdict(**fields) -> str:
    """The class of a hand-made profile whose judged numbers are exactly ``fields``."""
    profile = make(gpu_busy=fields.get("busy"), main_thread=fields.get("main", 0.1))
    profile["steps"]["count"] = fields.get("steps", 100)
    profile["data_wait"].update(
        fraction=fields.get("wait", 0.0), steady_fraction=fields.get("steady")
    )
    return classify(profile)["class"]


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS])
def test_input_bound_at_below_and_above_its_threshold(delta):
    want = "input-bound" if delta >= 0 else "healthy"
    assert verdict(wait=th.INPUT_BOUND + delta) == want


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS])
def test_gpu_bound_at_below_and_above_its_threshold(delta):
    want = "gpu-bound" if delta >= 0 else "healthy"
    assert verdict(busy=th.GPU_BOUND + delta) == want


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS])
def test_cpu_bound_at_below_and_above_its_threshold(delta):
    want = "cpu-bound" if delta >= 0 else "healthy"
    assert verdict(main=th.MAIN_THREAD_BUSY + delta) == want


def test_the_main_process_stands_in_when_the_main_thread_was_not_measured():
    profile = make(gpu_busy=None, main_thread=0.1)
    profile["data_wait"].update(fraction=0.0, steady_fraction=None)
    profile["cpu"].update(main_thread_busy=None, main_process_cores=th.MAIN_THREAD_BUSY)
    assert classify(profile)["class"] == "cpu-bound"


@pytest.mark.parametrize("steps", [th.MIN_STEPS - 1, th.MIN_STEPS, th.MIN_STEPS + 1])
def test_too_few_steps_judge_nothing(steps):
    want = "unknown" if steps < th.MIN_STEPS else "input-bound"
    assert verdict(steps=steps, wait=0.9) == want


def test_the_order_input_then_gpu_then_cpu():
    assert verdict(wait=th.INPUT_BOUND, busy=1.0, main=1.0) == "input-bound"
    assert verdict(wait=0.0, busy=th.GPU_BOUND, main=1.0) == "gpu-bound"


def test_an_unmeasured_gpu_is_not_gpu_bound():
    profile = make(gpu_busy=0.99, main_thread=0.1)
    profile["data_wait"].update(fraction=0.0, steady_fraction=None)
    profile["gpu"]["measured"] = False
    assert classify(profile)["class"] == "healthy"


def test_the_steady_fraction_is_judged_when_there_is_one():
    assert verdict(wait=0.9, steady=th.INPUT_BOUND - EPS) == "healthy"
    assert verdict(wait=0.0, steady=th.INPUT_BOUND) == "input-bound"
    profile = make()
    profile["data_wait"].update(fraction=0.5, steady_fraction=None)
    assert judged_wait(profile) == 0.5
    profile["data_wait"]["steady_fraction"] = 0.0
    assert judged_wait(profile) == 0.0


def test_reasons_quote_the_numbers():
    profile = make(gpu_busy=0.9, main_thread=0.1)
    profile["data_wait"].update(fraction=0.01, steady_fraction=None)
    assert classify(profile)["reason"] == "the GPU is busy 90 % of the time (≥ 80 %)"
    profile["data_wait"].update(fraction=0.3, steady_fraction=0.3)
    assert classify(profile)["reason"] == (
        "the loop waits for data 30 % of the time, not counting each pass's first batch (≥ 20 %)"
    )


# analyse(): from collected samples


def session(utils: list[float], used: set[int], steps: int = 20, step_s: float = 0.1) -> Session:
    """A finished run: ``steps`` steps of ``step_s``, each device sampled at its utilisation."""
    col = Collector(origin=0.0, gpus=len(utils))
    t_end = 1.0 + steps * step_s + 1.0
    for i in range(steps + 1):  # batch fetches at each step start: wait 10 % of the step
        t = 1.0 + i * step_s
        col.feed(f"D 100 1 {t:.4f} {t + step_s / 10:.4f} 1")
    for k in range(steps * 4):
        t = 1.0 + (k + 0.5) * step_s / 4
        col.sample_cpu(t, {"main_cores": 0.5, "main_thread": 0.5})
        for index, util in enumerate(utils):
            col.sample_gpu(t, index, util, 100.0)
    col.sample_gpu(0.2, 0, 0.0, 0.0)  # before the steps: left out of the window
    for index in used:
        col.gpu_memory(index, 1 << 30, 1 << 29)
    devices = [Device(i, None, f"GPU{i}", f"GPU-{i}", 80 << 30) for i in range(len(utils))]
    return Session(
        target=Target("train.py", ("--token", "s3cret")),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(100, 0.0, t_end, 0),
        devices=devices,
        cores_available=8.0,
    )


def test_the_gpus_the_script_used_are_averaged_and_the_others_left_out():
    profile = analyse(session([90.0, 30.0, 0.0], used={0, 1}))
    gpu = profile["gpu"]
    assert gpu["attribution"] == "per-process"
    assert gpu["busy_fraction"] == pytest.approx(0.6, abs=1e-3)
    assert gpu["idle_fraction"] == pytest.approx(0.4, abs=1e-3)
    assert [d["busy_fraction"] for d in gpu["devices"]] == pytest.approx([0.9, 0.3, 0.0], abs=1e-3)
    assert [d["used_by_script"] for d in gpu["devices"]] == [True, True, None]


def test_without_per_process_attribution_every_gpu_is_averaged():
    gpu = analyse(session([90.0, 30.0], used=set()))["gpu"]
    assert gpu["attribution"] == "device-wide"
    assert gpu["busy_fraction"] == pytest.approx(0.6, abs=1e-3)


def test_one_busy_gpu_of_two_used_is_not_gpu_bound():
    profile = analyse(session([100.0, 40.0], used={0, 1}))
    assert profile["gpu"]["busy_fraction"] == pytest.approx(0.7, abs=1e-3)
    assert profile["verdict"]["class"] != "gpu-bound"
    assert analyse(session([100.0, 80.0], used={0, 1}))["verdict"]["class"] == "gpu-bound"


def test_the_steps_and_their_wait_are_counted_from_the_batches():
    profile = analyse(session([50.0], used={0}, steps=20, step_s=0.1))
    assert profile["steps"]["count"] == 20 and profile["steps"]["source"] == "batches"
    assert profile["data_wait"]["fraction"] == pytest.approx(0.1, abs=1e-3)
    assert profile["data_wait"]["first_steps"]["count"] == 1
    assert profile["data_wait"]["steady_fraction"] == pytest.approx(0.1, abs=1e-3)
    assert profile["window"] == {"start_s": 1.0, "end_s": 3.0}
    assert profile["cpu"]["main_thread_busy"] == 0.5
    assert profile["target"]["args"] == ["--token", "<withheld>"]


def test_no_gpu_says_why():
    s = session([], used=set())
    s.gpu_reason = "NVML Shared Library Not Found"
    assert analyse(s)["gpu"] == {"measured": False, "reason": s.gpu_reason, "devices": []}


def test_secret_arguments_are_withheld_in_both_spellings():
    assert safe_args(["--api-key", "k", "--hf_token=t", "--lr", "0.1", "-v"]) == [
        "--api-key",
        "<withheld>",
        "--hf_token=<withheld>",
        "--lr",
        "0.1",
        "-v",
    ]
    assert safe_args(["--password", "--next"]) == ["--password", "--next"]
