"""The analysis' figures from a collector fed in process, at the precision the report promises
(times 3 or 6 digits, fractions 4, cores 3, the timeline 3), over two GPUs, a job's ranks and
their steady fraction, the step split's phases, and inputs at the edges: steps of no length
(the child's clock has microseconds; a line may carry any times), no process record at all."""

from __future__ import annotations

import json

import pytest

from dldoctor.profilers import jobs
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.analysis import TIMELINE_POINTS, analyse
from dldoctor.profilers.collector import Collector, Steps
from dldoctor.profilers.gpu import Device
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session
from tests.profilers.test_analysis_session import _keras_session

PID = 100
T_START = 0.25  # the run starts a quarter second after the collector's origin


def make_session(col: Collector, t_end: float, gpus: int = 0, pid: int = PID) -> Session:
    return Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(pid, T_START, t_end, 0),
        devices=[Device(i, None, f"GPU{i}", f"GPU-{i}", 80 << 30) for i in range(gpus)],
        cores_available=8.0,
    )


def stepped(
    col: Collector,
    pid: int,
    steps: int,
    step_s: float,
    wait_s: float,
    first_wait: float | None = None,
    cores: float | None = None,
    thread: float | None = None,
) -> None:
    """``steps`` steps of ``step_s`` from t=1 s, each waiting ``wait_s`` for its batch (the
    first ``first_wait``); the process sampled at ``cores`` (main thread ``thread``) mid-step."""
    for i in range(steps + 1):
        t = 1.0 + i * step_s
        wait = first_wait if i == 0 and first_wait is not None else wait_s
        col.feed(f"D {pid} 1 {t:.6f} {t + wait:.6f} 1")
        if cores is not None:
            col.sample_process(pid, cores, thread, t + wait + (step_s - wait) / 2)


def odd_run() -> Session:
    """40 steps of 12.3456789 ms (under a second in all) each waiting 2.7182818 ms, on two used
    GPUs sampled at odd utilisations twice as often as the CPU, whose figures are odd too."""
    col = Collector(origin=0.0, gpus=2)
    step_s, steps = 0.0123456789, 40
    for i in range(steps + 1):
        t = 1.0 + i * step_s
        col.feed(f"D {PID} 1 {t:.7f} {t + 0.0027182818:.7f} 1")
        col.sample_cpu(
            t + 0.005,
            {"main_cores": 0.7654321, "main_thread": 0.4567891,
             "worker_cores": 1.2345678, "workers": 3.0, "tree_cores": 2.3456789},
        )  # fmt: skip
        for k in range(2):
            col.sample_gpu(t + 0.002 + k * 0.005, 0, 37.123456, 100.0)
            col.sample_gpu(t + 0.002 + k * 0.005, 1, 61.987123, 100.0)
    for device in (0, 1):
        col.gpu_memory(device, 1 << 30, 1 << 29)  # each used by the script
    return make_session(col, 1.0 + (steps + 3) * step_s, gpus=2)


def test_the_run_s_times_and_fractions_keep_the_digits_promised():
    session = odd_run()
    record = session.collector.processes[PID].data
    profile = analyse(session)
    assert profile["wall_s"] == round(session.result.t_end - T_START, 3)
    assert profile["window"] == {
        "start_s": round(record.first_start - T_START, 3),
        "end_s": round(record.last_end - T_START, 3),
    }
    fraction = record.wait_s / record.time_s
    steady = (record.wait_s - record.first_wait_s) / (record.time_s - record.first_time_s)
    assert record.time_s - record.first_time_s < 1.0  # a steady part shorter than a second
    assert profile["data_wait"]["fraction"] == round(fraction, 4)
    assert profile["data_wait"]["steady_fraction"] == round(steady, 4)
    for value, digits in ((fraction, 4), (steady, 4), (record.last_end - T_START, 3)):
        assert round(value, digits + 1) != round(value, digits)  # more digits would show


def test_cpu_figures_are_means_of_the_samples_at_three_digits():
    cpu = analyse(odd_run())["cpu"]
    assert cpu["main_process_cores"] == round(0.7654321, 3) == 0.765
    assert cpu["main_thread_busy"] == round(0.4567891, 3) == 0.457
    assert cpu["worker_busy"] == round(1.2345678 / 3.0, 3)
    assert cpu["tree_cores"] == round(2.3456789, 3)
    assert cpu["tree_share_of_cores"] == round(2.3456789 / 8.0, 3)


