"""``--tune``: trials of other DataLoader settings, measured, the fastest one the fix."""

from __future__ import annotations

from typing import Any

from dldoctor.profilers import rules, tune
from tests.profilers.helpers import SCRIPTS, marked_line, profile
from tests.profilers.synthetic import loader, make

SCRIPT = str(SCRIPTS / "train_torch.py")


def test_tune_picks_the_setting_that_is_truly_fastest(tmp_path):
    """Each batch sleeps 40 ms (8 × 5 ms, no CPU) and a step computes little: the more workers
    sleep in parallel, the faster the loop, so the trial with the most workers must win."""
    result, report = profile(
        tmp_path, "--tune", "--steps", "30",
        SCRIPT, "--items", "2000", "--sleep-ms", "5", "--width", "64",
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tuned = report["profile"]["tune"]
    assert tuned["loader_site"][1] == marked_line("train_torch.py")
    trials = tuned["trials"]
    assert len(trials) >= 2
    for trial in trials:  # each trial ran the settings it names, the script's code unchanged
        assert trial["steps"] == 30
        assert trial["applied"][0]["num_workers"] == trial["settings"]["num_workers"]
    most = max(trials, key=lambda t: t["settings"]["num_workers"])
    assert tuned["best"] == most, trials
    assert most["step_s"] < tuned["baseline"]["step_s"]
    (finding,) = [f for f in report["findings"] if f["code"] == "DD714"]
    assert finding["fixes"][0]["summary"].startswith(
        f"set num_workers={most['settings']['num_workers']}, persistent_workers=True"
    )
    assert "--tune: trial with num_workers=" in result.stderr


def test_a_trial_slower_than_the_baseline_is_stopped_early_and_never_the_fix(tmp_path):
    """In a loader worker each item sleeps a known 8 s (a per-worker cost the loop itself
    does not pay): a batch of 8 takes 64 s in a worker, so even 16 workers make a step take
    4 s against the baseline's few ms, and 10 steps 40 s. Every trial must be stopped at its
    bound (1.5 times the baseline's pace, plus the script's start-up) before its 10 steps."""
    result, report = profile(
        tmp_path, "--tune", "--steps", "10",
        SCRIPT, "--items", "400", "--sleep-ms", "2", "--worker-sleep-ms", "8000", "--width", "64",
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tuned = report["profile"]["tune"]
    baseline = tuned["baseline"]
    assert baseline["steps"] == 10 and not baseline["stopped_early"]
    assert tuned["trials"]
    for trial in tuned["trials"]:
        assert trial["settings"]["num_workers"] >= 1
        assert trial["stopped_early"] is True and trial["steps"] < 10, trial
        assert trial["step_s"] is None or trial["step_s"] > baseline["step_s"]
    assert tuned["best"] is None
    assert "DD714" not in [f["code"] for f in report["findings"]]
    assert "(stopped: slower)" in result.stderr


def _ran(step_s: float, steps: int = 30, stopped: bool = False) -> dict[str, Any]:
    p = make(steps=steps, step_s=step_s, wait_s=step_s / 2)
    p["data_wait"]["first_steps"] = {"count": 0, "time_s": 0.0, "wait_s": 0.0}
    p["exit"]["stopped_by"] = "duration" if stopped else "steps"
    return p


def test_trials_are_bounded_and_the_best_must_beat_the_baseline_clearly():
    baseline = _ran(0.070)
    baseline["loaders"] = [loader(num_workers=0, persistent_workers=False)]
    seen: list[tuple[dict[str, str], int, float]] = []

    def trial(env: dict[str, str], n: int, duration_s: float) -> dict[str, Any]:
        seen.append((env, n, duration_s))
        return _ran(0.068 if len(seen) == 1 else 0.200, stopped=len(seen) > 1)

    tuned = tune.run(baseline, trial, steps=None)
    assert tuned is not None and 1 <= len(seen) <= tune.MAX_TRIALS
    assert all(n == tune.TRIAL_STEPS for _, n, _ in seen)
    # A trial runs at most 1.5 times the baseline's pace (plus the script's start-up).
    start = baseline["window"]["start_s"]
    assert seen[0][2] == start * 1.5 + 5.0 + 1.5 * 0.070 * (tune.TRIAL_STEPS + 2)
    assert tuned["best"] is None  # 68 ms against 70: under the 5 % a fix must gain
    assert not [f for f in rules.judge({**baseline, "tune": tuned}) if f.code == "DD714"]
    assert tuned["trials"][-1]["stopped_early"] is True or len(seen) == 1


def test_nothing_to_tune_without_a_waiting_torch_loader():
    p = make()
    p["loaders"] = []
    assert tune.run(p, lambda *a: make(), steps=10) is None
