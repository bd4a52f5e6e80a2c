"""A job of several processes, analysed in process: each rank's row, the rank that holds the job
back, the process measured for CPU, and the main thread's sampled lines (no script run)."""

from __future__ import annotations

import json

import pytest

from dldoctor.profilers import jobs
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.analysis import analyse
from dldoctor.profilers.collector import Collector
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session

LAUNCHER = 10
STEPS = th.MIN_STEPS + 5


def job(
    specs: list[tuple[int, int | None, float, float]],
    cores: float = 0.8,
    thread: float | None = 0.6,
    hello: bool = False,
    events: tuple[str, ...] = (),
    first_wait: float | None = None,
) -> Session:
    """Each (pid, rank, step_s, wait_s): ``STEPS`` steps from t=1 s, each waiting ``wait_s``
    for its batch, the process sampled at ``cores`` (its main thread at ``thread``) mid-step.
    A rank is said by init_process_group (``R``), or with ``hello`` by the process' hello."""
    col = Collector(origin=0.0, gpus=0)
    for line in events:
        col.feed(line)
    t_end = 0.0
    for pid, rank, step_s, wait_s in specs:
        said = {"rank": rank, "world_size": len(specs)}
        if rank is not None:
            col.feed(f"{'H' if hello else 'R'} {pid} {json.dumps(said)}")
        for i in range(STEPS + 1):
            t = 1.0 + i * step_s
            wait = first_wait if i == 0 and first_wait is not None else wait_s
            col.feed(f"D {pid} 1 {t:.4f} {t + wait:.4f} 1")
            col.sample_process(pid, cores, thread, t + wait_s + step_s / 4)
        t_end = max(t_end, 1.0 + (STEPS + 1) * step_s)
    return Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(LAUNCHER, 0.0, t_end + 1.0, 0),
        cores_available=8.0,
    )


def test_each_rank_is_a_row_with_its_own_figures_in_rank_order():
    profile = analyse(job([(22, 1, 0.2, 0.05), (21, 0, 0.1, 0.01)], cores=0.8, thread=0.6))
    rows = profile["ranks"]
    assert [(r["pid"], r["rank"], r["world_size"]) for r in rows] == [(21, 0, 2), (22, 1, 2)]
    for row, (step_s, wait_s) in zip(rows, [(0.1, 0.01), (0.2, 0.05)]):
        assert row["steps"] == STEPS and row["source"] == "batches"
        assert row["step_mean_s"] == pytest.approx(step_s, abs=1e-4)
        assert row["data_wait_fraction"] == pytest.approx(wait_s / step_s, abs=1e-3)
        assert row["data_wait_per_step_s"] == pytest.approx(wait_s, abs=1e-4)
        assert (row["process_cores"], row["main_thread_busy"]) == (0.8, 0.6)


def test_ranks_out_of_step_are_judged_on_the_one_whose_steps_take_longest():
    profile = analyse(job([(21, 0, 0.1, 0.01), (22, 1, 0.2, 0.05)]))
    why = "its steps take longest"
    assert profile["slowest_rank"] == {"pid": 22, "rank": 1, "of": 2, "why": why}
    assert profile["steps"]["pid"] == 22
    assert profile["data_wait"]["steady_fraction"] == pytest.approx(0.25, abs=1e-3)
    assert profile["verdict"]["reason"].startswith(f"rank 1, the slowest of 2 ({why}): ")


@pytest.mark.parametrize(("spread", "together"), [(0.05, True), (0.2, False)])
def test_ranks_in_lock_step_are_judged_on_the_one_that_waits_longest(spread, together):
    """Rank 0's steps are the longer by ``spread``; rank 1 waits longer for its own data."""
    step = 0.1
    profile = analyse(job([(21, 0, step * (1 + spread), 0.01), (22, 1, step, 0.04)]))
    slowest = profile["slowest_rank"]
    assert slowest["rank"] == (1 if together else 0)
    assert slowest["why"] == (
        "the ranks step together, and it waits longest for its own data"
        if together
        else "its steps take longest"
    )