def test_two_used_gpus_are_averaged_at_four_digits_and_measured_without_a_reason():
    gpu = analyse(odd_run())["gpu"]
    zero, one = 0.37123456, 0.61987123
    assert [d["busy_fraction"] for d in gpu["devices"]] == [0.3712, 0.6199]
    busy = (zero + one) / 2
    assert round(busy, 5) != round(busy, 4) and round(1 - busy, 5) != round(1 - busy, 4)
    assert gpu["busy_fraction"] == round(busy, 4)
    assert gpu["idle_fraction"] == round(1 - busy, 4)
    assert gpu["measured"] is True and gpu["reason"] is None
    assert gpu["attribution"] == "per-process"


def test_the_timeline_averages_the_gpus_used_per_point_at_three_digits():
    session = odd_run()
    timeline = analyse(session)["timeline"]
    tl = session.collector.timeline
    n = len(tl.buckets)
    assert n <= TIMELINE_POINTS  # one bucket per point
    assert len(timeline["gpu_busy"]) == len(timeline["main_cores"]) == n
    assert timeline["interval_s"] == round(tl.width, 3)
    own = session.collector.processes[PID].timeline
    assert own is not None
    waits = []
    for index in range(n):
        point = range(index, index + 1)
        waits.append(own.over(0, index * tl.width, (index + 1) * tl.width) / tl.width)
        assert timeline["data_wait"][index] == round(min(waits[-1], 1.0), 3)
        utils = [
            tl.total(10 + 4 * d, point) / tl.total(11 + 4 * d, point) / 100
            for d in (0, 1)
            if tl.total(11 + 4 * d, point)
        ]
        expected = round(sum(utils) / len(utils), 3) if utils else None
        assert timeline["gpu_busy"][index] == expected
        samples = tl.total(3, point)  # CPU samples in the point
        cores = round(tl.total(4, point) / samples, 3) if samples else None
        assert timeline["main_cores"][index] == cores
    assert any(round(w, 4) != round(w, 3) for w in waits)  # more digits would show
    two = [v for v in timeline["gpu_busy"] if v is not None]
    assert two and all(0.49 < v < 0.5 for v in two)  # the mean of the two, not their sum


def test_a_point_with_one_cpu_sample_has_its_cores():
    """One CPU sample per 0.1 s bucket, each bucket a point of its own."""
    col = Collector(origin=0.0, gpus=0)
    stepped(col, PID, th.MIN_STEPS + 2, 0.1, 0.01)
    for k in range(th.MIN_STEPS + 2):
        col.sample_cpu(1.05 + k * 0.1, {"main_cores": 0.5})
    timeline = analyse(make_session(col, 3.0))["timeline"]
    assert timeline["interval_s"] == 0.1
    assert timeline["main_cores"][10:22] == [0.5] * 12


def test_without_per_process_attribution_the_timeline_uses_every_gpu():
    col = Collector(origin=0.0, gpus=2)
    stepped(col, PID, th.MIN_STEPS + 2, 0.1, 0.01)
    for k in range(20):
        col.sample_gpu(1.05 + k * 0.1, 0, 40.0, None)
        col.sample_gpu(1.05 + k * 0.1, 1, 80.0, None)
    profile = analyse(make_session(col, 3.0, gpus=2))
    assert profile["gpu"]["attribution"] == "device-wide"
    assert profile["timeline"]["gpu_busy"][11:21] == [0.6] * 10


def test_the_timeline_s_data_wait_is_a_share_of_time_never_above_one():
    """Two batches of one process overlapping (a line may say anything): 0.2 s of waiting in
    the 0.1 s from 2.5 s is all of that time, not twice it."""
    col = Collector(origin=0.0, gpus=0)
    stepped(col, PID, th.MIN_STEPS + 2, 0.1, 0.01)
    col.feed(f"D {PID} 2 2.450000 2.650000 1")
    col.feed(f"D {PID} 3 2.450000 2.650000 1")
    col.sample_cpu(2.75, {"main_cores": 1.0})
    data_wait = analyse(make_session(col, 3.0))["timeline"]["data_wait"]
    assert data_wait[25] == max(data_wait) == 1.0


