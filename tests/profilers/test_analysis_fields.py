"""The analysis' report fields from a collector fed in process: a script that never started, long
exceptions, what falls outside the steps' window, GPU figures, loaders, and the timeline."""

from __future__ import annotations

import json

import pytest

from dldoctor.profilers.analysis import TIMELINE_POINTS, analyse
from dldoctor.profilers.collector import Collector
from dldoctor.profilers.gpu import Device
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session
from tests.profilers.sessions import PID, loader_event, session


def ended(payload: dict) -> dict:
    return analyse(session([], set(), events=(f"X {PID} {json.dumps(payload)}",)))["exit"]


def test_a_script_python_could_not_start_says_python_s_line():
    out = ended({"kind": "not_started", "message": "No module named train"})
    assert out["not_started"] == "No module named train"
    assert "not_started" not in ended({"kind": "exception", "type": "E", "message": "m"})
    assert ended({"kind": "not_started"})["not_started"] == ""


def test_long_exception_and_start_messages_are_cut_at_500_characters():
    long = "x" * 900
    assert (
        ended({"kind": "exception", "type": "ValueError", "message": long})["exception"]
        == ("ValueError: " + long)[:500]
    )
    assert ended({"kind": "exception", "type": "KeyError"})["exception"] == "KeyError: "
    assert ended({"kind": "not_started", "message": long})["not_started"] == long[:500]


def bare(**result: object) -> Session:
    """A script that never reached dldoctor's bootstrap: no process record at all."""
    return Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=Collector(origin=0.0, gpus=0),
        result=RunResult(PID, 0.0, 2.0, 1, **result),  # type: ignore[arg-type]
    )


def test_a_run_without_any_process_record_is_still_analysed():
    profile = analyse(bare())
    assert profile["exit"]["status"] == "failed" and profile["exit"]["stopped_by"] is None
    assert profile["steps"]["count"] == 0 and profile["verdict"]["class"] == "unknown"


def test_cpu_and_gpu_samples_outside_the_steps_are_left_out():
    s = session([50.0], {0})
    s.collector.sample_cpu(0.3, {"main_cores": 7.0, "main_thread": 1.0, "worker_cores": 9.0,
                                 "workers": 9.0, "tree_cores": 9.0})  # fmt: skip
    s.collector.sample_gpu(0.3, 0, 100.0, 900.0)
    profile = analyse(s)
    cpu = profile["cpu"]
    assert (cpu["main_process_cores"], cpu["main_thread_busy"], cpu["worker_busy"]) == (
        0.5,
        0.5,
        0.75,
    )
    assert (cpu["workers"], cpu["tree_cores"], cpu["tree_share_of_cores"]) == (2.0, 2.0, 0.25)
    device = profile["gpu"]["devices"][0]
    assert (device["busy_fraction"], device["power_mean_w"]) == (0.5, 100.0)


def test_gpu_figures_are_rounded_means_of_the_samples():
    s = session([100 / 3], {0})
    for t in (1.05, 1.15, 1.25):
        s.collector.sample_gpu(t, 0, None, 123.456)  # power only: a utilisation NVML withheld
    s.collector.gpu_process_sm(0, 41.0)
    s.collector.gpu_process_sm(0, 41.0)  # with the session's 40: 40.67 on average
    gpu = analyse(s)["gpu"]
    device = gpu["devices"][0]
    assert device["busy_fraction"] == 0.3333 and gpu["busy_fraction"] == 0.3333
    assert gpu["idle_fraction"] == 0.6667
    assert device["power_mean_w"] == round((80 * 100.0 + 3 * 123.456) / 83, 1)
    assert device["process_sm_percent_mean"] == 40.7
    assert device["memory_total_bytes"] == 80 << 30
    assert device["memory_used_peak_bytes"] == 1 << 30


def test_gpus_sampled_only_outside_the_steps_are_not_measured():
    col = Collector(origin=0.0, gpus=1)
    col.sample_gpu(0.2, 0, 90.0, 100.0)  # before the first step
    for i in range(21):
        t = 1.0 + i * 0.1
        col.feed(f"D {PID} 1 {t:.4f} {t + 0.01:.4f} 1")
    s = Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, 0.0, 4.0, 0),
        devices=[Device(0, None, "GPU0", "GPU-0", 80 << 30)],
    )
    gpu = analyse(s)["gpu"]
    assert gpu["measured"] is False and gpu["reason"] == "no utilisation sample during the steps"
    assert gpu["busy_fraction"] is None and gpu["idle_fraction"] is None
    assert gpu["devices"][0]["busy_fraction"] is None