def test_a_single_process_has_no_slowest_rank():
    profile = analyse(job([(LAUNCHER, None, 0.1, 0.01)]))
    assert profile["slowest_rank"] is None and profile["steps"]["pid"] == LAUNCHER
    assert "measured_pid" not in profile["cpu"]


def test_forked_trainers_of_an_idle_launcher_are_ranks_named_by_pid():
    profile = analyse(job([(31, None, 0.1, 0.01), (32, None, 0.2, 0.02)]))
    assert profile["slowest_rank"] == {
        "pid": 32,
        "rank": None,
        "of": 2,
        "why": "its steps take longest",
    }
    assert profile["verdict"]["reason"].startswith("pid 32, the slowest of 2")


def test_a_trainer_that_forks_a_helper_is_judged_on_its_own_steps():
    profile = analyse(job([(LAUNCHER, None, 0.1, 0.01), (32, None, 0.3, 0.02)]))
    assert profile["slowest_rank"] is None and profile["steps"]["pid"] == LAUNCHER


def test_ranks_outnumber_unranked_processes():
    session = job([(21, 0, 0.1, 0.01), (22, 1, 0.2, 0.02), (LAUNCHER, None, 0.4, 0.01)])
    assert analyse(session)["slowest_rank"]["pid"] == 22  # the launcher's steps are not a rank's


def test_a_process_with_too_few_steps_is_not_a_rank_to_judge():
    rows = [
        {"pid": 1, "rank": 0, "steps": th.MIN_STEPS, "step_mean_s": 0.1},
        {"pid": 2, "rank": 1, "steps": th.MIN_STEPS - 1, "step_mean_s": 0.5},
        {"pid": 3, "rank": 2, "steps": th.MIN_STEPS, "step_mean_s": None},
    ]
    for row in rows:
        row["data_wait_per_step_s"] = 0.01
    assert jobs.slowest(rows) is None  # one rank left to compare
    rows[1]["steps"] = th.MIN_STEPS
    assert jobs.slowest(rows) == {"pid": 2, "rank": 1, "of": 2, "why": "its steps take longest"}


def test_the_rank_said_in_the_hello_counts_when_no_process_group_said_it():
    profile = analyse(job([(21, 0, 0.1, 0.01), (22, 1, 0.2, 0.02)], hello=True))
    assert [(r["rank"], r["world_size"]) for r in profile["ranks"]] == [(0, 2), (1, 2)]
    assert profile["slowest_rank"]["rank"] == 1


def test_a_rank_that_is_not_a_number_is_none():
    session = job([(21, 0, 0.1, 0.01)])
    session.collector.feed(f"R 21 {json.dumps({'rank': '0', 'world_size': 1})}")
    assert analyse(session)["ranks"][0]["rank"] is None


def test_loader_workers_that_fetch_batches_are_not_ranks():
    loader = {"id": 1, "framework": "torch", "kind": "DataLoader", "config": {}}
    events = (f"L 21 {json.dumps(loader)}", "W 21 1 41,42")
    profile = analyse(job([(21, None, 0.1, 0.01), (41, None, 0.2, 0.01)], events=events))
    assert [r["pid"] for r in profile["ranks"]] == [21]


def test_the_slowest_rank_is_the_process_measured_for_cpu():
    profile = analyse(job([(21, 0, 0.1, 0.01), (22, 1, 0.2, 0.05)], cores=0.9, thread=0.7))
    cpu = profile["cpu"]
    assert (cpu["measured_pid"], cpu["main_process_cores"], cpu["main_thread_busy"]) == (
        22,
        0.9,
        0.7,
    )