def test_a_run_without_any_process_record_has_a_timeline_without_waiting():
    col = Collector(origin=0.0, gpus=0)
    for k in range(5):
        col.sample_cpu(0.55 + k * 0.1, {"main_cores": 1.0})
    profile = analyse(make_session(col, 1.5))
    assert profile["steps"] == {
        "count": 0,
        "source": "none",
        "time_s": 0.0,
        "duration": Steps().durations.to_dict(),
        "pid": None,
    }
    assert profile["timeline"]["pid"] is None
    assert set(profile["timeline"]["data_wait"]) == {0.0}
    assert profile["timeline"]["main_cores"][5:10] == [1.0] * 5


def test_a_process_that_never_stepped_has_no_steps_to_judge():
    col = Collector(origin=0.0, gpus=0)
    col.feed(f"H {PID} {json.dumps({'argv': ['train.py']})}")
    profile = analyse(make_session(col, 1.5))
    assert profile["steps"]["source"] == "none" and profile["steps"]["pid"] == PID


def job(specs: list[tuple[int, int | None]], **steps) -> Session:
    """A launcher (which says hello first, never steps) and ranks (pid, rank), each stepping
    as ``stepped`` says."""
    col = Collector(origin=0.0, gpus=0)
    col.feed(f"H 10 {json.dumps({'argv': ['torchrun']})}")
    for pid, rank in specs:
        if rank is not None:
            col.feed(f"R {pid} {json.dumps({'rank': rank, 'world_size': len(specs)})}")
        stepped(col, pid, **steps)
    return make_session(col, 30.0, pid=10)


def test_ranks_in_rank_order_whatever_their_pids_after_a_launcher_that_never_stepped():
    profile = analyse(
        job([(31, 0), (30, 1), (29, None), (28, None)], steps=12, step_s=0.1, wait_s=0.01)
    )
    assert [(r["rank"], r["pid"]) for r in profile["ranks"]] == [
        (0, 31),
        (1, 30),
        (None, 28),
        (None, 29),
    ]


def test_at_most_64_rows_of_ranks():
    specs = [(100 + i, i) for i in range(65)]
    ranks = analyse(job(specs, steps=2, step_s=0.1, wait_s=0.01))["ranks"]
    assert [r["rank"] for r in ranks] == list(range(64))


def test_a_rank_s_figures_keep_the_digits_promised():
    session = job(
        [(21, 0)], steps=12, step_s=0.0123457, wait_s=0.0031234, cores=0.81234567, thread=0.6123456
    )
    (row,) = analyse(session)["ranks"]
    record = session.collector.processes[21].data
    steady = (record.wait_s - record.first_wait_s) / (record.time_s - record.first_time_s)
    assert (
        row["step_mean_s"]
        == round(record.time_s / record.count, 6)
        != round(record.time_s / record.count, 7)
    )
    assert row["data_wait_fraction"] == round(steady, 4) != round(steady, 5)
    assert row["data_wait_per_step_s"] == round(record.wait_s / record.count, 6)
    assert (row["process_cores"], row["main_thread_busy"]) == (0.812, 0.612)


def test_the_rank_judged_has_its_cpu_at_three_digits_and_in_the_timeline():
    session = job(
        [(21, 0), (22, 1)], steps=12, step_s=0.1, wait_s=0.01, cores=0.81234567, thread=0.6123456
    )
    profile = analyse(session)
    assert profile["cpu"]["measured_pid"] in (21, 22)
    assert (profile["cpu"]["main_process_cores"], profile["cpu"]["main_thread_busy"]) == (
        0.812,
        0.612,
    )
    cores = profile["timeline"]["main_cores"]  # the launcher had no CPU sample: the rank's
    assert cores[11:23] == [0.812] * 12


def test_a_rank_sampled_without_its_thread_has_its_process_cores():
    session = job([(21, 0)], steps=12, step_s=0.1, wait_s=0.01, cores=0.5, thread=None)
    (row,) = analyse(session)["ranks"]
    assert (row["process_cores"], row["main_thread_busy"]) == (0.5, None)


@pytest.mark.parametrize(
    ("steps", "steady"),
    [(th.MIN_STEPS, False), (th.MIN_STEPS + 1, True), (th.MIN_STEPS + 5, True)],
)
def test_a_rank_s_wait_leaves_out_its_first_step_once_the_minimum_remains(steps, steady):
    """25 ms steps (under a second in all), 5 ms waits, the first 20 ms: the first step of the
    pass is left out when ``steps - 1`` reach the minimum, else every step counts."""
    session = job([(21, 0), (22, 1)], steps=steps, step_s=0.025, wait_s=0.005, first_wait=0.02)
    record = session.collector.processes[21].data
    assert (record.count, record.first_count) == (steps, 1)
    overall = record.wait_s / record.time_s
    left_out = (record.wait_s - record.first_wait_s) / (record.time_s - record.first_time_s)
    expected = left_out if steady else overall
    assert round(left_out, 4) != round(overall, 4)
    assert [r["data_wait_fraction"] for r in analyse(session)["ranks"]] == [round(expected, 4)] * 2