def loader_of(events: tuple[str, ...], pid: int = PID) -> dict:
    (loader,) = analyse(session([], set(), events=events))["loaders"]
    return loader


@pytest.mark.parametrize(
    ("evaluation", "phase"), [(20, "training"), (21, "training"), (22, "evaluation")]
)
def test_a_loader_is_for_evaluation_when_most_of_its_batches_are(evaluation, phase):
    """Its batches: ``evaluation`` fetched with gradients off, the rest in training; the session
    adds 21 training batches of loader 1 after these."""
    lines = [loader_event()]
    lines += [
        f"D {PID} 1 {0.3 + i * 0.01:.4f} {0.3 + i * 0.01 + 0.001:.4f} 2" for i in range(evaluation)
    ]
    total = evaluation + 21
    loader = loader_of(tuple(lines))
    assert loader["batches"] == total and loader["evaluation_batches"] == evaluation
    assert loader["phase"] == ("evaluation" if 2 * evaluation > total else "training")
    assert loader["phase"] == phase


def test_a_loader_s_figures_its_workers_and_its_process():
    workers = ",".join(str(1000 + i) for i in range(70))
    made = f"G {PID} 1 0.5 0.6 0.0123456789"
    loader = loader_of((loader_event(), f"W {PID} 1 {workers}", made))
    assert loader["worker_pids"] == [1000 + i for i in range(64)]
    assert loader["batch_making"]["collate_s"] == 0.012346
    assert loader["in_main_process"] is True
    other = loader_of((loader_event(pid=PID + 1),))
    assert other["in_main_process"] is False and other["pid"] == PID + 1


def test_each_process_row_says_which_one_is_main():
    s = session([], set(), events=(f"H {PID + 1} {json.dumps({'argv': ['w']})}",))
    rows = {r["pid"]: r for r in analyse(s)["processes"]}
    assert rows[PID]["main"] is True and rows[PID + 1]["main"] is False
    assert rows[PID]["batch_steps"] == 20 and rows[PID + 1]["batch_steps"] == 0


def test_the_timeline_is_resampled_to_its_point_budget():
    """20 s in 0.1 s buckets: 200 buckets, grouped by 4 into 50 points of 0.4 s. Each 0.4 s a
    batch waits 0.1 s; two processes waiting at once count once (at most the whole point)."""
    col = Collector(origin=0.0, gpus=1)
    for k in range(50):
        t = k * 0.4
        col.feed(f"D {PID} 1 {t:.4f} {t + 0.1:.4f} 1")
        if k == 10:  # two ranks waiting the whole point: capped at 100 %
            col.feed(f"D {PID + 1} 1 {t:.4f} {t + 0.4:.4f} 1")
            col.feed(f"D {PID + 2} 1 {t:.4f} {t + 0.4:.4f} 1")
        for j in range(4):
            col.sample_cpu(t + 0.05 + j * 0.1, {"main_cores": 0.5 if k % 2 else 1.5})
            col.sample_gpu(t + 0.05 + j * 0.1, 0, 60.0, 100.0)
    col.gpu_memory(0, 1 << 30, 1 << 29)
    s = Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, 0.0, 20.0, 0),
        devices=[Device(0, None, "GPU0", "GPU-0", 80 << 30)],
    )
    n = len(col.timeline.buckets)
    group = -(-n // TIMELINE_POINTS)
    timeline = analyse(s)["timeline"]
    assert (n, group) == (200, 4)
    assert timeline["interval_s"] == pytest.approx(0.4) and timeline["start_s"] == 0.0
    assert len(timeline["data_wait"]) == len(timeline["gpu_busy"]) == 50
    assert timeline["data_wait"][10] == 1.0
    assert timeline["data_wait"][:10] == pytest.approx([0.25] * 10, abs=1e-3)
    assert timeline["gpu_busy"] == pytest.approx([0.6] * 50)
    assert timeline["main_cores"] == pytest.approx([1.5, 0.5] * 25)
