"""The analysis' report fields from a collector fed in process: a script that never started, long
exceptions, what falls outside the steps' window, GPU figures, loaders, and the timeline."""

from __future__ import annotations

import json

import pytest

from dldoctor.profilers import thresholds as th
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
    batch waits 0.1 s. The timeline is the judged process's own: two other processes waiting
    the whole of one point add nothing to it (summed, ranks would read more than 100 %)."""
    col = Collector(origin=0.0, gpus=1)
    for k in range(50):
        t = k * 0.4
        col.feed(f"D {PID} 1 {t:.4f} {t + 0.1:.4f} 1")
        if k == 10:  # two other processes waiting the whole point
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
    assert timeline["pid"] == PID
    assert timeline["data_wait"] == pytest.approx([0.25] * 50, abs=1e-3)
    assert timeline["gpu_busy"] == pytest.approx([0.6] * 50)
    assert timeline["main_cores"] == pytest.approx([1.5, 0.5] * 25)


def precise(steps: int = 20, step_s: float = 0.1234567891, t_start: float = 0.00012345) -> Session:
    """Steps whose times carry more digits than the report keeps, each waiting a tenth."""
    col = Collector(origin=0.0, gpus=1)
    for i in range(steps + 1):
        t = 1.0 + i * step_s
        col.feed(f"D {PID} 1 {t!r} {t + step_s / 10!r} 1")
    col.feed("not an event line")
    col.sample_cpu(1.05, {"main_rss_bytes": 2.5e9, "host_used_bytes": 9e9})
    col.gpu_memory(0, 3.5e9, 1e9)
    return Session(
        target=Target("trainer", ("--x",), module=True),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, t_start, 1.0 + (steps + 2) * step_s, 0),
    )


def test_times_and_fractions_keep_the_digits_the_report_promises():
    s = precise()
    record = s.collector.processes[PID].data
    profile = analyse(s)
    start = s.result.t_start
    assert profile["wall_s"] == round(s.result.t_end - start, 3)
    assert profile["window"] == {
        "start_s": round(record.first_start - start, 3),
        "end_s": round(record.last_end - start, 3),
    }
    assert profile["steps"]["time_s"] == round(record.time_s, 6)
    wait = profile["data_wait"]
    assert wait["total_s"] == round(record.wait_s, 6)
    assert wait["fraction"] == round(record.wait_s / record.time_s, 4)
    steady = (record.wait_s - record.first_wait_s) / (record.time_s - record.first_time_s)
    assert wait["steady_fraction"] == round(steady, 4)
    assert wait["first_steps"] == {
        "count": record.first_count,
        "time_s": round(record.first_time_s, 6),
        "wait_s": round(record.first_wait_s, 6),
    }
    # the figures carry more digits than kept: a rounding to more would differ
    assert round(record.time_s, 7) != round(record.time_s, 6)
    assert round(s.result.t_end - start, 4) != round(s.result.t_end - start, 3)


def test_the_report_names_a_module_target_its_bad_lines_and_host_memory_only():
    profile = analyse(precise())
    assert profile["target"] == {"kind": "module", "name": "trainer", "args": ["--x"]}
    assert profile["sampling"]["bad_lines"] == 1
    assert profile["memory"] == {"host_used_bytes": 9_000_000_000, "main_rss_bytes": 2_500_000_000}


def test_a_run_of_steps_shorter_than_a_second_has_its_wait_fraction():
    profile = analyse(precise(steps=20, step_s=0.01))
    assert profile["data_wait"]["fraction"] == pytest.approx(0.1, abs=1e-3)


@pytest.mark.parametrize("steps", [th.MIN_STEPS, th.MIN_STEPS + 1])
def test_the_steady_fraction_needs_the_minimum_of_steps_after_each_pass_first(steps):
    """The first step of the pass is left out: ``steps`` in all leave ``steps - 1`` steady."""
    profile = analyse(precise(steps=steps))
    steady = profile["data_wait"]["steady_fraction"]
    assert (steady is not None) is (steps - 1 >= th.MIN_STEPS)


def test_the_breakdown_is_steady_when_the_wait_is():
    for steps, steady in ((th.MIN_STEPS + 1, True), (th.MIN_STEPS, False)):
        s = precise(steps=steps)
        s.collector.processes[PID].data.phase_s["f"] = 0.5  # a forward pass was timed
        assert analyse(s)["step_breakdown"]["steady"] is steady


def test_with_steps_tied_the_script_s_own_process_is_the_one_judged():
    col = Collector(origin=0.0, gpus=0)
    for pid in (PID + 1, PID):  # the other process first: ties must not go to it
        for i in range(th.MIN_STEPS + 3):
            t = 1.0 + i * 0.1
            col.feed(f"D {pid} 1 {t:.4f} {t + 0.01:.4f} 1")
    s = Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, 0.0, 5.0, 0),
    )
    assert analyse(s)["steps"]["pid"] == PID
