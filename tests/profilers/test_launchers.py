"""Multi-process launchers: every rank measured, the slow one named, one verdict for the job.

Real torchrun, ``torch.multiprocessing.spawn`` and fork-started ``multiprocessing`` ranks (gloo,
CPU). One rank's dataset sleeps a known 20 ms per batch, the other's not at all; each rank
writes its own truth. Which rank is slow changes between tests, so naming it can't be luck.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.profilers.helpers import SCRIPTS, TOLERANCE, codes, marked_line, profile

SCRIPT = str(SCRIPTS / "train_ddp.py")


def _truths(directory: Path) -> dict[int, dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in sorted(directory.glob("rank*.json"))]
    return {t["pid"]: t for t in found}


def _check_job(report: dict[str, Any], truths: dict[int, dict[str, Any]], slow: int) -> None:
    p = report["profile"]
    ranks = {r["pid"]: r for r in p["ranks"]}
    assert set(ranks) == set(truths) and len(ranks) == 2, (p["ranks"], truths)
    assert sorted(r["rank"] for r in ranks.values()) == [0, 1]
    for pid, true in truths.items():
        assert ranks[pid]["steps"] == true["steps"]
        measured = ranks[pid]["data_wait_fraction"]
        assert abs(measured - true["fraction"]) <= TOLERANCE, (pid, ranks[pid], true)
    slow_pid = next(pid for pid, r in ranks.items() if r["rank"] == slow)
    assert p["slowest_rank"]["pid"] == slow_pid and p["slowest_rank"]["rank"] == slow
    # The headline is the slow rank's, measured in that rank, not in the launcher.
    assert p["steps"]["pid"] == slow_pid
    assert p["verdict"]["class"] == "input-bound"
    assert p["verdict"]["reason"].startswith(f"rank {slow}, the slowest of 2")
    fix = next(f for f in report["findings"] if f["code"] == "DD701")["fixes"][0]
    assert f"train_ddp.py:{marked_line('train_ddp.py')}" in fix["notes"]
    (slow_loader,) = [ld for ld in p["loaders"] if ld["in_main_process"]]
    assert slow_loader["pid"] == slow_pid
    assert "DD709" not in codes(report)


def test_torchrun_measures_each_rank_and_names_the_slow_one(tmp_path):
    result, report = profile(
        tmp_path, "-m", "torch.distributed.run", "--nproc_per_node", "2", SCRIPT,
        "--slow-rank", "0", "--truth", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _check_job(report, _truths(tmp_path), slow=0)
    assert "rank 0, the slowest of 2" in result.stderr and "◀ slowest" in result.stderr
    launcher = report["profile"]["target"]
    assert launcher["kind"] == "module" and launcher["name"] == "torch.distributed.run"


def test_mp_spawn_ranks_are_measured(tmp_path):
    result, report = profile(
        tmp_path, SCRIPT, "--launcher", "spawn", "--slow-rank", "1", "--truth", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    _check_job(report, _truths(tmp_path), slow=1)


def test_fork_started_ranks_are_counted_per_rank_not_the_idle_launcher(tmp_path):
    result, report = profile(
        tmp_path, SCRIPT, "--launcher", "fork", "--slow-rank", "1", "--truth", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    truths = _truths(tmp_path)
    _check_job(report, truths, slow=1)
    p = report["profile"]
    # CPU figures are the slow rank's own, not those of the script's process waiting in join().
    assert p["cpu"]["measured_pid"] == p["steps"]["pid"] in truths
    assert len(p["processes"]) == 3  # the launcher is seen, and steps nothing


def test_steps_window_under_torchrun_stops_every_rank_at_the_same_step(tmp_path):
    """``--steps 12`` on a 40-step job: each rank stops itself after its 12th step (in
    lock-step, so no rank is left inside an all-reduce), torchrun sees both exit 0, and the job
    is judged on the rank whose batches sleep a known 20 ms."""
    sleep_s = 0.020
    result, report = profile(
        tmp_path, "--steps", "12", "-m", "torch.distributed.run", "--nproc_per_node", "2",
        SCRIPT, "--steps", "40", "--slow-rank", "1", "--sleep-ms", str(sleep_s * 1e3),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    p = report["profile"]
    assert p["exit"]["stopped_by"] == "steps" and p["exit"]["status"] == "stopped"
    ranks = {r["rank"]: r for r in p["ranks"]}
    assert sorted(ranks) == [0, 1] and [ranks[0]["steps"], ranks[1]["steps"]] == [12, 12]
    assert p["slowest_rank"]["rank"] == 1 and p["steps"]["pid"] == ranks[1]["pid"]
    # time.sleep never returns early: the slow rank waits at least its sleep per step; the
    # other waits for the all-reduce (in backward), not for its own data.
    assert ranks[1]["data_wait_per_step_s"] >= sleep_s * 0.95
    assert ranks[0]["data_wait_per_step_s"] < ranks[1]["data_wait_per_step_s"] / 2
    assert p["timeline"]["pid"] == ranks[1]["pid"]  # the slow rank's timeline, not a sum
    assert p["verdict"]["class"] == "input-bound"
