"""``--tune``: re-run the script in short trials with candidate loader settings, measure each.

The candidates are for the training DataLoader the baseline found waiting (PyTorch), applied
through the same import hook (``DLDOCTOR_PROFILE_TRIAL``: the loader built at that line gets
the settings), so the user's code is never touched. Each trial runs ``--steps`` steps; one that
runs past 1.5 times the baseline's pace is stopped there. Trials are compared by their mean
step time without each pass's first step (worker start-up is reported apart).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Callable

from dldoctor.profilers import advice

JSON = dict[str, Any]
MAX_TRIALS = 4
TRIAL_STEPS = 40  # without --steps
SLOWER_STOP = 1.5  # a trial is stopped once it runs this much slower than the baseline
MIN_GAIN = 0.05  # a setting must be this much faster than the baseline to be the fix


def target_loader(profile: JSON) -> JSON | None:
    """The training PyTorch DataLoader that made the loop wait most, if it waits enough."""
    loaders = [
        ld
        for ld in profile["loaders"]
        if ld["in_main_process"]
        and ld["framework"] == "torch"
        and ld.get("phase") != "evaluation"
        and (ld.get("site") or {}).get("file")
        and ld["wait"]["count"]
    ]
    if not loaders or profile["verdict"]["class"] == "unknown":
        return None
    return max(loaders, key=lambda ld: ld["wait"]["total_s"] or 0.0)


def candidates(profile: JSON, loader: JSON) -> list[JSON]:
    """At most ``MAX_TRIALS`` settings to try: worker counts around the estimate (capped by
    this machine's cores when loading is CPU work), persistent workers, a deeper prefetch."""
    config = loader["config"]
    workers = int(config.get("num_workers") or 0)
    cores = max(1, math.floor(profile["cpu"]["cores_available"]))
    suggestion, _ = advice.suggested_workers(loader, profile)
    counts = [suggestion, 2 * workers or 2, cores]
    if advice._loading_is_cpu_work(loader, profile):
        counts = [min(c, max(1, cores - 1)) for c in counts if c]
    gpu = profile["gpu"]["measured"]
    found: list[JSON] = []
    for count in sorted({c for c in counts if c and c != workers}):
        settings: JSON = {"num_workers": count, "persistent_workers": True}
        if gpu:
            settings["pin_memory"] = True
        found.append(settings)
    if workers and config.get("persistent_workers") is False:
        found.append({"persistent_workers": True})
    if workers and (config.get("prefetch_factor") or 2) < 4:
        found.append({"prefetch_factor": 4, "persistent_workers": True})
    return found[:MAX_TRIALS]


def pace_s(profile: JSON) -> float | None:
    """Mean step time without each pass's first step (all steps when too few remain)."""
    steps, first = profile["steps"], profile["data_wait"]["first_steps"]
    count, time_s = steps["count"] - first["count"], steps["time_s"] - first["time_s"]
    if count <= 0:
        count, time_s = steps["count"], steps["time_s"]
    return time_s / count if count > 0 else None


def summary(profile: JSON, settings: JSON | None) -> JSON:
    pace = pace_s(profile)
    loaders = [ld for ld in profile["loaders"] if ld["in_main_process"] and ld["batches"]]
    return {
        "settings": settings,
        "steps": profile["steps"]["count"],
        "step_s": None if pace is None else round(pace, 6),
        "data_wait": profile["data_wait"]["steady_fraction"] or profile["data_wait"]["fraction"],
        "applied": [ld["config"] for ld in loaders][:2],
        "stopped_early": profile["exit"].get("stopped_by") == "duration",
    }


def run(
    profile: JSON, trial: Callable[[dict[str, str], int, float], JSON], steps: int | None
) -> JSON | None:
    """Run the trials (``trial(env, steps, duration_s)`` profiles the script once) and say
    which setting is fastest. None when there is no loader to tune."""
    loader = target_loader(profile)
    base_pace = pace_s(profile)
    if loader is None or base_pace is None:
        return None
    n = steps or TRIAL_STEPS
    site = [loader["site"]["file"], loader["site"]["line"]]
    start_s = float(profile["window"]["start_s"])  # the script's own start-up
    duration_s = start_s * SLOWER_STOP + 5.0 + SLOWER_STOP * base_pace * (n + 2)
    trials = []
    for settings in candidates(profile, loader):
        env = {"DLDOCTOR_PROFILE_TRIAL": json.dumps({"site": site, "settings": settings})}
        trials.append(summary(trial(env, n, duration_s), settings))
    baseline = summary(profile, None)
    measured = [t for t in trials if t["step_s"] is not None and t["steps"] >= 2]
    best = min(measured, key=lambda t: t["step_s"], default=None)
    if best is not None and best["step_s"] > base_pace * (1 - MIN_GAIN):
        best = None
    return {
        "loader_site": site,
        "trial_steps": n,
        "baseline": baseline,
        "trials": trials,
        "best": best,
    }


def with_env(options: Any, env: dict[str, str], steps: int, duration_s: float) -> Any:
    """The session options of one trial: its steps, its time limit, its settings, no trace."""
    return dataclasses.replace(
        options,
        steps=steps,
        duration_s=duration_s,
        trace_path=None,
        env=tuple(env.items()),
        quiet=True,
    )