def zero_length_job() -> Session:
    """Two ranks whose every batch and step takes no time at all (one timestamp for all)."""
    col = Collector(origin=0.0, gpus=0)
    for pid, rank in ((21, 0), (22, 1)):
        col.feed(f"R {pid} {json.dumps({'rank': rank, 'world_size': 2})}")
        col.feed(f"F {pid} {json.dumps({'module': 'torch.nn.modules.module', 'patched': ['x']})}")
        for _ in range(th.MIN_STEPS + 3):
            col.feed(f"D {pid} 1 1.000000 1.000000 1")
            col.feed(f"P {pid} f 1.000000 1.000010")  # a forward pass past the step's end
    return make_session(col, 2.0, pid=10)


def test_steps_of_no_length_have_no_fractions_and_break_nothing():
    profile = analyse(zero_length_job())
    assert profile["steps"]["count"] == th.MIN_STEPS + 2 and profile["steps"]["time_s"] == 0.0
    assert profile["data_wait"]["fraction"] is None
    assert profile["data_wait"]["steady_fraction"] is None
    assert profile["step_breakdown"] == {"measured": False, "fractions": None}
    assert [(r["step_mean_s"], r["data_wait_fraction"]) for r in profile["ranks"]] == [
        (0.0, None),
        (0.0, None),
    ]
    assert profile["verdict"]["class"] == "unknown"


def test_the_slowest_of_ranks_whose_steps_take_no_time_is_one_of_them():
    rows = [
        {"pid": 1, "rank": 0, "steps": 20, "step_mean_s": 0.0, "data_wait_per_step_s": 0.0},
        {"pid": 2, "rank": 1, "steps": 20, "step_mean_s": 0.1, "data_wait_per_step_s": 0.0},
    ]
    assert jobs.slowest(rows) == {"pid": 2, "rank": 1, "of": 2, "why": "its steps take longest"}


def phased(steps: int, step_s: float, **phase_s: float) -> Steps:
    """Steps of ``step_s`` each: a wait of a tenth, then each phase of ``phase_s`` (kind: s)."""
    record = Steps()
    for i in range(steps):
        t = i * step_s
        record.boundary(t)
        record.wait(t, t + step_s / 10)
        t += step_s / 10
        for kind, seconds in phase_s.items():
            record.phase(kind, t, t + seconds)
            t += seconds
    record.end(steps * step_s)
    return record


def test_a_compiled_step_shows_its_call_not_the_phases_inside_it():
    """0.24 s of compiled calls in all (under a second): the model's phases are inside it."""
    split = jobs.breakdown(phased(12, 0.05, g=0.02), steady=False)
    assert split == {
        "measured": True,
        "steady": False,
        "fractions": {"data_wait": 0.1, "compiled": 0.4, "loop_body": 0.5},
        "not_separable": jobs.COMPILED_NOTE,
    }


def test_a_phase_timed_beside_a_compiled_call_is_shown():
    split = jobs.breakdown(phased(12, 0.05, f=0.01, g=0.02), steady=False)
    assert split["fractions"] == {"data_wait": 0.1, "forward": 0.2, "compiled": 0.4,
                                  "loop_body": 0.3}  # fmt: skip


def test_an_uncompiled_step_shows_every_phase_timed_and_no_note():
    split = jobs.breakdown(phased(12, 0.05, f=0.01), steady=False, timed={"forward", "backward"})
    assert split == {
        "measured": True,
        "steady": False,
        "fractions": {"data_wait": 0.1, "backward": 0.0, "forward": 0.2, "loop_body": 0.7},
    }


def test_the_split_keeps_four_digits():
    split = jobs.breakdown(phased(12, 0.0123, f=0.0012345678), steady=False)
    assert (
        split["fractions"]["forward"]
        == round(0.0012345678 / 0.0123, 4)
        != round(0.0012345678 / 0.0123, 5)
    )


