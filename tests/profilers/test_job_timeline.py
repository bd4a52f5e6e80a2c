"""A job of several ranks is shown as one rank's timeline, never the ranks' waits summed.

Built in process from event lines whose truth is exact: two ranks step in lock-step every
100 ms from t=1 s, rank 0 waiting 60 ms of each step for its batch and rank 1 waiting 50 ms,
while the launcher (the script's own process) only waits for them. Summed, the job would wait
110 % of the time; the slowest rank (rank 0: the one waiting longest) waits 60 %.
"""

from __future__ import annotations

import io
import json

import pytest

from dldoctor.profilers.analysis import analyse
from dldoctor.profilers.collector import Collector
from dldoctor.profilers.report import ProfileReport
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session
from dldoctor.report.profile_terminal import render
from dldoctor.report.terminal import Out
from tests.profilers.sessions import loader_event

LAUNCHER, RANKS = 100, {201: (0, 0.06, 0.4), 202: (1, 0.05, 0.9)}  # pid: rank, wait, cores
STEPS, STEP_S, T0 = 20, 0.1, 1.0


def _job() -> Session:
    col = Collector(origin=0.0)
    for pid, (rank, _, _) in RANKS.items():
        col.feed(f"R {pid} " + json.dumps({"rank": rank, "world_size": 2}))
        col.feed(loader_event(pid=pid))
    for i in range(STEPS + 1):
        t = T0 + i * STEP_S
        for pid, (_, wait, _) in RANKS.items():
            col.feed(f"D {pid} 1 {t:.4f} {t + wait:.4f} 1")
    for k in range(int((T0 + STEPS * STEP_S + 1.0) * 10)):
        t = (k + 0.5) / 10
        col.sample_cpu(t, {"main_cores": 0.02, "tree_cores": 1.3})  # the launcher, idle
        for pid, (_, _, cores) in RANKS.items():
            col.sample_process(pid, cores, None, t)
    result = RunResult(LAUNCHER, 0.0, T0 + STEPS * STEP_S + 1.0, 0)
    return Session(Target("train.py"), Options(), "2026-01-01T00:00:00+00:00", col, result)


def _inside_steps(profile: dict, series: str) -> list[float]:
    tl = profile["timeline"]
    width = tl["interval_s"]
    return [
        v
        for i, v in enumerate(tl[series])
        if i * width >= T0 and (i + 1) * width <= T0 + STEPS * STEP_S
    ]


def test_the_data_wait_timeline_is_the_slowest_ranks_not_the_ranks_summed():
    profile = analyse(_job())
    slowest = profile["slowest_rank"]
    assert slowest["rank"] == 0 and slowest["of"] == 2
    inside = _inside_steps(profile, "data_wait")
    assert len(inside) >= 10
    # Each point holds whole steps of rank 0: 60 ms of 100. Summed it would read 1.0 (110 %).
    assert inside == pytest.approx([0.6] * len(inside), abs=0.01)
    assert profile["timeline"]["pid"] == slowest["pid"] == 201
    # The headline beside it is the same rank's figure.
    assert profile["data_wait"]["fraction"] == pytest.approx(0.6, abs=0.01)


def test_the_main_cpu_timeline_is_the_ranks_not_the_idle_launchers_nor_a_sum():
    profile = analyse(_job())
    inside = _inside_steps(profile, "main_cores")
    assert inside == pytest.approx([0.4] * len(inside), abs=0.01)  # not 0.02, not 1.3


def test_each_rank_keeps_its_own_figures_in_the_table():
    profile = analyse(_job())
    rows = {r["rank"]: r for r in profile["ranks"]}
    assert rows[0]["data_wait_fraction"] == pytest.approx(0.6, abs=0.01)
    assert rows[1]["data_wait_fraction"] == pytest.approx(0.5, abs=0.01)


def test_the_terminal_says_whose_timeline_it_shows():
    profile = analyse(_job())
    report = ProfileReport("dldoctor profile", "2026-01-01T00:00:00+00:00", 1.0, profile)
    stream = io.StringIO()
    render(report, Out(stream, width=120))
    text = stream.getvalue()
    assert "data wait and main CPU of rank 0" in text
    assert "data wait  " in text and "60 %" in text.split("data wait  ", 1)[1].splitlines()[0]


def test_a_single_process_timeline_is_its_own_wait():
    col = Collector(origin=0.0)
    col.feed(loader_event())
    for i in range(STEPS + 1):
        t = T0 + i * STEP_S
        col.feed(f"D 100 1 {t:.4f} {t + 0.03:.4f} 1")
    for k in range(40):
        col.sample_cpu((k + 0.5) / 10, {"main_cores": 0.7})
    result = RunResult(LAUNCHER, 0.0, 4.0, 0)
    profile = analyse(Session(Target("t.py"), Options(), "2026-01-01T00:00:00+00:00", col, result))
    assert profile["timeline"]["pid"] == 100
    assert _inside_steps(profile, "data_wait") == pytest.approx([0.3] * 20, abs=0.01)
    assert _inside_steps(profile, "main_cores") == pytest.approx([0.7] * 20, abs=0.01)