def test_a_rank_without_thread_samples_has_no_main_thread_figure():
    profile = analyse(job([(21, 0, 0.1, 0.01), (22, 1, 0.2, 0.05)], thread=None))
    assert profile["cpu"]["main_thread_busy"] is None
    assert profile["cpu"]["main_process_cores"] == 0.8
    assert profile["ranks"][1]["main_thread_busy"] is None


def test_the_window_is_the_steps_of_the_process_judged():
    profile = analyse(job([(21, 0, 0.1, 0.01), (22, 1, 0.2, 0.05)]))
    assert profile["window"]["start_s"] == 1.0
    assert profile["window"]["end_s"] == pytest.approx(1.0 + STEPS * 0.2, abs=1e-3)


def frames_of(seen: dict) -> dict | None:
    session = job([(LAUNCHER, None, 0.1, 0.01)])
    session.collector.feed(f"S {LAUNCHER} {json.dumps(seen)}")
    return analyse(session)["loop_body_samples"]


def test_the_sampled_lines_are_shares_of_the_loop_samples_five_at_most():
    user = [["train.py", 50 + i, "step", 40 - i] for i in range(7)]
    seen = {"samples": 200, "loop_samples": 80, "user": user, "leaf": [["x.py", 3, "f", 8]]}
    out = frames_of(seen)
    assert out is not None
    assert (out["samples"], out["loop_samples"]) == (200, 80)
    assert out["user"] == [
        {"file": "train.py", "line": 50 + i, "function": "step", "share": round((40 - i) / 80, 3)}
        for i in range(5)
    ]
    assert out["leaf"] == [{"file": "x.py", "line": 3, "function": "f", "share": 0.1}]


def test_malformed_sampled_rows_are_dropped_and_no_loop_samples_is_none():
    rows = [["a.py", 1, "f"], ["b.py", 2, "g", "9"], "c.py", ["d.py", 4, "h", 5]]
    out = frames_of({"loop_samples": 10, "user": rows})
    assert out == {
        "samples": 0,
        "loop_samples": 10,
        "user": [{"file": "d.py", "line": 4, "function": "h", "share": 0.5}],
        "leaf": [],
    }
    assert frames_of({"samples": 5, "loop_samples": 0, "user": rows}) is None
    assert analyse(job([(LAUNCHER, None, 0.1, 0.01)]))["loop_body_samples"] is None


def test_a_rank_s_wait_leaves_out_its_first_step_when_enough_remain():
    """The first batch waits 0.09 s of a 0.1 s step (start-up); the others 0.01 s."""
    (row,) = analyse(job([(21, 0, 0.1, 0.01)], first_wait=0.09))["ranks"]
    assert row["data_wait_fraction"] == pytest.approx(0.1, abs=1e-3)
    few = job([(21, 0, 0.1, 0.01)], first_wait=0.09)
    record = few.collector.processes[21].data
    overall = record.wait_s / record.time_s
    assert overall > 0.14  # with the first step in, the fraction would be this


def test_ranked_rows_come_first_in_rank_order_then_the_others_by_pid():
    session = job(
        [(33, None, 0.1, 0.01), (22, 1, 0.1, 0.01), (21, 0, 0.1, 0.01), (32, None, 0.1, 0.01)]
    )
    assert [(r["rank"], r["pid"]) for r in analyse(session)["ranks"]] == [
        (0, 21),
        (1, 22),
        (None, 32),
        (None, 33),
    ]


@pytest.mark.parametrize(("ratio", "together"), [(1.09, True), (1.11, False)])
def test_ranks_step_together_below_a_ten_percent_spread_only(ratio, together):
    rows = [
        {"pid": 1, "rank": 0, "steps": 20, "step_mean_s": 1.0, "data_wait_per_step_s": 0.01},
        {"pid": 2, "rank": 1, "steps": 20, "step_mean_s": ratio, "data_wait_per_step_s": 0.0},
    ]
    slowest = jobs.slowest(rows)
    assert slowest is not None
    assert slowest["pid"] == (1 if together else 2)  # the longer waiter, else the slower