def test_the_split_leaves_out_the_phases_no_patch_timed():
    """Only torch's forward and backward patched (``F`` lines): no copy or optimizer share."""
    col = Collector(origin=0.0, gpus=0)
    for module in ("torch.nn.modules.module", "torch._tensor"):
        col.feed(f"F {PID} {json.dumps({'module': module, 'patched': ['x']})}")
    for i in range(th.MIN_STEPS + 3):
        t = 1.0 + i * 0.1
        col.feed(f"D {PID} 1 {t:.6f} {t + 0.01:.6f} 1")
        col.feed(f"P {PID} f {t + 0.02:.6f} {t + 0.05:.6f}")
    fractions = analyse(make_session(col, 3.0))["step_breakdown"]["fractions"]
    assert sorted(fractions) == ["backward", "copy", "data_wait", "forward", "loop_body"]
    assert fractions["copy"] == fractions["backward"] == 0.0


def test_a_loader_reports_the_time_to_make_its_iterators():
    col = Collector(origin=0.0, gpus=0)
    info = {"id": 1, "framework": "torch", "kind": "DataLoader", "config": {}}
    col.feed(f"L {PID} {json.dumps(info)}")
    col.feed(f"I {PID} 1 0.500000 0.750000 1")
    stepped(col, PID, 12, 0.1, 0.01)
    (loader,) = analyse(make_session(col, 3.0))["loaders"]
    made = loader["iterator_start"]
    assert (made["count"], made["total_s"], made["max_s"]) == (1, 0.25, 0.25)


def test_keras_s_unseparable_wait_says_why_in_full():
    assert _keras_session(separable=False)["data_wait"]["not_separable"] == (
        "Keras runs 4 steps per call (steps_per_execution=4) inside one compiled function: "
        "the data wait cannot be separated from the steps in this mode"
    )


@pytest.mark.parametrize("batch_wait_s", [0.001, 0.0])
def test_workers_slow_to_start_hold_at_most_all_of_a_loader_s_waiting(batch_wait_s):
    """3 s to make the iterator (workers starting), then 20 batches ready in ``batch_wait_s``:
    the first batch's wait includes the 3 s, and so does all the waiting it is a share of
    (DD707 once read "14290 %" here)."""
    from dldoctor.profilers import rules

    col = Collector(origin=0.0, gpus=0)
    info = {"id": 1, "framework": "torch", "kind": "DataLoader", "config": {"num_workers": 2}}
    col.feed(f"L {PID} {json.dumps(info)}")
    col.feed(f"I {PID} 1 0.500000 3.500000 1")
    stepped(col, PID, 20, 0.1, batch_wait_s)
    profile = analyse(make_session(col, 6.0))
    (loader,) = profile["loaders"]
    first, waits = loader["first_batch_wait"], loader["wait"]
    assert first["total_s"] == pytest.approx(3.0 + batch_wait_s)
    assert waits["total_s"] == pytest.approx(3.0 + 21 * batch_wait_s)  # the first one's too
    assert waits["max_s"] == first["max_s"]
    (finding,) = [f for f in rules.judge(profile) if f.code == "DD707"]
    share = (3.0 + batch_wait_s) / (3.0 + 21 * batch_wait_s)
    assert f": {th.pct(share)} of all the waiting" in finding.title


def test_workers_slow_to_start_leave_the_advice_for_the_other_batches_as_it_was():
    """40 steps of 100 ms, each waiting 30 ms for its batch (input-bound), 2 workers on 8 cores;
    making the iterator took 3 s (worker start-up) or no time: the same batches after the first,
    the same advice (with 3 s, the batch wait once came out negative, and the advice "more
    workers would compete for the same CPUs")."""
    from dldoctor.profilers import advice

    def fixes(iterator_s: float) -> list[str]:
        col = Collector(origin=0.0, gpus=0)
        info = {"id": 1, "framework": "torch", "kind": "DataLoader", "config": {"num_workers": 2}}
        col.feed(f"L {PID} {json.dumps(info)}")
        col.feed(f"I {PID} 1 {0.9 - iterator_s:.6f} 0.900000 1")
        stepped(col, PID, 40, 0.1, 0.03)
        profile = analyse(make_session(col, 9.0))
        assert profile["verdict"]["class"] == "input-bound"
        return [f.summary for f in advice.loader_fixes(profile)]

    assert fixes(3.0) == fixes(0.0)
